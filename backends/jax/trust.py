"""Which Python code a ``.task`` file may make taskdsl import: the trust boundary.

An ``impl`` line names a net by a dotted path (``impl f = mypkg.models.MyNet()``),
and resolving it imports that module, which runs its code.  So a file from
anyone must not be able to name any module it likes, and a module must never be
picked up from the current folder by accident (a ``torch.py`` or ``mypkg/``
next to the task file).  A module is imported only when it is

- **part of taskdsl** (``taskdsl.*``, which holds the backends: ``taskdsl.backends.*``);
- **a net an installed package declares**: an entry point of the group
  ``taskdsl.nets`` (``[project.entry-points."taskdsl.nets"] mynet = "mypkg.nets:MyNet"``
  makes ``impl f = nets.mynet()`` work, and trusts the module ``mypkg.nets``);
- **allowed by the user**, by top-level package or module (``mypkg`` allows
  ``mypkg`` and ``mypkg.*``): ``--allow-import mypkg`` on ``check``, ``train``,
  ``eval`` or ``compile``; the ``TASKDSL_ALLOW_IMPORT`` environment variable
  (names separated by commas); or ``allow_import = ["mypkg"]`` in the user's
  config file, ``config.toml`` in platformdirs' user config folder
  (``~/.config/taskdsl/config.toml`` on Linux).  ``--allow-import`` adds to the
  environment variable for the command's own process, so every check and
  resolution in it (and a ``load(...)``'s run) sees it.

Anything else is the problem ``net-import-not-allowed``, located at the ``impl``
line by ``taskdsl check`` and raised by the resolution itself
(``nets.registry``), so the two cannot disagree.  Even an allowed module is
imported without the implicit current-folder entry of ``sys.path`` (``''``, or
the working folder itself unless ``PYTHONPATH`` names it): a package of your
own is found when it is installed or on ``PYTHONPATH``.  A module already
imported is used as it is.

``examples.*`` is not trusted: the examples are ``.task`` files and hold no nets.
This module imports no JAX, so it can be used (and tested) anywhere.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import platformdirs

from .messages import Problem, problem

__all__ = ["ENV", "GROUP", "Policy", "allow", "config_file", "current", "guarded_import",
           "imports", "net_entry_points", "refusals"]

ENV = "TASKDSL_ALLOW_IMPORT"
"""The environment variable of allowed modules, comma-separated."""

GROUP = "taskdsl.nets"
"""The entry-point group through which an installed package declares nets."""

BUILTIN = ("taskdsl",)
"""The modules taskdsl ships: always trusted."""


def config_file() -> Path:
    """The user's config file, whose ``allow_import`` lists allowed modules."""
    return Path(platformdirs.user_config_dir("taskdsl", appauthor=False)) / "config.toml"


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(os.pathsep, ",").split(",") if part.strip()]


def _configured() -> tuple[list[str], str | None]:
    """The config file's ``allow_import`` list, and why it could not be read (or ``None``)."""
    path = config_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return [], f"{path}: {error}"
    listed = data.get("allow_import", [])
    if not (isinstance(listed, list) and all(isinstance(n, str) for n in listed)):
        return [], f"{path}: `allow_import` must be a list of module names"
    return [n.strip() for n in listed if n.strip()], None


def net_entry_points() -> dict[str, str]:
    """The nets installed packages declare: entry-point name -> ``module:attr``."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


@dataclass(frozen=True)
class Policy:
    """The modules that may be imported: ``allowed`` by the user, and ``declared`` by
    installed packages' entry points (with ``taskdsl`` itself, always)."""

    allowed: tuple[str, ...] = ()
    declared: tuple[str, ...] = ()
    config_problem: str | None = None

    def permits(self, module: str) -> bool:
        """Whether ``module`` (dotted) is, or is inside, a trusted one."""
        return any(module == root or module.startswith(root + ".")
                   for root in (*BUILTIN, *self.declared, *self.allowed))

    def refusal(self, path: str) -> Problem | None:
        """The problem with importing the net ``path`` (``pkg.module.Class``), if any."""
        module = (path.partition(":")[0] if ":" in path  # a function, `mypkg.fns:edge`
                  else path.rpartition(".")[0] or path)
        if self.permits(module):
            return None
        top = module.partition(".")[0]
        if ":" in path:  # a user's own divergence or fixed function, named as it was
            return problem("user-function-not-allowed", role="function", path=path,
                           module=module, top=top, env=ENV, config=config_file())
        return problem("net-import-not-allowed", path=path, module=module, top=top,
                       env=ENV, config=config_file(), group=GROUP,
                       reason=self.config_problem or "")


def imports(impls: Mapping[str, object], builtin: Collection[str],
            functions: Iterable[str] = ()) -> list[str]:
    """The dotted net paths ``impls`` name (``impl`` values: calls or names), but the
    ``builtin`` nets and ``load(...)``: what resolving them would import, with the user's
    ``functions`` (``module.path:function``: own divergences and fixed functions, see
    ``queries.user_function_paths``).  What a run folder's config.json records as its
    imports."""
    found = []
    for impl in impls.values():
        name = getattr(impl, "name", impl)
        if not isinstance(name, str) or name == "load":
            continue
        short = name.removeprefix("nets.")
        if ("." in short or ":" in short) and short not in builtin:
            found.append(short)
    return sorted({*found, *functions})


def refusals(paths: Iterable[str]) -> list[Problem]:
    """The problem with each of ``paths`` (dotted net paths) that the policy now refuses."""
    policy = current()
    return [p for p in (policy.refusal(path) for path in paths) if p is not None]


def current(extra: Iterable[str] = ()) -> Policy:
    """The policy now: ``extra``, the environment variable and the config file's list, and
    the modules of the installed ``taskdsl.nets`` entry points."""
    configured, why = _configured()
    allowed = [*extra, *_split(os.environ.get(ENV, "")), *configured]
    declared = [value.partition(":")[0].strip() for value in net_entry_points().values()]
    return Policy(tuple(dict.fromkeys(allowed)), tuple(dict.fromkeys(declared)), why)


def allow(modules: Sequence[str]) -> None:
    """Allow ``modules`` for the rest of this process (and the processes it starts): what
    ``--allow-import`` does, by adding them to the environment variable."""
    if modules:
        names = [*_split(os.environ.get(ENV, "")), *(n for m in modules for n in _split(m))]
        os.environ[ENV] = ",".join(dict.fromkeys(names))


@contextmanager
def _without_current_folder() -> Iterator[None]:
    """``sys.path`` without its implicit current-folder entries, for one import."""
    explicit = {str(Path(p).resolve()) for p in _split(os.environ.get("PYTHONPATH", ""))}
    here = str(Path.cwd().resolve())
    saved = list(sys.path)
    sys.path[:] = [p for p in saved
                   if p != "" and not (str(Path(p).resolve()) == here and here not in explicit)]
    try:
        yield
    finally:
        sys.path[:] = saved


def guarded_import(module: str) -> ModuleType:
    """``import_module(module)``, not from the current folder (see the module doc).  The
    caller has checked the policy; anything the import raises is the caller's to report."""
    if module in sys.modules:
        return sys.modules[module]
    with _without_current_folder():
        return import_module(module)
