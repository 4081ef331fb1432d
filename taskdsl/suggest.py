"""The two helpers every message that names a choice uses, for the front end and the backends.

``suggest`` offers the nearest of some names ("did you mean `x`?") and ``listed``
lists names as messages quote them; both live here, once, so that a typo is
answered the same way by ``taskdsl check``, by a backend's check and by a run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """``did you mean `x`?`` for the nearest candidate, if one is near."""
    close = difflib.get_close_matches(str(name), sorted({str(c) for c in candidates}), n=1,
                                      cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def listed(names: Iterable[object], *, sort: bool = False) -> str:
    """```a`, `b``` as messages list names, in the order given unless ``sort`` (``none`` for
    no names, so a message never ends in an empty list)."""
    shown = [str(n) for n in names]
    if sort:
        shown.sort()
    return ", ".join(f"`{n}`" for n in shown) if shown else "none"
