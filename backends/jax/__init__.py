"""The JAX backend: lowers the IR to one jitted train step (Flax NNX, Optax).

The front end finds it through the entry point ``taskdsl.backends`` (see
``pyproject.toml``) as :data:`BACKEND`.  Importing this package imports no
JAX: the commands import it when they run, and :meth:`JaxBackend.check`
loads the checks only when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskdsl.diagnostics import Diagnostic
    from taskdsl.ir import Program

# The distributions the backend cannot run without, by import name.
REQUIRED = ("jax", "flax", "optax")
NOT_INSTALLED = "{names} not installed (pip install 'taskdsl[jax]')"


@dataclass(frozen=True)
class JaxBackend:
    """The JAX backend as the front end sees it (:class:`taskdsl.backend.Backend`)."""

    name: str = "jax"
    commands: tuple[str, ...] = (
        f"{__name__}.commands.train",
        f"{__name__}.commands.compile",
        f"{__name__}.commands.evaluate",
        f"{__name__}.commands.data",
        f"{__name__}.commands.report",
        f"{__name__}.commands.predict",
    )

    def missing(self) -> str | None:
        """Why the backend cannot run here: a framework it needs is not installed."""
        absent = [name for name in REQUIRED if find_spec(name) is None]
        if not absent:
            return None
        names = ", ".join(absent)
        return NOT_INSTALLED.format(names=f"{names} {'is' if len(absent) == 1 else 'are'}")

    def check(self, program: Program, overrides: Sequence[str] = ()) -> list[Diagnostic]:
        """The backend's checks of ``impl`` lines, data bindings and train settings."""
        try:
            from .check import check_program
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.check":
                raise
            return []  # a backend without checks of its own yet
        return check_program(program, overrides)


BACKEND = JaxBackend()
