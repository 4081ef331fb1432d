"""The table of docs/reasoning.md, one test a row, plus the checkers' own teeth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from taskdsl.cli import main
from taskdsl.loader import check_file
from taskdsl.reasoning.check import DerivationError, check
from taskdsl.reasoning.goals import read_goal
from taskdsl.reasoning.models import Model, holds
from taskdsl.reasoning.proving import Outcome, Verdict, prove

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def decide(path: str, goal: str, using: list[str] | None) -> Outcome:
    program = check_file(path).program
    return prove(program, read_goal(program, goal, path), using)


def assert_proved(outcome: Outcome) -> None:
    assert outcome.verdict is Verdict.PROVED
    for rule, steps in zip(outcome.goal, outcome.derivations, strict=True):
        assert steps is not None and steps, "a derivation is rebuilt"
        check(rule.lhs, rule.rhs, steps, outcome.rules)


def assert_refuted(outcome: Outcome) -> Model:
    assert outcome.verdict is Verdict.REFUTED
    model = outcome.model
    assert model is not None
    assert all(holds(r, model) is None for r in outcome.rules), "every assumption holds"
    assert any(holds(r, model) is not None for r in outcome.goal), "the goal fails"
    return model


def test_undo_follows_from_put_put_and_get_put(lens_file: str) -> None:
    outcome = decide(lens_file, "undo", ["put_put", "get_put"])
    assert_proved(outcome)
    assert [s.rule for s in outcome.derivations[0]] == ["put_put", "get_put"]


def test_last_put_is_read_back(lens_file: str) -> None:
    assert_proved(decide(lens_file, "get(put(put(x, a), b)) = b", ["put_get", "get_put", "put_put"]))


def test_put_put_is_refuted_by_put_get_and_get_put(lens_file: str) -> None:
    model = assert_refuted(decide(lens_file, "put_put", ["put_get", "get_put"]))
    assert "put" in model.tables and "get" in model.tables


def test_put_get_is_refuted_by_get_put(lens_file: str) -> None:
    assert_refuted(decide(lens_file, "put_get", ["get_put"]))


def test_cyclegan_cycles_prove_a_round_trip() -> None:
    path = f"{EXAMPLES}/sprites_cyclegan.task"
    outcome = decide(path, "to_blue(to_red(to_blue(a))) = to_blue(a)", ["cycle_a", "cycle_b"])
    assert_proved(outcome)


def test_a_cycle_does_not_hold_off_its_data() -> None:
    """cycle_b holds on blue data only, so it says nothing of to_blue(a) for red a."""
    path = f"{EXAMPLES}/sprites_cyclegan.task"
    outcome = decide(path, "to_blue(to_red(to_blue(a))) = to_blue(a)", ["cycle_b"])
    assert outcome.verdict is not Verdict.PROVED


def test_a_joint_draw_is_one_variable(tmp_path) -> None:
    """get(x) = y for a labelled pair says nothing of another draw's label."""
    path = tmp_path / "pairs.task"
    path.write_text("data d : -> Real[2], Class[2]\nlearner get : Real[2] -> Class[2]\n"
                    "task classify:\n    x, y <- d\n    get(x) = y\n", encoding="utf-8")
    goal = "x, _ <- d; _, y <- d; get(x) = y"  # two draws: equal in distribution at best
    assert decide(str(path), goal, None).verdict is Verdict.UNDECIDED
    assert_proved(decide(str(path), "x, y <- d; get(x) = y", ["classify"]))


def test_checker_rejects_a_tampered_step(lens_file: str) -> None:
    outcome = decide(lens_file, "undo", ["put_put", "get_put"])
    steps = list(outcome.derivations[0])
    steps[0] = dataclasses.replace(steps[0], rule="get_put")
    rule = outcome.goal[0]
    with pytest.raises(DerivationError):
        check(rule.lhs, rule.rhs, steps, outcome.rules)
    with pytest.raises(DerivationError):  # a rule that is not assumed
        check(rule.lhs, rule.rhs, outcome.derivations[0],
              [r for r in outcome.rules if r.name != "get_put"])


def test_evaluator_on_hand_written_tables(lens_file: str) -> None:
    """put(x, a) = a with get the identity is a lawful lens; put(x, a) = x breaks PutGet."""
    outcome = decide(lens_file, "put_get", ["get_put", "put_put"])
    rules = {r.name: r for r in outcome.rules}
    sizes = {"Real[4]": 2, "Class[3]": 2, "rows:states": 2}  # sorts are keyed by structure
    tables = {"proj:states#0": {(0,): 0, (1,): 1}, "get": {(0,): 0, (1,): 1}}
    lawful = Model(sizes, {**tables, "put": {(x, a): a for x in range(2) for a in range(2)}})
    assert all(holds(r, lawful) is None for r in (*rules.values(), *outcome.goal))
    inert = Model(sizes, {**tables, "put": {(x, a): x for x in range(2) for a in range(2)}})
    assert holds(rules["get_put"], inert) is None
    assert holds(outcome.goal[0], inert) == {"x": 0, "a": 1}


def test_gan_tasks_are_an_adversarial_pair(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyse", f"{EXAMPLES}/digits_gan.task"]) == 0
    out = capsys.readouterr().out
    assert "adversarial: fake and fool" in out
    assert "is_real = is_fake" in out


def test_redundant_task_is_found(tmp_path, lens_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    with open(lens_file, "a", encoding="utf-8") as f:
        f.write("\nobjective all = put_get + get_put + put_put + undo\n")
    assert main(["analyse", lens_file]) == 0
    assert "redundant: undo follows from" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "code", "text"), [
    (["undo", "--using", "put_put,get_put"], 0, "proved: undo"),
    (["put_put", "--using", "put_get,get_put"], 1, "refuted: put_put"),
    (["undoo"], 2, "did you mean `undo`"),
    (["undo", "--using", "nope"], 2, "no task `nope`"),
    (["get(put(x, a)) = q"], 2, "`q` in the goal is not drawn"),
    (["put(x"], 2, "is not a task"),
])
def test_cli_exit_codes(lens_file: str, capsys: pytest.CaptureFixture[str], args: list[str],
                        code: int, text: str) -> None:
    assert main(["prove", lens_file, *args]) == code
    captured = capsys.readouterr()
    assert text in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_cli_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "no/such.task", "undo"]) == 2
    assert main(["analyse", "no/such.task"]) == 2
    assert main(["analyse", f"{EXAMPLES}/digits_gan.task", "--objective", "adversarail"]) == 2
    assert "did you mean `adversarial`" in capsys.readouterr().err


def test_documented_derivation(capsys: pytest.CaptureFixture[str]) -> None:
    """The first example of docs/reasoning.md, word for word."""
    assert main(["prove", f"{EXAMPLES}/sprites_lens.task", "undo", "--using", "put_put,get_put"]) == 0
    out = capsys.readouterr().out
    doc = (Path(__file__).resolve().parents[3] / "docs" / "reasoning.md").read_text(encoding="utf-8")
    assert out.strip() in doc


def test_three_tasks_that_clash_only_together(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "three.task"
    path.write_text("const zero : -> Binary[1] = 0\nconst one : -> Binary[1] = 1\n"
                    "data xs : -> Real[2]\nlearner f : Real[2] -> Binary[1]\n"
                    "learner g : Real[2] -> Binary[1]\n"
                    "task a:\n    x <- xs\n    f(x) = zero\n"
                    "task b:\n    x <- xs\n    f(x) = g(x)\n"
                    "task c:\n    x <- xs\n    g(x) = one\n"
                    "objective all = a + b + c\n", encoding="utf-8")
    assert main(["analyse", str(path)]) == 0
    assert "adversarial: a and b and c cannot all hold" in capsys.readouterr().out


def test_a_type_that_collapses_is_adversarial(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyse", f"{EXAMPLES}/sprites_demo.task"]) == 0
    out = capsys.readouterr().out
    assert "adversarial: put_get and small_edit cannot all hold" in out
    assert "any two values of Colour equal" in out
    assert main(["analyse", f"{EXAMPLES}/sprites_lens.task"]) == 0
    assert "adversarial" not in capsys.readouterr().out  # a lawful lens is consistent
