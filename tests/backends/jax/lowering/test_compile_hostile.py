"""``compile_objective`` writes nothing from the program as code (issue #17, part 1).

The names, paths and numbers of an example's IR are replaced by hostile ones
(quotes, triple quotes, backslashes, newlines, unprintable and non-identifier
characters, ``inf`` and ``nan`` weights, very long strings): the module must
still parse, import and keep every one of them inside a string literal or a
comment, or (a wire's plain identifier) as a variable.  Each hostile string
carries the marker ``ZQX`` so that any of it that leaked into code would show
up as a token.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import math
import re
import tokenize
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskdsl
from taskdsl.backends.jax.lowering import compile as compile_module
from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.errors import LowerError
from taskdsl.explain import Notation, equation_formula
from taskdsl.ir import Diagram, Objective, Program, Term
from tests.backends.jax.compiled_modules import module_of

ROOT = Path(__file__).resolve().parents[4]
MARK = "ZQX"

TRICKY = ['"', "'", '"""', "'''", "\\", "\n", "\r", "\x00", "\x0c", "#", "{", "}", ")",
          "\u2028", "ﬁ", "é", "١", "𝐤", " ", ";", "import os", "__debug__", "\\N{", "\\x"]
PIECES = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=4)), max_size=4)


@st.composite
def hostile(draw: st.DrawFn) -> str:
    """A string with the marker in it and something awkward around it, sometimes long."""
    before, after = draw(PIECES), draw(PIECES)
    text = "".join(before) + MARK + "".join(after)
    return text * draw(st.sampled_from([1, 1, 1, 300]))


@st.composite
def identifier(draw: st.DrawFn) -> str:
    """A name Python accepts as an identifier (unicode ones, keywords' look-alikes too)."""
    head = draw(st.sampled_from(["", "é", "ﬁ", "𝐤", "_", "w1", "key", "None"]))
    return head + MARK + draw(st.sampled_from(["", "_", "é", "2", "_logits"]))


WEIGHTS = st.one_of(st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -0.0, 1e308]),
                    st.floats(allow_nan=True, allow_infinity=True))


@pytest.fixture(scope="module")
def program() -> Program:
    return taskdsl.load(ROOT / "examples" / "mnist_manipulator.task")


def _rename_diagram(diagram: Diagram, boxes: Mapping[str, str], wires: list[str]) -> Diagram:
    new_boxes = tuple(dataclasses.replace(b, name=boxes.get(b.name, b.name))
                      for b in diagram.boxes)
    new_wires = {i: dataclasses.replace(w, name=wires[i % len(wires)]) if wires else w
                 for i, w in diagram.wires.items()}
    return dataclasses.replace(diagram, boxes=new_boxes, wires=new_wires)


def _hostile_program(program: Program, objective: str, boxes: Mapping[str, str],
                     wires: list[str], equations: list[str], weights: list[float],
                     path: str, name: str) -> Program:
    """``program`` with ``objective`` renamed ``name``, its boxes renamed by ``boxes``,
    its wires, equations and weights replaced, and its path ``path``."""
    target = program.objectives[objective]
    terms = []
    for i, term in enumerate(target.terms):
        eq = term.equation
        eq = dataclasses.replace(
            eq, name=equations[i % len(equations)],
            lhs=_rename_diagram(eq.lhs, boxes, wires), rhs=_rename_diagram(eq.rhs, boxes, wires),
            trains=tuple(boxes.get(n, n) for n in eq.trains),
            draws=tuple(dataclasses.replace(d, source=boxes.get(d.source, d.source))
                        for d in eq.draws))
        terms.append(Term(weights[i % len(weights)], eq))
    new = Objective(name, tuple(terms), target.span)
    declarations = {boxes.get(k, k): dataclasses.replace(d, name=boxes.get(k, k))
                    for k, d in program.declarations.items()}
    return dataclasses.replace(program, path=path, objectives={name: new}, trainings={},
                               impls={}, declarations=declarations)


def _leaks(source: str, wires: list[str]) -> list[str]:
    """The code tokens (not strings or comments) that hold the marker, but for variables
    named after a wire that is a plain identifier and the tasks' ASCII function names."""
    allowed = {w for w in wires if compile_module._plain_identifier(w)}
    leaks = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.STRING, tokenize.COMMENT) or MARK not in tok.string:
            continue
        wire = any(re.fullmatch(re.escape(w) + "_*(_logits)?_*", tok.string) for w in allowed)
        function = tok.string.startswith("task_") and tok.string.isascii()  # made ASCII
        if tok.type != tokenize.NAME or not (wire or function):
            leaks.append(tok.string)
    return leaks


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(boxes=st.lists(hostile(), min_size=5, max_size=5, unique=True),
       wires=st.lists(st.one_of(hostile(), identifier()), min_size=1, max_size=6),
       equations=st.lists(st.one_of(hostile(), identifier()), min_size=1, max_size=4),
       weights=st.lists(WEIGHTS, min_size=1, max_size=3),
       path=hostile(), name=hostile())
def test_hostile_names_paths_and_numbers_stay_literals(
        program: Program, tmp_path_factory: pytest.TempPathFactory, boxes: list[str],
        wires: list[str], equations: list[str], weights: list[float], path: str,
        name: str) -> None:
    originals = ["get", "put", "mnist", "digit", "noise"]
    renamed = dict(zip(originals, boxes, strict=True))
    hostile_program = _hostile_program(program, "manipulator", renamed, wires, equations,
                                       weights, path, name)
    source = compile_objective(hostile_program, name)
    tree = ast.parse(source)
    assert _leaks(source, wires) == []
    # the docstrings say exactly what the program says, escapes and all
    assert ast.get_docstring(tree, clean=False).startswith(
        f"Objective `{name}`, compiled by taskdsl from {path}.")
    target = hostile_program.objectives[name]
    docs = [ast.get_docstring(f, clean=False) for f in tree.body
            if isinstance(f, ast.FunctionDef) and f.name.startswith("task_")]
    assert docs == [equation_formula(t.equation, Notation()) for t in target.terms]
    module = module_of(source, tmp_path_factory.mktemp("hostile") / "hostile_module.py")
    assert set(module.LEARNERS) == {renamed["get"], renamed["put"]}
    assert all(_same(a, float(t.weight))
               for a, t in zip(_weights(tree), target.terms, strict=True))


def _weights(tree: ast.Module) -> list[float]:
    """The weights ``loss`` multiplies the tasks by, evaluated."""
    loss = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "loss")
    products = [n for n in ast.walk(loss) if isinstance(n, ast.BinOp)
                and isinstance(n.op, ast.Mult)]
    products.sort(key=lambda n: (n.lineno, n.col_offset))
    return [eval(ast.unparse(n.left), {"__builtins__": {"float": float}})
            for n in products]


@given(value=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8))
def test_a_literal_evaluates_to_the_value(value: object) -> None:
    written = compile_module._literal(value)
    got = eval(written, {"__builtins__": {"float": float}})  # a literal we wrote
    assert _same(got, value)
    assert all(isinstance(node, ast.Constant | ast.Tuple | ast.List | ast.Dict | ast.Call
                          | ast.Name | ast.UnaryOp | ast.unaryop | ast.Load | ast.expr_context)
               for node in ast.walk(ast.parse(written, mode="eval").body))


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a)
                                                     == math.copysign(1, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and type(a) is type(b):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@given(text=st.text())
def test_a_doc_literal_holds_exactly_its_text(text: str) -> None:
    assert ast.literal_eval(compile_module._doc(text)) == text


@given(text=st.text())
def test_a_comment_stays_on_its_line(text: str) -> None:
    line = f"x = 1  # {compile_module._comment(text)}\ny = 2\n"
    assert [type(n) for n in ast.parse(line).body] == [ast.Assign, ast.Assign]


def test_an_object_that_is_not_plain_data_is_not_written() -> None:
    with pytest.raises(LowerError) as caught:
        compile_module._literal(object())
    assert caught.value.code == "emitted-invalid" and "object" in str(caught.value)


def test_a_module_that_does_not_parse_is_an_internal_error_not_a_file(
        monkeypatch: pytest.MonkeyPatch, program: Program, tmp_path: Path) -> None:
    monkeypatch.setattr(compile_module, "_check", lambda: "def check_learners(:")
    out = tmp_path / "out.py"
    with pytest.raises(LowerError) as caught:
        compile_module.write_module(program, out, "manipulator")
    assert caught.value.code == "emitted-invalid" and "line" in str(caught.value)
    assert not out.exists()


def test_metrics_whose_function_names_would_clash_get_distinct_functions(
        program: Program) -> None:
    target = program.objectives["manipulator"]
    names = ["a-b", "a_b", "a b", "①"]
    terms = tuple(Term(t.weight, dataclasses.replace(t.equation, name=names[i % 4]))
                  for i, t in enumerate(target.terms))
    changed = dataclasses.replace(program, objectives={"m": Objective("m", terms)},
                                  trainings={})
    functions = [f.name for f in ast.parse(compile_objective(changed, "m")).body
                 if isinstance(f, ast.FunctionDef) and f.name.startswith("task_")]
    assert len(functions) == len(set(functions)) == len(terms)
    assert all(f.isascii() and f.isidentifier() for f in functions)



INFINITE = """\
data xs : -> Real[4]
learner f : Real[4] -> Real[4]
task same:
    x <- xs
    f(x) = x
task other:
    x <- xs
    f(x) = x  by l1
objective o = 1e999 * same + 1e-320 * other
"""


def test_a_weight_the_grammar_makes_infinite_is_written_as_an_expression(
        tmp_path: Path) -> None:
    """``1e999`` in a file is ``inf``, whose ``repr`` is not Python; the module says
    ``float("inf")`` and imports."""
    program = taskdsl.check_text(INFINITE, "w.task").program
    source = compile_objective(program, "o")
    assert _weights(ast.parse(source)) == [math.inf, 1e-320]
    module = module_of(source, tmp_path / "infinite.py")
    assert module.LEARNERS == ("f",)
