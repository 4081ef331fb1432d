"""The one place the JAX commands turn a problem into a message and an exit code.

``taskdsl train``, ``compile``, ``eval``, ``manipulate`` and ``demo`` run their
work through :func:`guarded`: a :class:`~taskdsl.backends.jax.errors.BackendError`
prints as a front-end diagnostic (``error[CODE]: ...``, located and quoted when
it has a span) and returns its own exit code; a program with errors prints its
diagnostics; a data set that cannot be loaded, an output that cannot be written
and Ctrl-C each get their message and code.  Never a traceback for what the
user can fix, and no command keeps its own list of exception types.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from taskdsl.diagnostics import Diagnostic, TaskError

from ..errors import INTERRUPTED, PROGRAM, BackendError
from ..messages import error_words, note

if TYPE_CHECKING:
    from taskdsl.source import Source


def guarded(body: Callable[[], int], *, sources: Mapping[str, Source] | None = None,
            output: str | None = None, interrupted: str | None = None) -> int:
    """``body()``'s exit code, or the code of the problem it raised, which is printed.

    ``sources`` are the texts a located error quotes; ``output`` names what a failed
    write was writing when the error does not say (an ``OSError`` without a file name);
    ``interrupted`` is what Ctrl-C leaves behind, in the command's words.
    """
    try:
        return body()
    except BackendError as error:
        return report(error.diagnostic(), error.exit_code, sources)
    except TaskError as error:
        print(error, file=sys.stderr)
        return PROGRAM
    except KeyboardInterrupt:
        print(interrupted or note("aborted"), file=sys.stderr)
        return INTERRUPTED
    except OSError as error:
        path = error.filename if error.filename is not None else output
        words = error_words("output-unwritable", path=path, reason=error.strerror or error)
        return report(Diagnostic("output-unwritable", words.message, None), words.exit_code,
                      sources)


def report(diagnostic: Diagnostic, exit_code: int,
           sources: Mapping[str, Source] | None) -> int:
    """Print ``diagnostic`` as ``taskdsl check`` prints its findings; return ``exit_code``."""
    print(diagnostic.render(dict(sources or {})), file=sys.stderr)
    return exit_code
