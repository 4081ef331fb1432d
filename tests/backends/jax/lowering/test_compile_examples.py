"""Every shipped program compiles, and its module computes what the lowering computes.

For every ``examples/*.task`` file and every ``stdlib`` pattern (used from a small
program): the compiled module's loss, each task's value and the gradient of the
total equal the lowering's on the same parameters, batch and key (tiny nets,
batch 2), and two steps of its train step equal two steps of the lowering's under
a schedule (the train block's, or one that alternates the trained learners), so
that ``schedule`` is honoured step for step.  (Without a schedule the step is the
same ``train_step`` on the same loss, whose gradients are compared directly.)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

import taskdsl
from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.errors import LowerError
from taskdsl.backends.jax.lowering.lower import (
    LoadedLearner,
    Lowered,
    load_calls,
    lower,
    make_train_step,
)
from taskdsl.backends.jax.lowering.step import scheduled
from taskdsl.backends.jax.training.settings import resolve
from taskdsl.cli import main
from taskdsl.ir import Program
from taskdsl.queries import find_objective, frozen_boxes, trained_learners
from tests.backends.jax.compiled_modules import learner_fns, module_of, raw_batch, tiny_impls

ROOT = Path(__file__).resolve().parents[4]
EXAMPLES = sorted((ROOT / "examples").glob("*.task"))
B = 2
# XLA's optimisations cost most of a compile and matter nothing to these equalities.
FAST_COMPILE = {"xla_backend_optimization_level": 0}

# Each stdlib pattern, used on small types.
PATTERNS = {
    "autoencoder": """
data images : -> Real[4, 4, 1]
learner enc : Real[4, 4, 1] -> Real[3]
learner dec : Real[3] -> Real[4, 4, 1]
use autoencoder(encoder = enc, decoder = dec, data = images)
""",
    "classification": """
data pairs : -> Real[5], Class[4]
learner f : Real[5] -> Class[4]
use classification(classifier = f, data = pairs)
""",
    "regression": """
data pairs : -> Real[5], Real[2]
learner f : Real[5] -> Real[2]
use regression(regressor = f, data = pairs)
""",
    "vae": """
data images : -> Real[6]
const prior : -> Gaussian[2] = 0
learner enc : Real[6] -> Gaussian[2]
learner dec : Real[2] -> Real[6]
use vae(encoder = enc, decoder = dec, data = images, prior = prior)
""",
    "cvae": """
data images : -> Real[6], Class[3]
const prior : -> Gaussian[2] = 0
learner enc : Real[6], Class[3] -> Gaussian[2]
learner dec : Real[2], Class[3] -> Real[6]
use cvae(encoder = enc, decoder = dec, data = images, prior = prior)
""",
    "gan": """
data images : -> Real[4]
random noise : -> Real[3] ~ normal
learner gen : Real[3] -> Real[4]
learner disc : Real[4] -> Binary[1]
use gan(generator = gen, discriminator = disc, data = images, noise = noise)
""",
    "cyclegan": """
data apples : -> Real[4]
data pears : -> Real[5]
learner g : Real[4] -> Real[5]
learner f : Real[5] -> Real[4]
learner da : Real[4] -> Binary[1]
learner db : Real[5] -> Binary[1]
use cyclegan(to_b = g, to_a = f, disc_a = da, disc_b = db, data_a = apples, data_b = pears)
""",
    "lens": """
data states : -> Real[6]
data views : -> Class[3]
learner get : Real[6] -> Class[3]
learner put : Real[6], Class[3] -> Real[6]
use lens(get = get, put = put, states = states, views = views)
""",
    "manipulation": """
data states : -> Real[6], Class[3]
random attrs : -> Class[3] ~ uniform
learner get : Real[6] -> Class[3]
learner put : Real[6], Class[3] -> Real[6]
use manipulation(get = get, put = put, states = states, attrs = attrs)
""",
}


def test_every_stdlib_pattern_is_used_here() -> None:
    assert set(PATTERNS) == {p.stem for p in (ROOT / "stdlib").glob("*.task")}


def pattern_program(name: str) -> Program:
    result = taskdsl.check_text(f"import {name} from stdlib\n{PATTERNS[name]}",
                                f"{name}_use.task")
    assert result.ok, result.render()
    return result.program


def stand_ins(program: Program, impls: dict) -> dict[str, LoadedLearner]:
    """A tiny net with fresh parameters for each box that ``load(...)`` implements: what a
    loaded run would hand ``lower``, without training one."""
    target = find_objective(program, None)
    calls = load_calls(program, target, impls)
    if not calls:
        return {}
    donor = lower(program, None, {**impls, **tiny_impls(program)})
    params = donor.init(jax.random.key(7))
    return {n: LoadedLearner(c.run, c.learner, donor.learners[n], params[n])
            for n, c in calls.items()}


def alternating(program: Program) -> tuple[tuple[str, ...], ...]:
    """The train block's schedule, or one that gives each trained learner its own step."""
    target = find_objective(program, None)
    written = resolve(program, target.name).schedule.phases
    if written:
        return tuple(tuple(sorted(p)) for p in written)
    trained = trained_learners(target, frozen_boxes(program, target, tiny_impls(program)))
    return tuple((n,) for n in trained)


def same_steps(low: Lowered, module: object, phases: Sequence[Collection[str]],
               batch: dict, what: str) -> None:
    """Two train steps of each, from the same parameters: the same metrics and params."""
    results = []
    for init_opt_state, step in (
            make_train_step(low, scheduled(optax.adam(1e-2), phases), donate=False,
                            batch_size=B),
            module.make_train_step(learner_fns(low), optax.adam(1e-2), B, donate=False)):
        params = low.init(jax.random.key(0))
        state = init_opt_state(params)
        for i in range(2):
            params, state, metrics = step(params, state, batch, jax.random.key(10 + i))
        results.append((params, metrics))
    (params_l, metrics_l), (params_c, metrics_c) = results
    assert set(metrics_c) == set(metrics_l), what
    for name in metrics_l:
        np.testing.assert_allclose(metrics_c[name], metrics_l[name], rtol=1e-5, atol=1e-6,
                                   err_msg=f"{what}: {name}")
    for a, b in zip(jax.tree.leaves(params_l), jax.tree.leaves(params_c), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=what)


def check_program(program: Program, folder: Path) -> None:
    """The compiled module equals the lowering: loss, task values, gradients, and train
    steps with and without a schedule."""
    target = find_objective(program, None)
    loads = {n for n in load_calls(program, target)}
    impls = tiny_impls(program, keep=loads)
    low = lower(program, None, impls, loaded=stand_ins(program, impls))
    batch, key = raw_batch(low, B, seed=1), jax.random.key(3)
    params = low.init(jax.random.key(0))
    plain = module_of(compile_objective(program, None, impls, phases=()),
                      folder / "plain.py")
    apply = learner_fns(low)
    lowered = jax.jit(jax.value_and_grad(low.loss, has_aux=True), static_argnums=3,
                      compiler_options=FAST_COMPILE)
    compiled = jax.jit(jax.value_and_grad(lambda p, b, k: plain.loss(apply, p, b, k, B),
                                          has_aux=True), compiler_options=FAST_COMPILE)
    (total, tasks), grads = lowered(params, batch, key, B)
    (total_c, tasks_c), grads_c = compiled(params, batch, key)
    assert list(tasks_c) == list(tasks)
    for name in tasks:
        np.testing.assert_allclose(tasks_c[name], tasks[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
        assert np.isfinite(float(tasks[name])), name
    np.testing.assert_allclose(total_c, total, rtol=1e-5, atol=1e-6)
    assert jax.tree.structure(grads_c) == jax.tree.structure(grads)
    for a, b in zip(jax.tree.leaves(grads_c), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    phases = alternating(program)
    if len(phases) < 2:
        return  # one learner in one phase: the schedule is simultaneous updates
    timed = module_of(compile_objective(program, None, impls, phases=phases),
                      folder / "scheduled.py")
    assert phases == timed.PHASES
    same_steps(low, timed, phases, batch, f"schedule {phases}")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_example_compiles_to_the_lowered_objective(path: Path, tmp_path: Path) -> None:
    check_program(taskdsl.load(path), tmp_path)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_stdlib_pattern_compiles_to_the_lowered_objective(name: str, tmp_path: Path
                                                               ) -> None:
    check_program(pattern_program(name), tmp_path)


SCHEDULED = PATTERNS["gan"] + """
train adversarial:
    schedule alternate(disc: 2, gen: 1)
"""


def scheduled_program() -> Program:
    result = taskdsl.check_text(f"import gan from stdlib\n{SCHEDULED}", "gan_use.task")
    assert result.ok, result.render()
    return result.program


def test_a_train_blocks_schedule_is_not_silently_dropped() -> None:
    with pytest.raises(LowerError, match="has a `schedule`, and no phases were given"):
        compile_objective(scheduled_program(), impls=tiny_impls(scheduled_program()))


def test_the_train_blocks_schedule_compiles_step_for_step(tmp_path: Path) -> None:
    program = scheduled_program()
    assert alternating(program) == (("disc",), ("disc",), ("gen",))
    check_program(program, tmp_path)


def test_a_schedule_naming_an_untrained_learner_is_refused() -> None:
    program = pattern_program("gan")
    with pytest.raises(LowerError, match="the schedule names `nobody`"):
        compile_objective(program, phases=[{"nobody"}])


def test_taskdsl_compile_writes_the_train_blocks_schedule(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "gan_use.task"
    source.write_text(f"import gan from stdlib\n{SCHEDULED}", encoding="utf-8")
    assert main(["compile", str(source), "-o", str(tmp_path / "gan.py")]) == 0
    module = module_of((tmp_path / "gan.py").read_text(encoding="utf-8"), tmp_path / "m.py")
    assert module.PHASES == (("disc",), ("disc",), ("gen",))
    assert "scheduled(optimizer, PHASES)" in (tmp_path / "gan.py").read_text(encoding="utf-8")
