"""Tasks that are not equations (a critic `wass`, a margin `hinge`, a likelihood `nll` of
data under a distribution) are never read as rewrite rules, and a goal or claim that is
one is undecided with a reason, never a crash of the solver."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskdsl.cli import main
from taskdsl.loader import check_text
from taskdsl.reasoning.analysis import analyse
from taskdsl.reasoning.claims import with_claims
from taskdsl.reasoning.theory import build

ROOT = Path(__file__).resolve().parents[3]
HETERO = (ROOT / "tests" / "practice" / "heteroscedastic.task").read_text(encoding="utf-8")
MORE = """
learner g : Real[1] -> Real[1]
task same:
    x, y <- pts
    g(x) = y
claim fitted: fit
"""


def test_a_likelihood_task_is_not_a_rewrite_rule_and_its_claim_is_undecided() -> None:
    result = with_claims(check_text(HETERO + MORE, "h.task"))
    assert not result.ok
    (found,) = [d for d in result.diagnostics if d.severity == "error"]
    assert found.code == "claim-undecided" and "not an equation" in found.message
    program = result.program
    theory = build(program)
    assert theory.unequal == ["fit"] and "fit" not in theory.tasks and "same" in theory.tasks


def test_a_critics_tasks_are_reported_as_not_equations(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "tests" / "practice" / "wgan.task"
    program = check_text(path.read_text(encoding="utf-8"), "wgan.task").program
    (objective,) = program.objectives.values()
    report = analyse(program, objective)
    assert set(report.unequal) == {t.equation.name for t in objective.terms}
    assert not report.adversarial and not report.redundant
    assert main(["prove", str(path), next(iter(report.unequal))]) == 1
    assert "is not an equation" in capsys.readouterr().out


def test_a_number_in_an_equation_is_shown_as_the_number(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    """Numbers are constants named with their type (`1:Real[1]`) inside the reasoning, so
    that `1` on two types are two symbols; what it prints shows the number."""
    path = tmp_path / "lit.task"
    path.write_text("data pts : -> Real[2]\nlearner disc : Real[2] -> Real[1]\n"
                    "task real:\n    x <- pts\n    disc(x) = 1  by mse\n", encoding="utf-8")
    assert main(["explain", "--simplify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "real: disc(x) = 1\n" in out and ":Real" not in out
