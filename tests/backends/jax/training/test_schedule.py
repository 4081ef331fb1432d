"""Update schedules: `schedule simultaneous` (the default) and `schedule alternate(...)`.

In an alternating phase only that phase's learners change, parameters and optimizer
state, bit for bit; learners the schedule does not name update at every step.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax
import pytest

import taskdsl
from taskdsl.backends.jax.lowering.lower import Lowered, lower, make_train_step
from taskdsl.backends.jax.lowering.step import scheduled
from taskdsl.backends.jax.training import schedule
from taskdsl.backends.jax.training.errors import USAGE, TrainError
from taskdsl.backends.jax.training.runs import load_run
from taskdsl.backends.jax.training.schedule import SIMULTANEOUS
from taskdsl.backends.jax.training.settings import resolve
from taskdsl.backends.jax.training.train import train
from taskdsl.ir import Call, Program

B = 8

# A GAN, a learner (`aux`) that no schedule below names, and one (`frozen`) that no
# equation trains.
TEXT = """
import gan from stdlib
type Image = Real[8, 8, 1]
data digits : -> Image, Class[10]
random z : -> Real[3] ~ normal
learner gen : Real[3] -> Image
learner disc : Image -> Binary[1]
learner aux : Image -> Image
learner frozen : Image -> Image
use gan(generator = gen, discriminator = disc, data = digits, noise = z)
task copy:
    x, _ <- digits
    aux(frozen(x)) = x              trains aux
objective game = adversarial + copy

impl gen = nets.mlp(width = 8, depth = 1)
impl disc = nets.mlp(width = 8, depth = 1)
impl aux = nets.mlp(width = 8, depth = 1)
impl frozen = nets.mlp(width = 8, depth = 1)

train game:
    data digits = datasets.digits(split = "train")
    batch 8
    steps 3
    checkpoint_every 2
    optimizer adam(lr = 1e-2)
    schedule alternate(disc: 1, gen: 2)
"""


@pytest.fixture(scope="module")
def program() -> Program:
    result = taskdsl.check_text(TEXT)
    assert result.ok, result.render()
    return result.program


def phases(program: Program, *overrides: str) -> tuple[frozenset[str], ...]:
    return resolve(program, "game", overrides).schedule.phases


# ---------------------------------------------------------------- reading a schedule


def test_the_train_block_schedule_cycles_through_its_phases(program: Program) -> None:
    assert phases(program) == ({"disc"}, {"gen"}, {"gen"})
    assert resolve(program, "game").to_json()["schedule"] == "alternate(disc = 1, gen = 2)"


def test_set_overrides_the_schedule(program: Program) -> None:
    assert phases(program, "schedule=alternate(gen=1, disc=3)") == (
        {"gen"}, {"disc"}, {"disc"}, {"disc"})
    assert resolve(program, "game", ["schedule=simultaneous"]).schedule == SIMULTANEOUS
    assert phases(program, "schedule=simultaneous") == ()


def test_groups_update_together_one_step_each(program: Program) -> None:
    assert phases(program, "schedule=alternate([disc, aux], gen)") == ({"disc", "aux"}, {"gen"})


def test_without_a_schedule_updates_are_simultaneous(program: Program) -> None:
    assert resolve(program, "adversarial").schedule == SIMULTANEOUS


@pytest.mark.parametrize(("value", "message"), [
    ("alternating(disc=1)", "is not a schedule"),
    ("adam(lr=1)", "is not a schedule"),
    ("alternate(disc=0, gen=1)", "gives `disc` a number of steps that is not a whole number"),
    ("alternate(disc=1.5)", "gives `disc` a number of steps"),
    ("alternate(disc=true)", "gives `disc` a number of steps"),
    ("alternate()", "names no learner"),
    ('alternate([disc, "gen"])', "has a group that is not learner names"),
    ("alternate([], gen)", "has a group that is not learner names"),
    ("alternate(disc, gen=1)", "mixes `learner: steps` with groups"),
    ("alternate(dsc=1, gen=1)", "names `dsc`, which no equation of `game` trains; "
                                "expected one of: `disc`, `gen`, `aux`; did you mean `disc`?"),
    ("alternate(dsc: 1, gen: 1)", "names `dsc`"),  # a file's spelling, in `--set` too
    ("alternate(frozen=1, gen=1)", "names `frozen`, which no equation"),
    ("3", r"setting `schedule` in `--set schedule=3` must be `simultaneous` or"),
])
def test_a_bad_schedule_says_what_is_wrong(program: Program, value: str, message: str) -> None:
    with pytest.raises(TrainError, match=message) as error:
        resolve(program, "game", [f"schedule={value}"])
    assert error.value.exit_code == USAGE


def test_a_schedule_cannot_name_a_loaded_learner(program: Program) -> None:
    """Its steps would update nothing; the message names the run it was loaded from."""
    with pytest.raises(TrainError) as error:
        resolve(program, "game", ['impl.gen=load("runs/generator")',
                                  "schedule=alternate(disc: 1, gen: 1)"])
    # The file's own schedule is reported first, at its line: it names `gen` too.
    assert str(error.value).startswith("<input>:27:14: `schedule alternate(disc = 1, gen = 2)` "
                                       "names `gen`, which is loaded from runs/generator and "
                                       "never updates")
    with pytest.raises(TrainError, match="expected one of: `disc`, `aux`"):
        schedule.parse(Call("alternate", (), {"gen": 1}), "alternate(gen: 1)",
                       program.objective("game"), {"gen": "loaded from runs/generator"})


# ---------------------------------------------------------------- the step


def bits(tree: Any) -> list[bytes]:
    """Every leaf's bytes: equal lists mean bit-identical trees (-0.0 differs from 0.0)."""
    return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree)]


@pytest.fixture(scope="module")
def lowered(program: Program) -> Lowered:
    return lower(program, "game")


def steps(lowered: Lowered, program: Program, schedule: str, count: int
          ) -> list[tuple[dict, Any]]:
    """(params, optimizer state) before the first step and after each of ``count`` steps."""
    optimizer = scheduled(optax.adam(1e-2), phases(program, f"schedule={schedule}"))
    init_opt, step = make_train_step(lowered, optimizer, donate=False)
    params = lowered.init(jax.random.key(0))
    # Zero biases made -0.0: a paused learner must keep the sign of its zeros too.
    params["gen"] = jax.tree.map(np.negative, params["gen"])
    opt_state = init_opt(params)
    rng = np.random.default_rng(0)
    history = [(params, opt_state)]
    for i in range(count):
        batch = {r.key: (rng.random((B, 8, 8, 1), np.float32), rng.integers(0, 10, B))
                 for r in lowered.data_requests()}
        params, opt_state, _ = step(params, opt_state, batch, jax.random.key(i))
        history.append((params, opt_state))
    return history


def changed(before: tuple[dict, Any], after: tuple[dict, Any]) -> set[str]:
    """The learners whose parameters are not bit-identical across a step."""
    return {n for n in before[0] if bits(before[0][n]) != bits(after[0][n])}


def test_an_alternating_phase_changes_only_its_learners(lowered: Lowered,
                                                        program: Program) -> None:
    history = steps(lowered, program, "alternate(disc=1, gen=1)", 3)
    moved = [changed(a, b) for a, b in pairwise(history)]
    # `aux` is not named, so it updates every step; `frozen` is trained by nothing.
    assert moved == [{"disc", "aux"}, {"gen", "aux"}, {"disc", "aux"}]
    for ((_, before), (_, after)), paused in zip(pairwise(history), ["gen", "disc", "gen"],
                                                 strict=True):
        assert bits(before.learners[paused]) == bits(after.learners[paused])
    assert any(np.signbit(leaf).any() for leaf in jax.tree.leaves(history[1][0]["gen"]))


def test_simultaneous_updates_every_trained_learner(lowered: Lowered, program: Program) -> None:
    history = steps(lowered, program, "simultaneous", 2)
    assert [changed(a, b) for a, b in pairwise(history)] == [
        {"disc", "gen", "aux"}] * 2


def test_each_learner_counts_its_own_adam_steps(lowered: Lowered, program: Program) -> None:
    """Adam's bias correction uses a learner's own number of updates, not the run's."""
    _, state = steps(lowered, program, "alternate(disc=2, gen=1)", 3)[-1]
    counts = {n: int(jax.tree.leaves(state.learners[n])[0]) for n in ("disc", "gen", "aux")}
    assert counts == {"disc": 2, "gen": 1, "aux": 3}
    assert int(state.step) == 3


# ---------------------------------------------------------------- training


@pytest.mark.slow  # three training runs, each compiling its step
def test_a_resumed_alternating_run_continues_the_cycle(tmp_path: Path,
                                                       program: Program) -> None:
    """The phase lives in the checkpointed optimizer state, so resuming keeps the cycle,
    and a finished run loads back (its optimizer state has the schedule's shape)."""
    path = tmp_path / "game.task"
    path.write_text(TEXT, encoding="utf-8")
    loaded = taskdsl.load(path)
    whole = train(loaded, "game", (), tmp_path / "whole", progress=False)
    train(loaded, "game", ("steps=2",), tmp_path / "resumed", progress=False)
    resumed = train(loaded, "game", (), tmp_path / "resumed", resume=True, progress=False)
    assert resumed.step == whole.step == 3
    assert bits(resumed.params) == bits(whole.params)
    assert bits(load_run(tmp_path / "whole").params) == bits(whole.params)
    config = json.loads((tmp_path / "whole" / "config.json").read_text(encoding="utf-8"))
    assert config["settings"]["schedule"] == "alternate(disc = 1, gen = 2)"
