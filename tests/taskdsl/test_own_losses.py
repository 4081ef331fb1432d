"""The checker's side of a researcher's own losses (issue 12): one divergence per output
wire, numbers in brackets (``kl[2]``), likelihoods comparing a distribution with Real data,
signed objective weights for linear critics, and numbers in equations typed from the
other side; each mistake a located error, never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl import check_text
from taskdsl.fmt import format_text
from taskdsl.ir import BoxKind

PRELUDE = """data pts : -> Real[3], Real[3]
learner f : Real[3] -> Real[3]
learner two : Real[3] -> Real[3], Class[4]
learner locate : Real[3] -> Gaussian[3]
learner bits : Real[3] -> Binary[3]
learner critic : Real[3] -> Real[1]
learner cls : Real[3] -> Class[4]
"""


def check(body: str):
    return check_text(PRELUDE + body, "t.task")


def codes(body: str) -> list[tuple[str, int, int]]:
    """Each error's code and where it points, the line counted in ``body``."""
    offset = PRELUDE.count("\n")
    return [(d.code, d.span.line - offset, d.span.column) for d in check(body).diagnostics
            if d.severity == "error"]


# ---------------------------------------------------- one divergence per wire
def test_each_output_wire_gets_its_own_divergence_in_order() -> None:
    result = check("task t:\n    x, y <- pts\n    two(x) = y, cls(y)  by l1, hinge\n")
    assert result.ok, result.render()
    assert result.program.tasks["t"].divergences == ("l1", "hinge")


def test_one_divergence_names_every_output_and_defaults_fill_none() -> None:
    same = check("task t:\n    x, y <- pts\n    two(x) = y, cls(y)  by mse\n")
    assert same.program.tasks["t"].divergences == ("mse", "mse")
    default = check("task t:\n    x, y <- pts\n    two(x) = y, cls(y)\n")
    assert default.program.tasks["t"].divergences == ("mse", "ce")


def test_a_divergence_that_does_not_fit_its_wire_is_located_at_by() -> None:
    assert codes("task t:\n    x, y <- pts\n    two(x) = y, cls(y)  by ce, mse\n") == [
        ("divergence-type", 3, 25)]
    assert codes("task t:\n    x, y <- pts\n    two(x) = y, cls(y)  by l1, mse, ce\n") == [
        ("by-count", 3, 25)]


# ------------------------------------------------------------------- kl[T]
def test_a_temperature_is_kept_per_output_and_written_back_by_fmt() -> None:
    text = PRELUDE + "\ntask t:\n    x, y <- pts\n    cls(x) = cls(y)  by kl[2.5]  trains cls\n"
    result = check_text(text, "t.task")
    assert result.ok, result.render()
    equation = result.program.tasks["t"]
    assert equation.params_of(0) == (2.5,)
    assert format_text(text) == text


@pytest.mark.parametrize("written", ["mse[2]", "kl[0]", "kl[-1]", "gauss kl[2]"])
def test_a_number_a_divergence_does_not_take_is_located(written: str) -> None:
    line = {"m": "f(x) = y", "k": "cls(x) = cls(y)", "g": "locate(x) = locate(y)"}[written[0]]
    written = written.removeprefix("gauss ")
    assert codes(f"task t:\n    x, y <- pts\n    {line}  by {written}\n") == [
        ("divergence-param", 3, 4 + len(line) + 3)]  # at `by`


# -------------------------------------------------------------- likelihoods
def test_a_gaussian_output_is_compared_with_real_data_by_nll_by_default() -> None:
    result = check("task t:\n    x, y <- pts\n    locate(x) = y\n")
    assert result.ok, result.render()
    assert result.program.tasks["t"].divergences == ("nll",)
    bits = check("task t:\n    x, y <- pts\n    bits(x) = y  by nll\n")
    assert bits.ok and bits.program.tasks["t"].divergences == ("nll",)


def test_likelihood_sides_the_wrong_way_or_by_a_distance_are_errors() -> None:
    assert codes("task t:\n    x, y <- pts\n    locate(x) = y  by mse\n") == [
        ("divergence-type", 3, 20)]
    assert [c for c, *_ in codes("task t:\n    x, y <- pts\n    y = locate(x)  by nll\n")] == [
        "side-types"]
    assert [c for c, *_ in codes("task t:\n    x, y <- pts\n    locate(x) = critic(y)\n")] == [
        "side-types"]  # Gaussian[3] and Real[1]: the shapes differ


# -------------------------------------------------------------- signed weights
CRITIC = """task real:
    x, _ <- pts
    critic(x) = 0  by wass

task fake:
    _, y <- pts
    critic(f(y)) = 0  by wass  trains critic

task fit:
    x, y <- pts
    f(x) = y
"""


def test_wass_tasks_may_be_subtracted_and_nested_signs_multiply() -> None:
    result = check(CRITIC + "objective gap = fake - real\nobjective all = fit - 2 * gap\n")
    assert result.ok, result.render()
    weights = {t.equation.name: t.weight for t in result.program.objectives["all"].terms}
    assert weights == {"fit": 1.0, "fake": -2.0, "real": 2.0}


@pytest.mark.parametrize("objective", ["fake - fit", "fake + -1 * fit", "-0.5 * fit + real"])
def test_maximising_a_distance_is_an_error_at_its_term(objective: str) -> None:
    found = codes(CRITIC + f"objective o = {objective}\n")
    assert [c for c, *_ in found] == ["objective-sign"]
    assert found[0][1] == CRITIC.count("\n") + 1


def test_a_subtracted_objective_is_checked_through_its_terms() -> None:
    found = codes(CRITIC + "objective inner = fit + real\nobjective o = fake - inner\n")
    assert [c for c, *_ in found] == ["objective-sign"]


# ------------------------------------------------------------------ literals
@settings(max_examples=25, deadline=None)
@given(st.floats(-100, 100, allow_nan=False).map(lambda v: round(v, 3)))
def test_a_number_becomes_a_constant_of_the_other_sides_type(value: float) -> None:
    result = check(f"task t:\n    x, _ <- pts\n    critic(x) = {value}  by hinge\n")
    assert result.ok, result.render()
    equation = result.program.tasks["t"]
    (box,) = equation.rhs.boxes
    assert box.kind is BoxKind.CONST and box.value == value
    assert equation.rhs.output_types == equation.lhs.output_types


def test_a_number_stands_opposite_one_wire_of_several() -> None:
    result = check("task t:\n    x, y <- pts\n    two(x) = y, 2\n")
    assert result.ok, result.render()
    assert [t.structural() for t in result.program.tasks["t"].rhs.output_types] == [
        "Real[3]", "Class[4]"]
    assert format_text(PRELUDE + "task t:\n    x, y <- pts\n    two(x) = y, 2\n").endswith(
        "two(x) = y, 2\n")


@pytest.mark.parametrize(("body", "code"), [
    ("task t:\n    x, _ <- pts\n    cls(x) = 4\n", "type-mismatch"),  # Class[4]: 0..3
    ("task t:\n    x, _ <- pts\n    cls(x) = 1.5\n", "type-mismatch"),
    ("task t:\n    x, _ <- pts\n    bits(x) = 2\n", "type-mismatch"),  # bits: [0, 1]
    ("task t:\n    x, y <- pts\n    f(x) = y, 1\n", "literal-side"),
    ("task t:\n    x, _ <- pts\n    f(x) = f(1)\n", "undefined"),
    ("def g(x: Real[3]) = 1\ntask t:\n    x, _ <- pts\n    f(x) = g(x)\n", "undefined"),
])
def test_a_number_without_a_type_to_take_is_a_located_error(body: str, code: str) -> None:
    result = check(body)
    assert not result.ok
    assert code in [d.code for d in result.diagnostics]
    assert all(d.span is not None for d in result.diagnostics)


def test_only_tasks_driven_to_equality_read_as_equations() -> None:
    """What the reasoning may take as ``lhs = rhs``: not a critic, a margin or a likelihood."""
    result = check(CRITIC + "task hinged:\n    x, _ <- pts\n    critic(x) = 1  by hinge\n"
               "task likely:\n    x, y <- pts\n    locate(x) = y\n")
    assert result.ok, result.render()
    tasks = result.program.tasks
    assert tasks["fit"].is_equality
    assert not any(tasks[n].is_equality for n in ("real", "fake", "hinged", "likely"))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([None, 2, 0.5, 3])), min_size=1,
                max_size=4))
def test_signed_terms_elaborate_to_signed_weights_and_format_as_written(
        terms: list[tuple[bool, int | float | None]]) -> None:
    written = []
    for i, (minus, weight) in enumerate(terms):
        term = "real" if weight is None else f"{weight} * real"
        written.append(("- " if minus else "") + term if i == 0
                       else (" - " if minus else " + ") + term)
    text = PRELUDE + "\n" + CRITIC + "\nobjective o = " + "".join(written) + "\n"
    result = check_text(text, "t.task")
    assert result.ok, result.render()
    expected = [(-1 if minus else 1) * (1 if w is None else w)
                for i, (minus, w) in enumerate(terms)]
    assert [t.weight for t in result.program.objectives["o"].terms] == expected
    assert format_text(text) == text
