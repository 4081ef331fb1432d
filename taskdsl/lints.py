"""Lints: warnings about a program that checks but probably does not say what was meant.

A lint is a :class:`~taskdsl.diagnostics.Diagnostic` of severity ``warning``
(``taskdsl check --strict`` makes it an error, see :func:`strict`), located, with
a code and a fix worded in :mod:`taskdsl.messages`.  Lints read the elaborated
program (the IR) and, for the exact place of a name, the file's syntax tree;
they call no backend.  The loader runs them on the file checked (not on its
imports) when it has no errors, since a broken program's picture is wrong.

* ``learner-on-right``: a learner only on the right of ``=`` in a wire compared
  by ``ce``, ``bce`` or ``kl`` on classes, bits or tokens (a learner behind
  ``stop`` is trained through neither side, so it counts on neither).  These score the right
  side by the left's log-probabilities, so ``y = f(x)  by ce`` trains ``f`` on a
  meaningless loss (the data's log of a one-hot), silently.
* ``unused-learner``: a learner the file declares and no task uses (directly,
  or through a ``def`` or ``refine``), so it is never trained.  A refined learner
  has no parameters of its own (it is an interface, like ``put`` of
  ``examples/mnist_cvae.task``), so it is never one.
* ``unused-draw``: a name bound by ``<-`` that reaches neither side.

A ``trains`` clause naming a learner absent from its task is already an error
(``trains-absent``), so it is no lint.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, fields, is_dataclass, replace

from taskdsl import syntax as ast
from taskdsl.diagnostics import Diagnostic
from taskdsl.ir import Box, BoxKind, Diagram, Equation, Program
from taskdsl.source import Source, Span

LINT_CODES = ("learner-on-right", "unused-learner", "unused-draw")

# Divergences that score the rhs under the log-probabilities of the lhs, and the kinds of
# wire where they do (on Gaussians `kl` is closed-form and trains either side).
SCORED_BY_LEFT = frozenset({"ce", "bce", "kl"})
SCORED_KINDS = frozenset({"Class", "Binary", "Tokens"})


@dataclass(frozen=True)
class Written:
    """What the lints read of the file as written: its tasks' syntax and its text, to
    place a warning on a name and to word a fix in the user's own spelling."""

    tasks: dict[str, ast.Task]
    source: Source | None = None

    @classmethod
    def of(cls, module: ast.Module | None, source: Source | None = None) -> Written:
        statements = module.statements if module is not None else ()
        return cls({n.name: n for n in statements if isinstance(n, ast.Task)}, source)

    def task(self, equation: Equation) -> ast.Task | None:
        """The syntax of ``equation``'s task, if this file wrote it (not a ``use``)."""
        node = self.tasks.get(equation.name)
        return node if node is not None and node.span == equation.span else None

    def text(self, span: Span) -> str | None:
        """The text ``span`` covers, if it lies in this file (on one or more lines)."""
        if self.source is None or span.file != self.source.path or span.line < 1:
            return None
        lines = self.source.text.split("\n")[span.line - 1:span.end_line]
        if not lines:
            return None
        if len(lines) == 1:
            return lines[0][span.column - 1:span.end_column - 1]
        return "\n".join([lines[0][span.column - 1:], *lines[1:-1], lines[-1][:span.end_column - 1]])


def lint(program: Program, module: ast.Module | None = None, source: Source | None = None,
         skip: Collection[str] = ()) -> list[Diagnostic]:
    """Every lint of ``program`` (tasks named in ``skip``, e.g. imported ones, left out)."""
    written = Written.of(module, source)
    found: list[Diagnostic] = []
    for name, equation in program.tasks.items():
        if name in skip:
            continue
        found.extend(learner_on_right(equation, written, frozenset(program.refinements)))
        found.extend(unused_draws(equation, written))
    found.extend(unused_learners(program, skip, lambda: {
        n for task in written.tasks.values() for n in names_in(task)}))
    return found


# The warnings `--strict` makes errors: the front end's, about the file itself.  A backend's
# (a data file missing here) stay warnings: they say something of the machine, not the file.
STRICT_CODES = frozenset({*LINT_CODES, "discarded-learner"})


def strict(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """``diagnostics`` with the front end's warnings made errors: ``taskdsl check --strict``."""
    return [replace(d, severity="error") if d.severity == "warning" and d.code in STRICT_CODES
            else d for d in diagnostics]


# ------------------------------------------------------------ learner-on-right
def upstream(diagram: Diagram, wire: int) -> Iterator[Box]:
    """The boxes ``wire`` depends on in ``diagram`` through which a gradient reaches it,
    nearest first, each once: a ``stop`` box, but nothing behind it."""
    seen: set[int] = set()
    stack = [wire]
    while stack:
        box = diagram.producers.get(stack.pop())
        if box is None or box.id in seen:
            continue
        seen.add(box.id)
        yield box
        if not (box.kind is BoxKind.BUILTIN and box.name == "stop"):
            stack.extend(box.inputs)


def learner_on_right(equation: Equation, written: Written,
                     refined: Collection[str] = ()) -> Iterator[Diagnostic]:
    """A trained learner alone on the right of a wire scored by the left's log-probabilities,
    named as the task wrote it (the refined learner it is inside, if any)."""
    sides = zip(equation.divergences, equation.lhs.outputs, equation.rhs.outputs, strict=False)
    for divergence, left, right in sides:
        kind = equation.lhs.wires[left].type.kind
        if divergence not in SCORED_BY_LEFT or kind not in SCORED_KINDS:
            continue
        if any(b.kind is BoxKind.LEARNER for b in upstream(equation.lhs, left)):
            continue
        trained = [b for b in upstream(equation.rhs, right)
                   if b.kind is BoxKind.LEARNER and b.name in equation.trains]
        if not trained:
            continue
        statement = _equation_statement(written.task(equation))
        fix = found = None
        if statement is not None:
            lhs, rhs = (written.text(_joined(side)) for side in (statement.lhs, statement.rhs))
            if lhs is not None and rhs is not None:
                found, fix = f"{lhs} = {rhs}", f"{rhs} = {lhs}"
        box = trained[0]
        name = next((g for g in box.group if g in refined), box.name)
        yield Diagnostic.of("learner-on-right", box.span, "warning", name=name,
                            divergence=divergence, found=found, fix=fix or f"{name}(...) = ...")
        return  # once per task: the fix swaps every wire


def _equation_statement(task: ast.Task | None) -> ast.EquationStmt | None:
    if task is None:
        return None
    return next((i for i in task.items if isinstance(i, ast.EquationStmt)), None)


def _joined(exprs: tuple[ast.Expr, ...]) -> Span:
    first, last = exprs[0].span, exprs[-1].span
    return Span(first.file, first.line, first.column, last.end_line, last.end_column)


# ------------------------------------------------------------ unused-draw
def unused_draws(equation: Equation, written: Written) -> Iterator[Diagnostic]:
    """Each name a draw binds that no box of either side reads and no side outputs."""
    boxes = {b.id: b for side in (equation.lhs, equation.rhs) for b in side.boxes}
    read = {w for b in boxes.values() if b.kind is not BoxKind.DISCARD for w in b.inputs}
    read |= {*equation.lhs.outputs, *equation.rhs.outputs}
    task = written.task(equation)
    nodes = [i for i in task.items if isinstance(i, ast.Draw)] if task is not None else []
    for index, draw in enumerate(equation.draws):
        box = boxes.get(draw.box)
        node = nodes[index] if index < len(nodes) and nodes[index].source == draw.source else None
        unused = [i for i, name in enumerate(draw.names) if name != "_" and (
            box is None or i >= len(box.outputs) or box.outputs[i] not in read)]
        if not unused:
            continue
        fix = ", ".join("_" if i in unused else n for i, n in enumerate(draw.names))
        for i in unused:
            span = (node.targets[i].span if node is not None and i < len(node.targets)
                    else box.span if box is not None else equation.span)
            yield Diagnostic.of("unused-draw", span, "warning", name=draw.names[i],
                                source=draw.source, fix=f"{fix} <- {draw.source}")


# ------------------------------------------------------------ unused-learner
def used_learners(program: Program) -> set[str]:
    """The learners some task applies, and the refined learners (and defs) they came through."""
    used: set[str] = set()
    for equation in program.tasks.values():
        for side in (equation.lhs, equation.rhs):
            for box in side.boxes:
                if box.kind is BoxKind.LEARNER:
                    used.add(box.name)
                used.update(box.group)
    return used


def names_in(node: object) -> Iterator[str]:
    """Every name a piece of syntax refers to, however deep (a loop, not recursion: a
    deeply nested expression that checks must not overflow the stack here)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Ref):
            yield item.name
        if isinstance(item, tuple | list):
            stack.extend(item)
        elif is_dataclass(item) and not isinstance(item, Span):
            stack.extend(getattr(item, f.name) for f in fields(item))


def unused_learners(program: Program, skip: Collection[str] = (),
                    applied: Callable[[], Collection[str]] = frozenset) -> Iterator[Diagnostic]:
    """Each learner this file declares that no task uses; nothing for a file without tasks
    of its own (``skip`` names the imported ones): a file of declarations for others.
    A learner a task applies but discards (the names ``applied()`` gives) is
    ``discarded-learner``'s to report, not this lint's.  ``applied`` walks the syntax, so
    it is asked only when some learner is unused by the diagrams."""
    if not any(name not in skip for name in program.tasks):
        return
    used = used_learners(program)
    unused = [(name, declaration) for name, declaration in program.declarations.items()
              if declaration.kind is BoxKind.LEARNER and name not in used
              and name not in program.refinements  # an interface over trained learners
              and declaration.span.file == program.path]
    if not unused:
        return
    discarded = set(applied())
    for name, declaration in unused:
        if name not in discarded:
            yield Diagnostic.of("unused-learner", declaration.span, "warning", name=name)
