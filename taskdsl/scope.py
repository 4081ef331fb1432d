"""Name tables for elaboration (and, re-exported, the "did you mean" of messages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taskdsl import syntax as ast
from taskdsl.ir import Declaration, Diagram, Equation, Objective
from taskdsl.source import Span
from taskdsl.suggest import suggest as suggest  # re-exported: the front end imports it here
from taskdsl.types import Dim, WireType

# A wire whose type could not be worked out; it matches anything, so one error
# does not cascade into others.
ERROR_TYPE = WireType("?", ())


def is_type_var(t: WireType) -> bool:
    return t.kind.startswith("$")


def compatible(a: WireType, b: WireType) -> bool:
    return a is b or a == b or ERROR_TYPE.kind in (a.kind, b.kind)  # `is`: the usual case, fast


@dataclass
class Template:
    """An open diagram ready to be inlined: its type and how to wire it in.

    ``apply(builder, input_wires, span)`` adds the boxes to a builder and returns
    the output wires.  Defs, refinements, declared boxes and point-free
    combinators are all templates, so applying any of them is one operation.
    """

    name: str
    inputs: tuple[WireType, ...]
    outputs: tuple[WireType, ...]
    apply: Callable[[Any, list[int], Span], list[int]]


@dataclass
class PatternEntry:
    node: ast.Pattern
    scope: Scope  # the scope it was defined in: patterns close over it


@dataclass
class Scope:
    """Everything a name can mean at one point of elaboration."""

    aliases: dict[str, WireType] = field(default_factory=dict)
    dims: dict[str, Dim] = field(default_factory=dict)
    boxes: dict[str, Declaration] = field(default_factory=dict)
    open_tail: set[str] = field(default_factory=set)
    defs: dict[str, ast.DiagramDef] = field(default_factory=dict)
    refines: dict[str, ast.DiagramDef] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)  # defs/refines, built lazily
    # Each refined learner's refinement once built, here or in an imported file: what
    # `trains put` and `impl put` mean when `put` is refined, wherever the refine is.
    refined: dict[str, Diagram] = field(default_factory=dict)
    patterns: dict[str, PatternEntry] = field(default_factory=dict)
    tasks: dict[str, Equation] = field(default_factory=dict)
    objectives: dict[str, Objective] = field(default_factory=dict)
    objective_nodes: dict[str, ast.Objective] = field(default_factory=dict)
    first_seen: dict[str, Span] = field(default_factory=dict)

    def child(self) -> Scope:
        """A scope that sees this one's names and adds its own (for a pattern's body)."""
        return Scope(
            aliases=dict(self.aliases),
            dims=dict(self.dims),
            boxes=dict(self.boxes),
            open_tail=set(self.open_tail),
            defs=dict(self.defs),
            refines=dict(self.refines),
            templates={},
            refined={},
            patterns=dict(self.patterns),
            tasks={},
            objectives={},
            objective_nodes={},
            first_seen={},
        )

    def defines(self, name: str) -> bool:
        """Whether ``name`` already means something here (without building a set of all names)."""
        return (name in self.aliases or name in self.boxes or name in self.defs
                or name in self.patterns or name in self.tasks or name in self.objectives
                or name in self.objective_nodes)
