"""The lints: warnings (errors under ``--strict``) about programs that check but mislead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl import backend, check_file, check_text
from taskdsl.builtins import DIVERGENCES
from taskdsl.cli import main
from taskdsl.diagnostics import Diagnostic
from taskdsl.lints import LINT_CODES, SCORED_BY_LEFT, SCORED_KINDS, strict
from taskdsl.loader import Result

ROOT = Path(__file__).parents[2]
SHIPPED = sorted([*(ROOT / "examples").glob("*.task"), *(ROOT / "stdlib").glob("*.task")])


def lints(result: Result) -> list[tuple[str, int, int]]:
    """The lints found: code, line, column."""
    return [(d.code, d.span.line, d.span.column) for d in result.diagnostics
            if d.code in LINT_CODES and d.span is not None]


def only(result: Result, code: str) -> Diagnostic:
    (found,) = [d for d in result.diagnostics if d.code == code]
    assert found.severity == "warning"
    return found


# ------------------------------------------------------------ learner-on-right
CLASSES = """\
data mnist : -> Real[4], Class[3]
learner get : Real[4] -> Class[3]
task classify:
    x, y <- mnist
    {equation}
"""


def test_a_learner_alone_on_the_right_of_ce_is_a_located_warning_with_the_swap() -> None:
    result = check_text(CLASSES.format(equation="y = get(x)"), "t.task")
    assert result.ok  # a warning only
    warning = only(result, "learner-on-right")
    assert (warning.span.line, warning.span.column) == (5, 9)  # on `get`
    assert warning.found == "y = get(x)"
    assert "swap the two sides: `get(x) = y`" in (warning.help or "")
    assert "`ce`" in warning.message


def test_the_swap_keeps_the_users_spelling_and_every_wire() -> None:
    text = """\
data d : -> Real[4], Class[3], Binary[2]
learner both : Real[4] -> Class[3], Binary[2]
task t:
    x, y, b <- d
    y,   b = both( x )
"""
    result = check_text(text, "t.task")
    assert only(result, "learner-on-right").help.endswith("`both( x ) = y,   b`")


@pytest.mark.parametrize("equation", [
    "get(x) = y",  # the right way round
    "get(x) = get(x)",  # a learner on both sides
    "y = get(x)   by mse",  # mse trains either side
])
def test_no_warning_where_the_left_holds_a_learner_or_the_divergence_is_symmetric(
        equation: str) -> None:
    found = lints(check_text(CLASSES.format(equation=equation), "t.task"))
    assert [c for c, _, _ in found if c == "learner-on-right"] == []


@pytest.mark.parametrize(("equation", "warned"), [
    ("stop(get(x)) = get(x)", True),  # the left trains nothing: the learner is only right
    ("y = stop(get(x))", False),  # nothing is trained through the right either
    ("get(x) = stop(get(x))", False),  # the fix of the first
])
def test_a_learner_behind_stop_counts_on_neither_side(equation: str, warned: bool) -> None:
    found = lints(check_text(CLASSES.format(equation=equation), "t.task"))
    assert ("learner-on-right" in [c for c, _, _ in found]) == warned


def test_a_learner_inside_a_refinement_is_found_on_the_right() -> None:
    text = """\
data mnist : -> Real[4], Class[3]
learner inner : Real[4] -> Class[3]
learner outer : Real[4] -> Class[3]
refine outer(x) = inner(x)
task t:
    x, y <- mnist
    y = outer(x)
"""
    warning = only(check_text(text, "t.task"), "learner-on-right")
    assert "learner `outer`" in warning.message
    assert warning.found == "y = outer(x)" and "`outer(x) = y`" in (warning.help or "")


TYPES = {"Real": "Real[4]", "Class": "Class[3]", "Binary": "Binary[2]",
         "Gaussian": "Gaussian[4]", "Tokens": "Tokens[5, 3]"}


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(TYPES)).flatmap(
    lambda kind: st.tuples(st.just(kind), st.sampled_from(
        # `slope` differentiates a learner on the left, whatever the lint: `slope-side`.
        [d for d in DIVERGENCES[kind] if d != "slope"]), st.booleans())))
def test_the_lint_fires_exactly_for_a_scored_divergence_with_the_learner_on_the_right(
        case: tuple[str, str, bool]) -> None:
    kind, divergence, learner_right = case
    sides = ("t", "f(x)") if learner_right else ("f(x)", "t")
    text = (f"data d : -> Real[4], {TYPES[kind]}\nlearner f : Real[4] -> {TYPES[kind]}\n"
            f"task q:\n    x, t <- d\n    {sides[0]} = {sides[1]}   by {divergence}\n")
    result = check_text(text, "t.task")
    assert result.ok, result.render()
    wanted = learner_right and divergence in SCORED_BY_LEFT and kind in SCORED_KINDS
    assert [c for c, _, _ in lints(result)] == (["learner-on-right"] if wanted else [])


# ------------------------------------------------------------ unused-learner
def test_a_declared_learner_no_task_uses_is_a_warning_on_its_declaration() -> None:
    text = CLASSES.format(equation="get(x) = y").replace(
        "learner get", "learner spare : Real[4] -> Real[4]\nlearner get")
    assert lints(check_text(text, "t.task")) == [("unused-learner", 2, 1)]
    assert "`spare`" in only(check_text(text, "t.task"), "unused-learner").message


def test_learners_used_through_defs_refinements_and_patterns_are_used() -> None:
    text = """\
import classification from stdlib
data mnist : -> Real[4], Class[3]
learner a : Real[4] -> Real[4]
learner b : Real[4] -> Class[3]
learner c : Real[4] -> Class[3]
learner shown : Real[4] -> Class[3]
def ab(x: Real[4]) = b(a(x))
refine shown(x) = ab(x)
use classification(classifier = c, data = mnist)
task t:
    x, y <- mnist
    shown(x) = y
"""
    result = check_text(text, "t.task")
    assert result.ok, result.render()
    assert lints(result) == []


def test_a_learner_applied_but_discarded_is_reported_once() -> None:
    text = CLASSES.format(equation="get(x) = y\n    let _ = spare(x)").replace(
        "learner get", "learner spare : Real[4] -> Real[4]\nlearner get")
    codes = [d.code for d in check_text(text, "t.task").diagnostics]
    assert codes == ["discarded-learner"]


def test_a_file_of_declarations_without_tasks_is_not_linted() -> None:
    assert lints(check_text("learner f : Real[4] -> Real[4]\n", "lib.task")) == []


# ------------------------------------------------------------ unused-draw
def test_an_unused_drawn_name_is_a_warning_on_the_name_with_the_discarding_draw() -> None:
    text = CLASSES.format(equation="get(x) = get(x)")
    warning = only(check_text(text, "t.task"), "unused-draw")
    assert (warning.span.line, warning.span.column) == (4, 8)  # on `y`
    assert "`x, _ <- mnist`" in (warning.help or "")


def test_a_whole_unused_draw_and_each_of_its_names_are_reported() -> None:
    text = """\
data d : -> Real[4], Real[4]
random noise : -> Real[4] ~ normal
learner f : Real[4] -> Real[4]
task t:
    x, y <- d
    n <- noise
    a, b <- d
    f(x) = y
"""
    assert lints(check_text(text, "t.task")) == [
        ("unused-draw", 6, 5), ("unused-draw", 7, 5), ("unused-draw", 7, 8)]


@pytest.mark.parametrize(("draw", "equation"), [("x, y <- mnist", "get(x) = y"),
                                              ("x, _ <- mnist", "get(x) = get(x)")])
def test_used_and_discarded_draws_are_not_reported(draw: str, equation: str) -> None:
    text = CLASSES.format(equation=equation).replace("x, y <- mnist", draw)
    assert lints(check_text(text, "t.task")) == []


# ------------------------------------------------------------ when lints run
def test_no_lints_on_a_file_with_errors() -> None:
    text = CLASSES.format(equation="y = get(x)").replace(
        "learner get", "learner spare : Real[4] -> Real[4]\nlearner get") + "task u:\n    nope = 1\n"
    result = check_text(text, "t.task")
    assert not result.ok
    assert lints(result) == []


def test_an_imported_files_lints_are_its_own(tmp_path: Path) -> None:
    (tmp_path / "lib.task").write_text(CLASSES.format(equation="y = get(x)")
                                       .replace("task classify", "task lib_task"))
    main_file = tmp_path / "main.task"
    main_file.write_text("import lib\ntask mine:\n    x, y <- mnist\n    get(x) = y\n")
    assert lints(check_file(main_file)) == []
    assert [c for c, _, _ in lints(check_file(tmp_path / "lib.task"))] == ["learner-on-right"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_examples_and_stdlib_are_lint_free(path: Path) -> None:
    result = check_file(path)
    assert result.ok, result.render()
    assert lints(result) == [], result.render()


# ------------------------------------------------------------ --strict
def test_strict_makes_the_front_ends_warnings_errors_and_nothing_else() -> None:
    lint = Diagnostic("unused-draw", "m", None, "warning")
    machine = Diagnostic("data-missing-file", "m", None, "warning")
    error = Diagnostic("arity", "m", None, "error")
    assert [d.severity for d in strict([lint, machine, error])] == ["error", "warning", "error"]


def test_check_passes_with_lints_and_fails_with_them_under_strict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend, "installed", lambda: [])  # the front end's findings only
    path = tmp_path / "t.task"
    path.write_text(CLASSES.format(equation="y = get(x)"))
    assert main(["check", str(path)]) == 0
    assert "warning[learner-on-right]" in capsys.readouterr().err
    assert main(["check", "--strict", str(path)]) == 1
    err = capsys.readouterr().err
    assert "error[learner-on-right]" in err and "1 of 1 file(s) have errors" in err
    assert main(["check", "--strict", "--format", "json", str(path)]) == 1
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["ok"] is False
    assert [(d["code"], d["severity"], d["line"]) for d in entry["diagnostics"]] == [
        ("learner-on-right", "error", 5)]
