"""``taskdsl lsp``: a language server (stdio) so editors show what ``taskdsl check`` says, as you type.

It speaks the Language Server Protocol through ``pygls`` (the optional extra
``taskdsl[lsp]``) and answers from the front end alone, so it never imports a
framework: diagnostics on open and change (the checker's, with their codes),
and on save the backends' checks too (``impl`` lines, data, ``train``
settings), since those are slower; hover (a name's declaration and its wires'
types, a builtin's doc); go to definition (across imports and into the
stdlib, where the loader found each name); completion; and whole-document
formatting through :mod:`taskdsl.fmt`.

The work is split so that all but the wiring is plain Python over text
(:func:`analyse`, :func:`hover_text`, :func:`definition`, :func:`completions`,
:func:`formatted`); :func:`build_server` only connects it to the protocol.
Positions: taskdsl counts lines and columns from 1 in characters, LSP from 0 in
the client's units (UTF-16 by default); :class:`Lines` converts both ways.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace.position_codec import PositionCodec

from taskdsl import __version__, fmt
from taskdsl.builtins import ALL_DIVERGENCES, BUILTINS, DISTRIBUTIONS, DIVERGENCES, STRUCTURAL
from taskdsl.diagnostics import Diagnostic
from taskdsl.ir import Equation, Program
from taskdsl.loader import Loader, Result, stdlib_dir, with_backends
from taskdsl.scope import Scope
from taskdsl.source import Span

__all__ = ["Analysis", "analyse", "build_server", "completions", "definition", "formatted",
           "hover_text", "main"]

log = logging.getLogger(__name__)

# ------------------------------------------------------------ words shown to users
SERVER_NAME = "taskdsl"
SOURCE = "taskdsl"  # the `source` of every diagnostic, as editors label them
OTHER_FILE = "in {place}: {message}"
WIRE_OF = "a wire of task `{task}`"
DECLARED_AT = "declared at `{place}`"
IMPORT_READS = "reads `{path}`"
STRUCTURAL_DOC = {
    "id": "the identity: passes its wire through",
    "copy": "one wire to two equal wires: copy[T]",
    "discard": "drops a wire: discard[T]",
    "swap": "exchanges two wires: swap[A, B]",
}
KEYWORDS = ("import", "from", "type", "learner", "fixed", "data", "random", "const", "def",
            "refine", "task", "let", "trains", "by", "objective", "pattern", "use", "as", "impl",
            "train", "true", "false", "claim")
KIND_DOC = {
    "Real": "real numbers of any shape: Real[28, 28, 1]",
    "Class": "one of n classes (a distribution over them): Class[10]",
    "Binary": "independent yes/no values of any shape: Binary[40], Binary[28, 28, 1]",
    "Gaussian": "a diagonal Gaussian (mean and log-variance) over d numbers: Gaussian[16]",
    "Tokens": "a sequence of l words from a vocabulary of v: Tokens[v, l]",
}
TYPES = tuple(KIND_DOC)
# A `train` block's settings (docs/language.md, "Training"): the front end cannot ask a
# backend for them without importing it, so they are listed here, with their meaning.
SETTINGS = {
    "batch": "examples per draw (default 64)",
    "steps": "optimiser steps (default 1000)",
    "optimizer": "adam(lr, b1, b2, eps), adamw(..., weight_decay) or sgd(lr, momentum, nesterov)",
    "seed": "the seed of initialisation, data order and random boxes (default 0)",
    "log_every": "steps between metric lines (default 50)",
    "checkpoint_every": "steps between checkpoints (default auto: every 200 steps, at most one every 30 s)",
    "keep": "checkpoints kept on disk (default 3)",
    "schedule": "`simultaneous` or `alternate(LEARNER: STEPS, ...)`",
    "data": "a data binding: data SOURCE = datasets.NAME(options)",
    "tensorboard": "TensorBoard event files in RUN_DIR/tb: `true` (default) or `false`",
    "eval_every": "steps between held-out evaluations of every task (default 0: never)",
    "keep_best": 'keep the best checkpoint by this metric, e.g. "eval/total"',
    "keep_best_mode": '`"min"` (default: lower is better) or `"max"`',
    "patience": "stop after this many evaluations without improvement (default 0: never)",
    "clip": "each learner's largest gradient norm, e.g. clip 1.0",
    "weights": "task weights, e.g. weights each(kl: 0.5)",
    "steps_per_call": "steps per jitted call: `auto` (default, from the step's time) or a number",
    "memory_check": "refuse a run that would not fit in memory: `true` (default) or `false`",
    "precision": "`float32` (default) or `bfloat16` compute (float32 parameters)",
    "matmul_precision": "matrix products' precision: `default`, `high` or `highest`",
}
NETS = ("nets.mlp", "nets.cnn", "nets.conv_encoder", "nets.conv_decoder", "nets.unet",
        "nets.text_encoder", "nets.text_decoder", "nets.text_editor", "load")
DATASETS = ("datasets.mnist", "datasets.digits", "datasets.sprites", "datasets.sentiment",
            "datasets.npz", "datasets.images", "datasets.csv")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_IMPORT = re.compile(r'^\s*import\s+([A-Za-z_]\w*)(?:\s+from\s+([A-Za-z_]\w*|"(?:[^"\\\n]|\\.)*"))?')


# ------------------------------------------------------------ positions
@dataclass(frozen=True)
class Lines:
    """A text's lines, as the parser counts them (only ``\\n`` ends one), and the client's units."""

    lines: tuple[str, ...]
    codec: PositionCodec = field(default_factory=PositionCodec)

    @classmethod
    def of(cls, text: str, codec: PositionCodec | None = None) -> Lines:
        return cls(tuple(text.split("\n")), codec or PositionCodec())

    def to_client(self, line: int, column: int) -> lsp.Position:
        """taskdsl's 1-based line and character column as an LSP position."""
        row = max(line - 1, 0)
        if row >= len(self.lines):
            return lsp.Position(line=row, character=0)
        return self.codec.position_to_client_units(self.lines, lsp.Position(row, max(column - 1, 0)))

    def span_range(self, span: Span) -> lsp.Range:
        return lsp.Range(self.to_client(span.line, span.column),
                         self.to_client(span.end_line, span.end_column))

    def from_client(self, position: lsp.Position) -> tuple[int, int]:
        """An LSP position as a 0-based line and character index into that line."""
        if position.line >= len(self.lines):
            return position.line, 0
        found = self.codec.position_from_client_units(self.lines, position)
        return found.line, found.character

    def end(self) -> lsp.Position:
        """The position just past the text's last character."""
        return self.codec.position_to_client_units(
            self.lines, lsp.Position(len(self.lines) - 1, len(self.lines[-1])))

    def word_at(self, position: lsp.Position) -> tuple[str, str] | None:
        """The (dotted) name under ``position``, and that name up to the part under it."""
        row, column = self.from_client(position)
        if row >= len(self.lines):
            return None
        for match in _NAME.finditer(self.lines[row]):
            if match.start() <= column <= match.end():
                cut = match.group().find(".", column - match.start())
                return match.group(), match.group() if cut < 0 else match.group()[:cut]
        return None


# ------------------------------------------------------------ analysis
@dataclass
class Analysis:
    """One check of a document: what the loader found, kept for hover, definition, completion."""

    path: str  # the path the document was checked as; its spans name it
    text: str
    result: Result
    scope: Scope

    @property
    def program(self) -> Program:
        return self.result.program


def analyse(text: str, path: str, *, backends: bool = False) -> Analysis:
    """Check ``text`` as the file ``path`` (so its relative imports resolve), as ``taskdsl check`` would.

    With ``backends``, a program without front-end errors is also checked by the
    installed backends.  Never raises on bad input: the loader reports, not throws.
    """
    loader = Loader()
    program, scope = loader.load_text(text, path)
    result = Result(program, list(loader.diags), loader.sources)
    if backends:
        result = with_backends(result, True)
    return Analysis(path, text, result, scope)


def to_lsp(diagnostic: Diagnostic, analysis: Analysis, lines: Lines) -> lsp.Diagnostic:
    """A taskdsl diagnostic on the document.  One located in another file is put on the
    ``import`` line that reads that file (else the document's start), saying where, with
    the place as related information."""
    parts = [diagnostic.message]
    parts += [f"{label}: {value}" for label, value in (("expected", diagnostic.expected),
              ("found", diagnostic.found), ("help", diagnostic.help),
              ("note", diagnostic.note)) if value is not None]
    message = "\n".join(parts)
    span = diagnostic.span
    start = lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
    related = None
    if span is None:
        where = start
    elif span.file == analysis.path:
        where = lines.span_range(span)
    else:
        where = importing_line(analysis, lines, span.file) or start
        message = OTHER_FILE.format(place=str(span), message=message)
        uri = file_uri(span.file)
        if uri is not None:
            related = [lsp.DiagnosticRelatedInformation(
                lsp.Location(uri, _read_lines(span.file).span_range(span)), diagnostic.message)]
    severity = {"error": lsp.DiagnosticSeverity.Error,
                "warning": lsp.DiagnosticSeverity.Warning}.get(diagnostic.severity,
                                                               lsp.DiagnosticSeverity.Information)
    return lsp.Diagnostic(where, message, severity=severity, code=diagnostic.code, source=SOURCE,
                          related_information=related)


def importing_line(analysis: Analysis, lines: Lines, file: str) -> lsp.Range | None:
    """The range of the document's ``import`` line that reads ``file`` directly, if one does."""
    try:
        wanted = Path(file).resolve()
    except (OSError, ValueError):
        return None
    for row, line in enumerate(lines.lines):
        target = import_target(analysis, line)
        if target is not None and target[1].resolve() == wanted:
            return lsp.Range(lines.to_client(row + 1, 1), lines.to_client(row + 1, len(line.rstrip()) + 1))
    return None


def file_uri(file: str) -> str | None:
    """A span's file as a URI: relative paths are relative to the server's folder, as the
    loader wrote them."""
    if not file or file.startswith("<") or file == "--set":
        return None
    return from_fs_path(str(Path(file).resolve()))


# ------------------------------------------------------------ hover
def _fence(text: str) -> str:
    return f"```taskdsl\n{text}\n```"


def _task_at(analysis: Analysis, row: int) -> Iterable[Equation]:
    """The equations of this document whose block holds 0-based line ``row``."""
    for equation in analysis.program.tasks.values():
        span = equation.span
        if span.file == analysis.path and span.line - 1 <= row <= max(span.end_line - 1, span.line - 1):
            yield equation


def describe(name: str, analysis: Analysis, row: int | None = None) -> str | None:
    """What ``name`` means in the document, as Markdown; None when it means nothing known."""
    program, scope = analysis.program, analysis.scope
    lines: list[str] = []
    if name in program.declarations:
        d = program.declarations[name]
        extra = ""
        if d.distribution is not None:
            extra = f" ~ {d.distribution}"
        elif d.value is not None:
            extra = f" = {d.value:g}"
        lines.append(_fence(f"{d.kind.value} {name} : {d.signature}{extra}"))
        if name in program.impls:
            lines.append(f"implemented by `{_value(program.impls[name])}`")
    elif name in program.aliases:
        lines.append(_fence(f"type {name} = {program.aliases[name].structural()}"))
    elif name in program.defs or name in program.refinements:
        keyword = "def" if name in program.defs else "refine"
        diagram = program.defs.get(name) or program.refinements[name]
        lines.append(_fence(f"{keyword} {name} : {diagram.signature}"))
    elif name in program.tasks:
        eq = program.tasks[name]
        sides = ", ".join(str(t) for t in eq.lhs.output_types)
        lines.append(_fence(f"task {name} : {sides}"))
        lines.append(f"trains {', '.join(eq.trains) or 'nothing'}; by {', '.join(eq.divergences)}")
    elif name in program.objectives:
        terms = " + ".join(f"{t.weight:g} * {t.equation.name}" for t in program.objectives[name].terms)
        lines.append(_fence(f"objective {name} = {terms}"))
    elif name in scope.patterns:
        node = scope.patterns[name].node
        kinds = ", ".join(p.name if p.kind == "type" else f"{p.name}: dim" for p in node.type_params)
        lines.append(_fence(f"pattern {name}{f'[{kinds}]' if kinds else ''}({', '.join(node.params)})"))
    elif name in BUILTINS:
        b = BUILTINS[name]
        params = "[...]" * (b.n_params > 0)
        lines.append(_fence(f"builtin {name}{params} : {b.arity} input(s)"))
        lines.append(b.doc)
    elif name in STRUCTURAL:
        lines.append(_fence(f"structural {name}"))
        lines.append(STRUCTURAL_DOC.get(name, ""))
    elif name in KIND_DOC:
        lines.append(_fence(f"type {name}[...]"))
        lines.append(KIND_DOC[name])
    elif name in ALL_DIVERGENCES:
        kinds = [k for k, ds in DIVERGENCES.items() if name in ds]
        lines.append(_fence(f"divergence {name}"))
        lines.append(f"compares {', '.join(kinds)} wires")
    elif row is not None:
        for equation in _task_at(analysis, row):
            for side in (equation.lhs, equation.rhs):
                for wire in side.wires.values():
                    if wire.name == name:
                        return (_fence(f"{name} : {wire.type.described()}")
                                + f"\n\n{WIRE_OF.format(task=equation.name)}")
        return None
    else:
        return None
    seen = scope.first_seen.get(name)
    if seen is not None:
        lines.append(DECLARED_AT.format(place=seen))
    return "\n\n".join(line for line in lines if line)


def _value(value: object) -> str:
    """A configuration value as written: ``nets.mlp(width = 64)``."""
    name = getattr(value, "name", None)
    if name is None:
        return repr(value)
    args = [*map(_value, getattr(value, "args", ())),
            *(f"{k} = {_value(v)}" for k, v in getattr(value, "kwargs", {}).items())]
    return f"{name}({', '.join(args)})" if hasattr(value, "args") else str(name)


def hover_text(analysis: Analysis, lines: Lines, position: lsp.Position) -> str | None:
    """The hover for the name under ``position`` (an import shows the file it reads)."""
    found = lines.word_at(position)
    if found is None:
        return None
    whole, part = found
    row, _ = lines.from_client(position)
    target = import_target(analysis, lines.lines[row])
    if target is not None and whole == target[0]:
        return _fence(f"import {whole}") + "\n\n" + IMPORT_READS.format(path=target[1])
    if whole in SETTINGS and _train_block(lines.lines, row):
        return _fence(f"{whole} VALUE") + "\n\n" + SETTINGS[whole]
    for name in dict.fromkeys((part, whole, part.rsplit(".", 1)[-1])):
        text = describe(name, analysis, row)
        if text is not None:
            return text
    return None


# ------------------------------------------------------------ definition
def import_target(analysis: Analysis, line: str) -> tuple[str, Path] | None:
    """The name an ``import`` line reads and its file, resolved as the loader does."""
    match = _IMPORT.match(line)
    if match is None:
        return None
    name, module = match.group(1), match.group(2)
    if module == "stdlib":
        return name, stdlib_dir() / f"{name}.task"
    folder = Path(analysis.path).parent
    if module is not None:
        folder = folder / (module[1:-1] if module.startswith('"') else module)
    return name, (folder / f"{name}.task").resolve()


def definition(analysis: Analysis, lines: Lines, position: lsp.Position) -> lsp.Location | None:
    """Where the name under ``position`` was declared: in this file, an import or the stdlib."""
    found = lines.word_at(position)
    if found is None:
        return None
    whole, part = found
    row, _ = lines.from_client(position)
    target = import_target(analysis, lines.lines[row])
    if target is not None and whole == target[0]:
        if target[1].exists():
            origin = lsp.Position(0, 0)
            return lsp.Location(from_fs_path(str(target[1])), lsp.Range(origin, origin))
        return None
    scope = analysis.scope
    for name in dict.fromkeys((part, whole, part.rsplit(".", 1)[-1])):
        span = scope.first_seen.get(name)
        if span is None and name in scope.patterns:
            span = scope.patterns[name].node.span
        if span is None and name in scope.refines:
            span = scope.refines[name].span
        if span is None:
            continue
        if span.file == analysis.path:
            return lsp.Location(from_fs_path(analysis.path), lines.span_range(span))
        uri = file_uri(span.file)
        if uri is not None:
            other = _read_lines(span.file)
            return lsp.Location(uri, other.span_range(span))
    return None


def _read_lines(file: str) -> Lines:
    try:
        return Lines.of(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Lines.of("")


# ------------------------------------------------------------ completion
def _train_block(lines: Sequence[str], row: int) -> bool:
    """Whether 0-based line ``row`` is indented inside a ``train`` block."""
    if row >= len(lines) or not lines[row][:1].isspace():
        return False
    for line in reversed(lines[:row]):
        if line.strip() and not line[:1].isspace() and not line.lstrip().startswith("#"):
            return line.startswith("train ")
    return False


def _items(names: Iterable[str], kind: lsp.CompletionItemKind,
           detail: dict[str, str] | None = None) -> list[lsp.CompletionItem]:
    return [lsp.CompletionItem(label=name, kind=kind, detail=(detail or {}).get(name))
            for name in names]


def completions(analysis: Analysis | None, lines: Lines, position: lsp.Position) -> list[lsp.CompletionItem]:
    """What may be written at ``position``: the words its context allows, else every name."""
    row, column = lines.from_client(position)
    before = lines.lines[row][:column] if row < len(lines.lines) else ""
    kind = lsp.CompletionItemKind
    if re.search(r"\bby\s+\w*$", before):
        return _items(ALL_DIVERGENCES, kind.EnumMember)
    if re.search(r"~\s*\w*$", before):
        return _items(dict.fromkeys(d for ds in DISTRIBUTIONS.values() for d in ds), kind.EnumMember)
    if re.search(r"^\s*impl\s+\w+\s*=\s*[\w.]*$", before):
        return _items(NETS, kind.Constructor)
    if _train_block(lines.lines, row):
        if re.search(r"^\s+data\s+\w+\s*=\s*[\w.]*$", before):
            return _items(DATASETS, kind.Constructor)
        if re.fullmatch(r"\s+\w*", before):
            return _items(SETTINGS, kind.Property, SETTINGS)
    items = _items(KEYWORDS, kind.Keyword) + _items(TYPES, kind.Class)
    items += _items(BUILTINS, kind.Function, {n: b.doc for n, b in BUILTINS.items()})
    items += _items(STRUCTURAL, kind.Function, STRUCTURAL_DOC)
    if analysis is not None:
        program, scope = analysis.program, analysis.scope
        details = {n: f"{d.kind.value} : {d.signature}" for n, d in program.declarations.items()}
        details |= {n: f"type = {t.structural()}" for n, t in program.aliases.items()}
        details |= {n: f"def : {d.signature}" for n, d in program.defs.items()}
        details |= {n: "task" for n in program.tasks} | {n: "objective" for n in program.objectives}
        details |= {n: "pattern" for n in scope.patterns}
        names = dict.fromkeys([*scope.first_seen, *scope.patterns])
        kinds = {n: kind.Function if n in program.declarations or n in program.defs else
                 kind.Class if n in program.aliases else
                 kind.Module if n in scope.patterns else kind.Event for n in names}
        items += [lsp.CompletionItem(label=n, kind=kinds[n], detail=details.get(n)) for n in names]
    return items


# ------------------------------------------------------------ formatting
def formatted(text: str, path: str, lines: Lines) -> list[lsp.TextEdit]:
    """One edit replacing the whole document by its canonical form; none when it is already
    canonical or does not parse (formatting must never guess at a broken file)."""
    try:
        new = fmt.format_text(text, path)
    except (fmt.SyntaxErrors, fmt.FormatError):
        return []
    if new == text:
        return []
    return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), lines.end()), new)]


# ------------------------------------------------------------ the server
class TaskServer(LanguageServer):
    """The pygls server, with the last analysis of each open document."""

    def __init__(self) -> None:
        super().__init__(SERVER_NAME, __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}
        self.backends = True  # the initialization option `backends` turns the on-save checks off

    def lines(self, uri: str) -> tuple[str, Lines]:
        doc = self.workspace.get_text_document(uri)
        return doc.source, Lines.of(doc.source, doc.position_codec)

    def check(self, uri: str) -> None:
        """Check the document by the front end alone (fast: on every change) and publish."""
        doc = self.workspace.get_text_document(uri)
        path = to_fs_path(uri) or uri
        try:
            analysis = analyse(doc.source, path)
        except Exception:  # a bug in the checker must not take the editor's server down
            log.exception("checking %s failed", uri)
            return
        self.publish(uri, analysis)

    async def check_with_backends(self, uri: str) -> None:
        """Check the document with the backends too, off the event loop (they may take
        seconds), and publish unless the document changed meanwhile."""
        if not self.backends:
            self.check(uri)
            return
        doc = self.workspace.get_text_document(uri)
        version, path = doc.version, to_fs_path(uri) or uri
        loop = asyncio.get_running_loop()
        try:
            analysis = await loop.run_in_executor(None, partial(analyse, doc.source, path, backends=True))
        except Exception:
            log.exception("checking %s with the backends failed", uri)
            return
        if self.workspace.get_text_document(uri).version == version:
            self.publish(uri, analysis)

    def publish(self, uri: str, analysis: Analysis) -> None:
        doc = self.workspace.get_text_document(uri)
        self.analyses[uri] = analysis
        lines = Lines.of(analysis.text, doc.position_codec)
        found = [to_lsp(d, analysis, lines) for d in analysis.result.diagnostics]
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=doc.version))

    def analysis(self, uri: str) -> Analysis | None:
        """The document's analysis, made now if it has none yet (a request before any open);
        None if checking it failed."""
        if uri not in self.analyses:
            self.check(uri)
        return self.analyses.get(uri)


def build_server() -> TaskServer:
    """A server with every feature registered (separate from :func:`main` so tests can build one)."""
    server = TaskServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: TaskServer, params: lsp.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict) and options.get("backends") is False:
            ls.backends = False

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TaskServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.check(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TaskServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.check(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: TaskServer, params: lsp.DidSaveTextDocumentParams) -> None:
        await ls.check_with_backends(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TaskServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.analyses.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: TaskServer, params: lsp.HoverParams) -> lsp.Hover | None:
        _, lines = ls.lines(params.text_document.uri)
        analysis = ls.analysis(params.text_document.uri)
        text = hover_text(analysis, lines, params.position) if analysis is not None else None
        if text is None:
            return None
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def goto(ls: TaskServer, params: lsp.DefinitionParams) -> lsp.Location | None:
        _, lines = ls.lines(params.text_document.uri)
        analysis = ls.analysis(params.text_document.uri)
        return definition(analysis, lines, params.position) if analysis is not None else None

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                    lsp.CompletionOptions(trigger_characters=[".", " ", "~"]))
    def complete(ls: TaskServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        _, lines = ls.lines(params.text_document.uri)
        items = completions(ls.analyses.get(params.text_document.uri), lines, params.position)
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: TaskServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
        text, lines = ls.lines(params.text_document.uri)
        return formatted(text, to_fs_path(params.text_document.uri) or "<input>", lines)

    return server


def main() -> None:
    """Serve over stdin and stdout until the client says exit."""
    build_server().start_io()
