"""A pattern's ``number`` parameter as an objective's weight (``lam * cycle``): bound at
``use``, shown as its value by ``explain`` and ``render``, formatted as written, and a
name that is no number parameter a located error with its fix."""

from __future__ import annotations

import html
import re
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl import check_text
from taskdsl import syntax as ast
from taskdsl.explain import _number, explain
from taskdsl.fmt import format_text
from taskdsl.ir import Program
from taskdsl.parser import parse
from taskdsl.render import _number as pictured
from taskdsl.render import objective_svg

PAIR = """\
pattern pair(f, g, data; lam: number = 10):
    f : Real[4] -> Real[4]
    g : Real[4] -> Real[4]
    data : -> Real[4]

    task a:
        x <- data
        f(x) = x

    task b:
        x <- data
        g(x) = x  by {fit}

    objective both = a {sign} lam * b

learner f : Real[4] -> Real[4]
learner g : Real[4] -> Real[4]
data xs : -> Real[4]
"""


def source(use: str, sign: str = "+", fit: str = "mse") -> str:
    return PAIR.format(sign=sign, fit=fit) + textwrap.dedent(use)


def program(text: str) -> Program:
    result = check_text(text)
    assert result.ok, result.render()
    return result.program


def weights(prog: Program, objective: str) -> dict[str, float]:
    return {t.equation.name: t.weight for t in prog.objectives[objective].terms}


def errors(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in check_text(text).diagnostics
            if d.severity == "error"]


# A weight is positive (a negative one maximises, which `mse` cannot): any size of one.
positive = st.one_of(st.integers(1, 10**6),
                     st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False))


@settings(max_examples=30, deadline=None)
@given(lam=positive)
def test_the_use_lines_number_weighs_the_patterns_task(lam: float) -> None:
    prog = program(source(f"use pair(f = f, g = g, data = xs, lam = {lam!r})\n"))
    assert weights(prog, "both") == {"a": 1.0, "b": float(lam)}
    shown = "" if lam == 1 else f"{_number(lam)} · "  # as `explain` writes any weight
    assert f"both = a + {shown}b" in explain(prog)
    svg = objective_svg(prog.objectives["both"])
    assert f"weight {pictured(lam)}" in html.unescape(re.sub(r"<[^>]*>", "", svg))


def test_left_out_it_is_the_default_and_each_use_has_its_own() -> None:
    prog = program(source("""\
        use pair(f = f, g = g, data = xs)
        use pair(f = f, g = g, data = xs, lam = 0.5) as half
        objective all = both + 2 * half.both
        """))
    assert weights(prog, "both") == {"a": 1.0, "b": 10.0}
    assert weights(prog, "half.both") == {"half.a": 1.0, "half.b": 0.5}
    # Nested: the outer weight multiplies the pattern's.
    assert weights(prog, "all") == {"a": 1.0, "b": 10.0, "half.a": 2.0, "half.b": 1.0}


def test_a_subtracted_weight_by_name_maximises_a_wass_task() -> None:
    prog = program(source("use pair(f = f, g = g, data = xs, lam = 3)\n", sign="-", fit="wass"))
    assert weights(prog, "both") == {"a": 1.0, "b": -3.0}


def test_a_number_parameter_without_default_must_be_given_and_then_weighs() -> None:
    text = source("use pair(f = f, g = g, data = xs)\n").replace("lam: number = 10", "lam: number")
    assert errors(text) == [("pattern-arg-missing", 19, 1)]
    given_text = text.replace("data = xs)", "data = xs, lam = 4)")
    assert weights(program(given_text), "both") == {"a": 1.0, "b": 4.0}


def test_a_value_no_weight_may_take_is_reported_at_its_argument() -> None:
    zero = source("use pair(f = f, g = g, data = xs, lam = 0)\n")
    assert errors(zero) == [("objective-weight", 19, 35)]
    negative = source("use pair(f = f, g = g, data = xs, lam = -2)\n")
    result = check_text(negative)
    assert [(d.code, d.span.line, d.span.column) for d in result.diagnostics] == [
        ("objective-sign", 19, 35)]
    assert "in pattern `pair`, at <input>:14:26" in result.diagnostics[0].note
    # Left to its default, the `use` line itself.
    default_zero = source("use pair(f = f, g = g, data = xs)\n").replace("= 10", "= 0")
    assert errors(default_zero) == [("objective-weight", 14, 26)]  # the pattern's own fault


def test_a_name_that_is_no_number_parameter_is_an_error_with_its_fix() -> None:
    text = source("").replace("lam: number = 10", "lam: number = 10, fit: divergence")
    text = text.replace("by mse", "by fit").replace("a + lam * b", "fit * a + lamb * b")
    result = check_text(text)
    found = {d.code: d for d in result.diagnostics}
    assert [(d.code, d.span.line, d.span.column) for d in result.diagnostics] == [
        ("weight-not-number", 14, 22), ("weight-undefined", 14, 32)]
    assert "`fit` is a divergence parameter" in found["weight-not-number"].message
    assert "did you mean `lam`?" in (found["weight-undefined"].help or "")
    # The broken pattern is not instantiated: nothing more at a `use`.
    assert errors(text + "use pair(f = f, g = g, data = xs)\n") == errors(text)


def test_a_name_as_weight_outside_a_pattern_is_an_error() -> None:
    text = source("use pair(f = f, g = g, data = xs)\nobjective top = a + beta * b\n")
    result = check_text(text)
    assert [(d.code, d.span.line, d.span.column) for d in result.diagnostics] == [
        ("weight-outside-pattern", 20, 21)]
    assert "--set weight.b=0.5" in (result.diagnostics[0].help or "")


names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda n: n not in {"by", "as", "def", "let", "use", "data", "task", "type", "true",
                        "false", "impl", "from", "fixed", "const", "claim", "train",
                        "trains", "import", "random", "refine", "learner", "pattern",
                        "objective"})


@settings(max_examples=30, deadline=None)
@given(name=names, negated=st.booleans(), weight=st.one_of(st.none(), positive))
def test_a_weight_by_name_parses_and_formats_to_a_fixed_point(name: str, negated: bool,
                                                              weight: float | None) -> None:
    first = "" if weight is None else f"{weight!r} * "
    text = (f"pattern p(d; {name}: number = 1):\n    d : -> Real[1]\n\n"
            f"    objective o = {first}t {'-' if negated else '+'} {name} * t\n")
    (pattern,) = parse(text).statements
    assert isinstance(pattern, ast.Pattern)
    (objective,) = pattern.items[1:]
    assert isinstance(objective, ast.Objective)
    assert [t.weight for t in objective.terms][1] == name
    assert objective.terms[1].negated == negated
    formatted = format_text(text)
    assert format_text(formatted) == formatted
    assert f"{'-' if negated else '+'} {name} * t" in formatted
    assert repr(parse(formatted).statements) == repr(parse(text).statements)
