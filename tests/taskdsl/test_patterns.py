"""Patterns with values: number and divergence parameters, generic stdlib patterns on
any wire type they can compare, and errors of an instantiated body at the ``use`` line."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl import check_text
from taskdsl import syntax as ast
from taskdsl.fmt import format_text
from taskdsl.ir import BoxKind, Program
from taskdsl.parser import parse

DENOISE = """
pattern denoise[n: dim](f, data; p: number = 0.25, gain: number, fit: divergence):
    f : Real[n] -> Real[n]
    data : -> Real[n], ...

    task fit:
        x <- data
        f(drop[p](x)) = scale[gain](x)  by fit

learner g : Real[6] -> Real[6]
data xs : -> Real[6]
"""


def program(source: str) -> Program:
    result = check_text(textwrap.dedent(source))
    assert result.ok, result.render()
    return result.program


def builtin_params(prog: Program, task: str, name: str) -> list[tuple[float, ...]]:
    eq = prog.tasks[task]
    return [b.params for b in (*eq.lhs.boxes, *eq.rhs.boxes)
            if b.kind is BoxKind.BUILTIN and b.name == name]


# ------------------------------------------------------------ numbers
numbers = st.one_of(st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=64))


@settings(max_examples=40, deadline=None)
@given(gain=numbers, p=st.floats(0, 1, exclude_max=True))
def test_a_number_argument_is_the_builtins_bracketed_value(gain: float, p: float) -> None:
    prog = program(DENOISE + f"use denoise(f = g, data = xs, gain = {gain!r}, p = {p!r})\n")
    assert builtin_params(prog, "fit", "scale") == [(gain,)]
    assert builtin_params(prog, "fit", "drop") == [(p,)]


def test_a_number_left_out_takes_its_default_and_one_without_a_default_is_needed() -> None:
    prog = program(DENOISE + "use denoise(f = g, data = xs, gain = 3)\n")
    assert builtin_params(prog, "fit", "drop") == [(0.25,)]
    result = check_text(DENOISE + "use denoise(f = g, data = xs)\n")
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("pattern-arg-missing", 12)]
    assert "`gain`" in result.diagnostics[0].message


def test_two_uses_bind_their_own_values() -> None:
    prog = program(DENOISE + "use denoise(f = g, data = xs, gain = 1)\n"
                   "use denoise(f = g, data = xs, gain = -2.5, fit = l1) as b\n")
    assert builtin_params(prog, "fit", "scale") == [(1,)]
    assert builtin_params(prog, "b.fit", "scale") == [(-2.5,)]
    assert prog.tasks["fit"].divergences == ("mse",)  # left out: Real's default
    assert prog.tasks["b.fit"].divergences == ("l1",)


@pytest.mark.parametrize(("arg", "expected"), [
    ("gain = g", "a number"), ("gain = Real[2]", "a number"), ("fit = nope", "a divergence"),
    ("fit = 2", "a divergence"), ("fit = l1[2]", "a divergence"),
])
def test_an_argument_of_the_wrong_kind_is_located_at_the_argument(arg: str, expected: str) -> None:
    source = DENOISE + f"use denoise(f = g, data = xs, gain = 1, {arg})\n".replace(
        "gain = 1, gain", "gain")
    result = check_text(source)
    (d,) = result.diagnostics
    assert d.code == "pattern-arg-type" and d.span.line == 12
    assert source.splitlines()[11][d.span.column - 1:].startswith(arg)
    assert d.expected.startswith(expected)


def test_value_parameters_are_checked_where_the_pattern_is_written() -> None:
    result = check_text(textwrap.dedent("""
        pattern p(f; f: number, s: real, t: number = ce, u: divergence = 0.5):
            f : Real[2] -> Real[2]
            def h = f
    """))
    assert [(d.code, d.span.column) for d in result.diagnostics] == [
        ("duplicate", 14), ("pattern-value-kind", 25), ("pattern-value-default", 34),
        ("pattern-value-default", 50)]


def test_a_default_that_breaks_the_body_is_reported_once_in_the_pattern() -> None:
    source = DENOISE.replace("p: number = 0.25", "p: number = 1.5")
    result = check_text(source + "use denoise(f = g, data = xs, gain = 1, p = 0.5)\n")
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("type-mismatch", 8)]


# -------------------------------------------------------- divergences
CYCLE = """
import cyclegan from stdlib

type A = {a}
type B = {b}
learner to_b : A -> B
learner to_a : B -> A
learner disc_a : A -> Binary[1]
learner disc_b : B -> Binary[1]
data data_a : -> A
data data_b : -> B

use cyclegan(to_b = to_b, to_a = to_a, disc_a = disc_a, disc_b = disc_b,
             data_a = data_a, data_b = data_b{extra})
"""
ARG_LINE = 14  # the `use`'s second line, where an extra argument goes


def cycle(a: str, b: str, extra: str = "") -> str:
    return CYCLE.format(a=a, b=b, extra=extra)


def cycle_divergences(prog: Program) -> set[tuple[str, ...]]:
    """Each cycle task's divergences, read from the task and from the objective's terms."""
    from_tasks = {prog.tasks[t].divergences for t in ("cycle_a", "cycle_b")}
    from_objective = {term.equation.divergences for term in prog.objectives["translate"].terms
                      if term.equation.name.startswith("cycle")}
    assert from_tasks == from_objective
    return from_tasks


@pytest.mark.parametrize(("a", "b", "wanted"), [
    ("Real[4, 4, 3]", "Real[4, 4, 3]", "l1"),        # images: the paper's L1
    ("Binary[8]", "Binary[8]", "l1"),
    ("Tokens[50, 8]", "Tokens[60, 7]", "ce"),        # sentences: back-translation
    ("Class[5]", "Class[5]", "ce"),                   # l1 does not compare classes
])
def test_the_stdlib_cyclegan_compares_its_cycles_by_l1_where_it_can(a: str, b: str,
                                                                    wanted: str) -> None:
    assert cycle_divergences(program(cycle(a, b))) == {(wanted,)}


def test_the_preference_is_the_same_program_as_the_types_default_given_explicitly() -> None:
    tokens = "Tokens[50, 8]"
    assert program(cycle(tokens, tokens)) == program(cycle(tokens, tokens, ", cycle = ce"))
    image = "Real[4, 4, 3]"
    assert program(cycle(image, image)) == program(cycle(image, image, ", cycle = l1"))


def test_a_divergence_given_is_strict_and_its_error_is_at_the_argument() -> None:
    source = cycle("Tokens[50, 8]", "Tokens[50, 8]", ", cycle = l1")
    result = check_text(source)
    assert {d.code for d in result.diagnostics} == {"divergence-type"}
    for d in result.diagnostics:
        assert (d.span.file, d.span.line) == ("<input>", ARG_LINE)
        assert source.splitlines()[ARG_LINE - 1][d.span.column - 1:].startswith("cycle = l1")
        assert "cyclegan.task:" in d.note and "in pattern `cyclegan`" in d.note
    image = "Real[4, 4, 3]"
    assert cycle_divergences(program(cycle(image, image, ", cycle = mse"))) == {("mse",)}


def test_an_error_inside_an_instantiated_pattern_is_at_the_use_line() -> None:
    lib = textwrap.dedent("""
        pattern round_trip[A, B](there, back, data):
            there : A -> B
            back : B -> A
            data : -> A, ...

            task cycle:
                a <- data
                back(there(a)) = a  by l1
    """)
    user = textwrap.dedent("""
        type Text = Tokens[20, 4]
        learner f : Text -> Text
        learner g : Text -> Text
        data xs : -> Text
        use round_trip(there = f, back = g, data = xs)
    """)
    result = check_text(lib + user)
    (d,) = result.diagnostics
    use_line = (lib + user).splitlines().index("use round_trip(there = f, back = g, data = xs)") + 1
    assert (d.code, d.span.line, d.span.column) == ("divergence-type", use_line, 1)
    assert d.note == "in pattern `round_trip`, at <input>:9:29"
    assert "note: in pattern `round_trip`" in d.render(result.sources)


def test_a_divergence_parameter_in_a_by_with_one_divergence_per_wire() -> None:
    source = textwrap.dedent("""
        pattern two(f, data; d: divergence = l1):
            f : Real[3] -> Real[3], Class[4]
            data : -> Real[3], Class[4]

            task fit:
                x, y <- data
                f(x) = x, y  by d, ce

        learner g : Real[3] -> Real[3], Class[4]
        data xs : -> Real[3], Class[4]
        use two(f = g, data = xs)
        use two(f = g, data = xs, d = huber) as h
    """)
    prog = program(source)
    assert prog.tasks["fit"].divergences == ("l1", "ce")
    assert prog.tasks["h.fit"].divergences == ("huber", "ce")


# ------------------------------------------------------------ syntax
def test_value_parameters_parse_and_format_to_a_fixed_point() -> None:
    source = "pattern p[X](f;s:number=0.5,  d :divergence = l1 , k: number):\n" \
             "    f : X -> X\n    def h = f\n"
    (pattern,) = parse(source).statements
    assert pattern.values == (
        ast.ValueParam("s", "number", 0.5), ast.ValueParam("d", "divergence", ast.TypeExpr("l1", None)),
        ast.ValueParam("k", "number", None))
    out = format_text(source)
    assert out.splitlines()[0] == "pattern p[X](f; s: number = 0.5, d: divergence = l1, k: number)" \
                                  ":"
    assert format_text(out) == out
    assert repr(parse(out).statements) == repr(parse(source).statements)


GAN = """
import gan from stdlib

learner gen : Real[4] -> Real[8]
learner disc : Real[8] -> Binary[1]
data xs : -> Real[8]
random z : -> Real[4] ~ normal

use gan(generator = gen, discriminator = disc, data = xs, noise = z{extra})
"""


@pytest.mark.parametrize(("extra", "wanted"), [("", "bce"), (", game = mse", "mse"),
                                               (", game = l1", "l1")])
def test_the_stdlib_gans_game_is_a_divergence_parameter(extra: str, wanted: str) -> None:
    prog = program(GAN.format(extra=extra))
    assert {prog.tasks[t].divergences for t in ("real", "fake", "fool")} == {(wanted,)}
    image = "Real[4, 4, 3]"
    both = program(cycle(image, image, extra))
    adversarial = ("real_a", "fake_a", "fool_a", "real_b", "fake_b", "fool_b")
    assert {both.tasks[t].divergences for t in adversarial} == {(wanted,)}
    assert cycle_divergences(both) == {("l1",)}
