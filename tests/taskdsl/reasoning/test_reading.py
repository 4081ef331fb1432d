"""The reading: which tasks are rules, the builtins' laws, refinements, idle parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskdsl.cli import main
from taskdsl.loader import check_file
from taskdsl.reasoning.analysis import analyse
from taskdsl.reasoning.check import check
from taskdsl.reasoning.goals import read_goal
from taskdsl.reasoning.proving import Verdict, prove
from taskdsl.reasoning.terms import distributional

ALGEBRA = """\
data xs : -> Real[2]
learner f : Real[2] -> Real[2]
learner g : Real[2] -> Real[2]
learner idle : Real[2] -> Real[2]

task swap:
    x <- xs
    f(add(x, g(x))) = x

task half:
    x <- xs
    g(x) = scale[0.5](scale[2](x))

objective both = swap + half
impl g = load("runs/nowhere")
"""

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def algebra(tmp_path: Path) -> str:
    path = tmp_path / "algebra.task"
    path.write_text(ALGEBRA, encoding="utf-8")
    return str(path)


def proved_by(path: str, goal: str, using: list[str]) -> list[str]:
    program = check_file(path).program
    outcome = prove(program, read_goal(program, goal, path), using)
    assert outcome.verdict is Verdict.PROVED
    (steps,) = outcome.derivations
    assert steps is not None
    check(outcome.goal[0].lhs, outcome.goal[0].rhs, steps, outcome.rules)
    return [s.rule for s in steps]


def test_add_is_commutative(algebra: str) -> None:
    assert "add is commutative" in proved_by(algebra, "f(add(g(x), x)) = x", ["swap"])


def test_scales_compose(algebra: str) -> None:
    assert proved_by(algebra, "g(x) = x", ["half"]).count("scale-compose") == 2


def test_commutativity_alone_proves_nothing_more(algebra: str) -> None:
    program = check_file(algebra).program
    outcome = prove(program, read_goal(program, "f(add(x, x)) = x", algebra), ["swap"])
    assert outcome.verdict is Verdict.REFUTED


def test_refinement_is_definitional() -> None:
    path = f"{EXAMPLES}/mnist_manipulator_latent.task"
    assert "add is commutative" in proved_by(
        path, "a <- digit; put(x, a) = dec(add(shift(a), enc(x)))", [])


@pytest.mark.parametrize(("path", "task", "expected"), [
    (f"{EXAMPLES}/mnist_vae.task", "reconstruct", True),  # sample: noise inside
    (f"{EXAMPLES}/digits_gan.task", "fool", False),  # holds for every z
    (f"{EXAMPLES}/sprites_lens.task", "classify", False),  # x, y one joint draw
    (f"{EXAMPLES}/sprites_lens.task", "lens.put_get", False),
])
def test_in_distribution_only(path: str, task: str, expected: bool) -> None:
    assert distributional(check_file(path).program.tasks[task]) is expected


def test_idle_learners_and_tasks(algebra: str) -> None:
    program = check_file(algebra).program
    report = analyse(program, program.objectives["both"])
    assert report.unconstrained == ["idle"]
    assert report.untrained == ["half"]  # g is loaded, so frozen
    assert report.adversarial == []


def test_distributional_goal_is_undecided(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", f"{EXAMPLES}/mnist_vae.task", "reconstruct"]) == 1
    assert "holds only in distribution" in capsys.readouterr().out
