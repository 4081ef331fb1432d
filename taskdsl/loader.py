"""Loading files: reading, imports (with cycle detection) and the public entry points.

``import NAME from stdlib`` reads ``stdlib/NAME.task`` shipped in the package;
``import NAME from "folder"`` reads ``folder/NAME.task`` relative to the
importing file; ``import NAME`` reads ``NAME.task`` beside it.  Every
top-level name of an imported file becomes visible in the importer.  Texts
recorded for imported files (``check_text(..., imported=...)``, by resolved
absolute path, as a trained run's config.json holds them) are used instead of
the disk, so a run reloads as trained wherever it is and whatever changed since.

The entry points (:func:`check_file`, :func:`check_text`, :func:`load`) can also
run the installed backends' checks (``backends=True``), as ``taskdsl check``
does, so that a library user and the command line report the same findings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from taskdsl import syntax as ast
from taskdsl.collector import collector_paused
from taskdsl.diagnostics import Diagnostic, Diagnostics, TaskError, position
from taskdsl.elaborate import ModuleElaborator, to_python
from taskdsl.ir import Program
from taskdsl.lints import lint
from taskdsl.parser import parse, parse_value
from taskdsl.scope import Scope
from taskdsl.source import SET_FILE, Source, set_source

if TYPE_CHECKING:  # the backends' module is imported when they are asked (a tenth of the
    from taskdsl.backend import Backend  # start-up time goes to finding them)


def stdlib_dir() -> Path:
    return Path(str(resources.files("taskdsl.stdlib")))


def stdlib_names() -> list[str]:
    return sorted(p.stem for p in stdlib_dir().glob("*.task"))


@dataclass
class Result:
    """What checking a file found: its program (even with errors) and every diagnostic.

    ``unchecked`` holds a note for each group of checks that no backend could make
    (empty unless the backends were asked to check).
    """

    program: Program
    diagnostics: list[Diagnostic]
    sources: dict[str, Source]
    unchecked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    def render(self) -> str:
        return "\n\n".join(d.render(self.sources) for d in self.diagnostics)


@dataclass
class Loader:
    """Loads a file and its imports once each, sharing one diagnostics list."""

    diags: Diagnostics = field(default_factory=Diagnostics)
    sources: dict[str, Source] = field(default_factory=dict)
    scopes: dict[str, Scope] = field(default_factory=dict)
    stack: list[str] = field(default_factory=list)
    # Texts recorded for imported files, by resolved absolute path (a trained run's
    # config.json): read instead of the disk, so that a run reloads exactly as trained.
    recorded: Mapping[str, str] = field(default_factory=dict)

    def load_text(self, text: str, path: str) -> tuple[Program, Scope]:
        # The collector paused throughout: what the front end allocates all stays alive, and
        # collections between its passes (lints included) only walk it, at a growing cost.
        with collector_paused():
            return self._load_text(text, path)

    def _load_text(self, text: str, path: str) -> tuple[Program, Scope]:
        self.sources[path] = Source(path, text)
        module = parse(text, path, self.diags) if not self.stack else _parse_import(text, path,
                                                                                   self.diags)
        self.stack.append(path)
        try:
            scope = Scope()
            for node in module.statements:
                if isinstance(node, ast.Import):
                    self._import(node, path, scope)
            elaborator = ModuleElaborator(path, self.diags)
            elaborator.run(module, scope)
        finally:
            self.stack.pop()
        self.scopes[path] = scope
        program = elaborator.program(scope)
        if not self.stack and not self.diags.errors:  # the file checked, not an import
            imported = {n for p, s in self.scopes.items() if p != path for n in s.tasks}
            self.diags.extend(lint(program, module, self.sources[path], imported))
        return program, scope

    def _import(self, node: ast.Import, importer: str, scope: Scope) -> None:
        if node.module == "stdlib" and not node.module_is_path:
            target = stdlib_dir() / f"{node.name}.task"
        else:
            folder = Path(importer).parent
            if node.module is not None:
                folder = folder / node.module
            target = folder / f"{node.name}.task"
        key = _display(target)
        if key in self.stack:
            cycle = " -> ".join([*self.stack[self.stack.index(key):], key])
            self.diags.error("import-cycle", node.span, cycle=cycle)
            return
        if key not in self.scopes:
            text = self._recorded(target)
            try:
                text = target.read_text(encoding="utf-8") if text is None else text
            except FileNotFoundError:
                names = stdlib_names()
                from_stdlib = node.module == "stdlib" and not node.module_is_path
                self.diags.error("import-missing", node.span, name=node.name, looked=key,
                                 available=", ".join(names) or None
                                 if from_stdlib or node.name in names else None)
                return
            except (OSError, ValueError) as error:  # ValueError: not UTF-8, or a NUL in the path
                self.diags.error("import-unreadable", node.span, path=_printable(key),
                                 reason=_reason(error))
                return
            self.load_text(text, key)
        imported = self.scopes[key]
        for name, span in imported.first_seen.items():
            # The same definition reached twice (a diamond of imports) is no duplicate.
            if name in scope.first_seen and scope.first_seen[name] != span:
                self.diags.error("duplicate", node.span, name=name, first=str(scope.first_seen[name]))
            scope.first_seen[name] = span
        scope.aliases.update(imported.aliases)
        scope.boxes.update(imported.boxes)
        scope.templates.update(imported.templates)
        scope.refined.update(imported.refined)
        scope.defs.update(imported.defs)
        scope.refines.update(imported.refines)
        scope.patterns.update(imported.patterns)
        scope.tasks.update(imported.tasks)
        scope.objectives.update(imported.objectives)

    def _recorded(self, target: Path) -> str | None:
        """The recorded text of ``target``, if any: keyed by its resolved absolute path."""
        if not self.recorded:
            return None
        try:
            return self.recorded.get(str(target.resolve()))
        except (OSError, ValueError):  # a NUL byte, or a loop of links: read as usual
            return None


# Imported files parsed before, by path and text: an editor re-checks the file being
# edited at each change, and its imports (the stdlib's above all) are the same each time.
# Syntax trees are immutable, so one can serve every check; only clean parses are kept.
_PARSED: OrderedDict[tuple[str, str], ast.Module] = OrderedDict()
PARSED_KEPT = 64


_PARSED_LOCK = threading.Lock()  # the language server checks in threads too


def _parse_import(text: str, path: str, diags: Diagnostics) -> ast.Module:
    """``parse``, from :data:`_PARSED` when this text was parsed as this path before."""
    key = (path, text)
    with _PARSED_LOCK:
        module = _PARSED.get(key)
        if module is not None:
            _PARSED.move_to_end(key)
            return module
    found = sum(diags.counts.values())  # counted even past the limit, unlike items
    module = parse(text, path, diags)
    if sum(diags.counts.values()) == found:
        with _PARSED_LOCK:
            _PARSED[key] = module
            if len(_PARSED) > PARSED_KEPT:
                _PARSED.popitem(last=False)
    return module


def _display(path: Path) -> str:
    """A path as messages show it: relative to the working directory when inside it."""
    try:
        resolved = path.resolve()
    except (OSError, ValueError):  # a path no system call takes (a NUL byte), or a loop
        return str(path)
    try:
        return str(resolved.relative_to(Path.cwd()))
    except (OSError, ValueError):
        return str(resolved)


def _printable(text: str) -> str:
    """``text`` with the characters a terminal would not show (a NUL) written as escapes."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


# What `backends` may be: False (none), True (the installed ones), or the backends to ask.
Backends: TypeAlias = "bool | Iterable[Backend]"


def check_text(text: str, path: str = "<input>", *, backends: Backends = False,
               overrides: Sequence[str] = (), imported: Mapping[str, str] | None = None
               ) -> Result:
    """Parse, elaborate and check ``text``; never raises on bad input.

    With ``backends``, a program the front end found no error in is also checked by
    the backends (with ``--set`` ``overrides``), and their findings merged in.
    ``imported`` maps resolved absolute paths to the texts to use for the files imported
    from there (:func:`import_texts`), instead of what is on disk.
    """
    loader = Loader(recorded=imported or {})
    program, _ = loader.load_text(text, path)
    result = Result(program, list(loader.diags), loader.sources)
    return with_backends(result, backends, overrides)


def import_texts(text: str, path: str) -> dict[str, str]:
    """The text of every file that ``text`` (read as ``path``) imports, transitively (the
    standard library's included), by resolved absolute path: what a trained run records,
    so that :func:`check_text` with ``imported`` reloads it as trained from anywhere."""
    loader = Loader()
    loader.load_text(text, path)
    return {str(Path(p).resolve()): source.text for p, source in loader.sources.items()
            if p != path}


def check_file(path: str | Path, *, backends: Backends = False,
               overrides: Sequence[str] = ()) -> Result:
    """Read and check a file; an unreadable file is a diagnostic, not an exception.

    ``backends`` and ``overrides`` as for :func:`check_text`.
    """
    shown = _display(Path(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError) as error:  # ValueError: not UTF-8, or a NUL in the path
        diags = Diagnostics()
        diags.error("import-unreadable", None, path=_printable(shown), reason=_reason(error))
        empty = check_text("", shown)
        return Result(empty.program, list(diags), {})
    return check_text(text, shown, backends=backends, overrides=overrides)


def with_backends(result: Result, backends: Backends = True,
                  overrides: Sequence[str] = ()) -> Result:
    """``result`` with the backends' findings merged in, in position order.

    Only a program without front-end errors goes to the backends: a broken one
    would only make them report what follows from the errors.  With ``overrides``,
    the sources gain the ``--set`` pseudo-file, so a finding there quotes its override.
    """
    if backends is False or not result.ok:
        return result
    from taskdsl.backend import run_checks
    report = run_checks(result.program, overrides, None if backends is True else backends)
    diagnostics = sorted([*result.diagnostics, *report.diagnostics], key=position)
    sources = {**result.sources, SET_FILE: set_source(tuple(overrides))} if overrides else result.sources
    return Result(result.program, diagnostics, sources, [*result.unchecked, *report.unchecked])


def _reason(error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a folder"
    if isinstance(error, UnicodeDecodeError):
        data = error.object
        line = data.count(b"\n", 0, error.start) + 1 if isinstance(data, bytes) else None
        return (f"it is not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start}"
                f" (line {line})") if line is not None else "it is not UTF-8 text"
    if isinstance(error, ValueError) and "null" in str(error):
        return "the path holds a NUL character"
    return getattr(error, "strerror", None) or str(error)


def load(path: str | Path, *, backends: Backends = False, overrides: Sequence[str] = ()) -> Program:
    """The program in ``path``; raises :class:`TaskError` with every diagnostic if it has errors.

    ``backends`` and ``overrides`` as for :func:`check_text`.
    """
    result = check_file(path, backends=backends, overrides=overrides)
    if not result.ok:
        raise TaskError([d for d in result.diagnostics if d.severity == "error"], result.sources)
    return result.program


def config_value(text: str, origin: str = SET_FILE) -> Any:
    """A configuration value written as text (``--set KEY=VALUE``), as the IR holds one
    written in a file: the grammar's own ``value`` rule reads it, so the two agree.

    Raises :class:`taskdsl.parser.SyntaxErrors` (with located diagnostics) when the text
    is not a value.
    """
    return to_python(parse_value(text, origin))
