"""Divergences of issue 12's parts 2-3: a user's own by dotted path (``by mypkg.losses:huber``),
in-batch negatives (``infonce[T]``) and the gradient penalty (``slope``, with ``mix``),
against formulas written independently (numpy), with the checks that refuse them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import taskdsl
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.lowering.builtins import mix
from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.divergences import (
    infonce,
    input_slope,
    slope,
    user_divergence_problems,
)
from taskdsl.backends.jax.lowering.errors import LowerError
from taskdsl.backends.jax.lowering.lower import lower
from taskdsl.fmt import format_text
from taskdsl.types import WireType
from tests.backends.jax.compiled_modules import learner_fns, module_of, raw_batch, tiny_impls

FLOATS = st.floats(-3, 3, allow_nan=False, width=32)
REAL2 = WireType("Real", (2,))

LOSSES = '''
import jax.numpy as jnp
from pathlib import Path

Path(__file__).with_name("imported").write_text("yes")


def cube(lhs, rhs):
    return jnp.mean(jnp.abs(lhs - rhs) ** 3, axis=1)


def whole(lhs, rhs):
    return jnp.mean(lhs - rhs)


def broken(lhs, rhs):
    return lhs @ jnp.ones((7, 7))


not_a_function = 3
'''

TASK = """
data pts : -> Real[2], Real[2]
learner f : Real[2] -> Real[2]

task fit:
    x, y <- pts
    f(x) = y  by {by}
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package ``mylosses`` on ``sys.path`` (as an installed one would be), forgotten
    afterwards so each test imports it afresh; it leaves a file ``imported`` when imported."""
    root = tmp_path / "site" / "mylosses"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("", encoding="utf-8")
    (root / "losses.py").write_text(LOSSES, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delenv("TASKDSL_ALLOW_IMPORT", raising=False)
    yield root
    for name in [m for m in sys.modules if m.partition(".")[0] == "mylosses"]:
        del sys.modules[name]


@pytest.fixture
def allowed(package: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TASKDSL_ALLOW_IMPORT", "mylosses")
    return package


# ------------------------------------------------------------------ infonce
def numpy_infonce(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-6)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-6)
    logits = a @ b.T / t
    logits -= logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.diag(log_softmax)


# Away from 0 with no filter (old Hypothesis versions give up on a filtered array's elements).
AWAY_FROM_ZERO = st.tuples(st.floats(0.125, 3.0, width=32), st.booleans()).map(
    lambda pair: pair[0] if pair[1] else -pair[0])

JIT_INFONCE = jax.jit(lambda a, b, t: infonce(a, b, temperature=t))


@settings(max_examples=15, deadline=None)
@given(arrays(np.float32, (4, 3), elements=AWAY_FROM_ZERO),
       arrays(np.float32, (4, 3), elements=AWAY_FROM_ZERO),
       st.sampled_from([0.1, 0.5, 1.0]))
def test_infonce_is_the_cross_entropy_of_each_rows_cosines_with_its_partner_on_the_diagonal(
        a: np.ndarray, b: np.ndarray, t: float) -> None:
    got = np.asarray(JIT_INFONCE(jnp.asarray(a), jnp.asarray(b), t))
    np.testing.assert_allclose(got, numpy_infonce(a, b, t), rtol=1e-4, atol=1e-4)


def test_infonce_rewards_telling_partners_apart_not_collapsing() -> None:
    """Distinct partners matched: near 0 at a low temperature; everything collapsed to one
    point: log B, however well the partners agree."""
    eye = jnp.eye(4)
    assert float(JIT_INFONCE(eye, eye, 0.05).mean()) < 1e-3
    same = jnp.ones((4, 4))
    np.testing.assert_allclose(JIT_INFONCE(same, same, 0.05), np.log(4), rtol=1e-5)


# ------------------------------------------------------------ slope and mix
def linear_critic(params: jax.Array, inputs: jax.Array) -> tuple[jax.Array]:
    return (inputs @ params[:, None],)


@jax.jit
def linear_slope(w: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    measured = input_slope(linear_critic, w, x)
    return measured, slope(measured, jnp.ones((x.shape[0], 1)))


@settings(max_examples=10, deadline=None)
@given(arrays(np.float32, (3,), elements=FLOATS), arrays(np.float32, (5, 3), elements=FLOATS))
def test_the_slope_of_a_linear_critic_is_its_weights_length_at_every_point(
        w: np.ndarray, x: np.ndarray) -> None:
    got, penalty = map(np.asarray, linear_slope(jnp.asarray(w), jnp.asarray(x)))
    np.testing.assert_allclose(got, np.full((5, 1), np.linalg.norm(w)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(penalty, (np.linalg.norm(w) - 1) ** 2, rtol=1e-4, atol=1e-5)


def test_the_slope_of_a_curved_critic_is_per_example_and_trains_its_parameters() -> None:
    """c(x) = a·Σx²: slope 2|a|·‖x‖ at each example, and the penalty's gradient in a."""

    def critic(a: jax.Array, inputs: jax.Array) -> tuple[jax.Array]:
        return (a * jnp.sum(inputs ** 2, axis=1, keepdims=True),)

    x = jnp.array([[1.0, 0.0], [3.0, 4.0]])
    got = np.asarray(input_slope(critic, jnp.asarray(0.5), x))
    np.testing.assert_allclose(got[:, 0], [1.0, 5.0], rtol=1e-6)
    grad = jax.jit(jax.grad(lambda a: slope(input_slope(critic, a, x), jnp.ones((2, 1))).sum()))(0.5)
    # d/da Σ (2a‖x‖ - 1)² = Σ 2(2a‖x‖ - 1)·2‖x‖ = 0 + 2·4·10
    np.testing.assert_allclose(float(grad), 80.0, rtol=1e-5)


@settings(max_examples=20, deadline=None)
@given(arrays(np.float32, (3, 2, 2), elements=FLOATS), arrays(np.float32, (3, 2, 2), elements=FLOATS),
       arrays(np.float32, (3, 1), elements=st.floats(0, 1, width=32)))
def test_mix_is_each_examples_share_of_the_way(x: np.ndarray, y: np.ndarray, u: np.ndarray) -> None:
    got = np.asarray(mix(jnp.asarray(x), jnp.asarray(y), jnp.asarray(u)))
    np.testing.assert_allclose(got, u[:, :, None] * x + (1 - u[:, :, None]) * y, rtol=1e-5,
                               atol=1e-6)


# ------------------------------------------------------------ the checker
@pytest.mark.parametrize(("equation", "code"), [
    ("mean(f(x)) = 1  by slope", "slope-side"),  # a builtin after the learner
    ("g(x, y) = 1  by slope", "slope-side"),  # a learner of two inputs
    ("f(x) = f(y)  by infonce[0]", "divergence-param"),
    ("f(x) = f(y)  by mse[2]", "divergence-param"),
])
def test_the_checker_refuses_what_these_divergences_cannot_mean(equation: str, code: str) -> None:
    text = ("data pts : -> Real[2], Real[2]\nlearner f : Real[2] -> Real[1]\n"
            "learner g : Real[2], Real[2] -> Real[1]\n\n"
            f"task t:\n    x, y <- pts\n    {equation}\n")
    result = taskdsl.check_text(text, "t.task")
    assert [d.code for d in result.diagnostics if d.severity == "error"] == [code]


def test_a_dotted_path_parses_formats_and_is_never_an_equation_to_rewrite_by() -> None:
    text = TASK.format(by="mylosses.losses:cube").lstrip()
    assert format_text(text.replace("  by ", "   by  ")) == text
    result = taskdsl.check_text(text, "t.task")  # the front end imports nothing
    assert result.ok, result.render()
    equation = result.program.tasks["fit"]
    assert equation.divergences == ("mylosses.losses:cube",)
    assert not equation.is_equality


# ------------------------------------------------- a user's divergence, the backend
def test_an_untrusted_divergence_is_refused_without_importing_it(package: Path) -> None:
    found = user_divergence_problems("mylosses.losses:cube", REAL2, REAL2)
    assert [p.code for p in found] == ["user-function-not-allowed"]
    assert "--allow-import mylosses" in (found[0].help or "")
    assert not (package / "imported").exists()


@pytest.mark.parametrize(("path", "code"), [
    ("mylosses.losses:cube", None),
    ("mylosses.losses:whole", "user-divergence-shape"),
    ("mylosses.losses:broken", "user-divergence-shape"),
    ("mylosses.losses:absent", "user-function-missing"),
    ("mylosses.losses:not_a_function", "user-function-missing"),
    ("mylosses.nowhere:cube", "user-function-import"),
])
def test_an_allowed_divergence_is_traced_on_the_tasks_sides(allowed: Path, path: str,
                                                             code: str | None) -> None:
    found = user_divergence_problems(path, REAL2, REAL2)
    assert [p.code for p in found] == ([code] if code else [])


def test_the_backend_check_locates_a_user_divergences_problem_at_its_task(allowed: Path) -> None:
    result = taskdsl.check_text(TASK.format(by="mylosses.losses:whole"), "t.task")
    assert result.ok, result.render()
    found = check_program(result.program)
    assert [d.code for d in found] == ["user-divergence-shape"]
    assert found[0].span.line == result.program.tasks["fit"].span.line


def test_a_user_divergence_lowers_and_compiles_to_its_formula(allowed: Path,
                                                             tmp_path: Path) -> None:
    program = taskdsl.check_text(TASK.format(by="mylosses.losses:cube"), "t.task").program
    low = lower(program, impls=tiny_impls(program))
    params, batch, key = low.init(jax.random.key(0)), raw_batch(low, 4, seed=1), jax.random.key(2)
    _, tasks = low.loss(params, batch, key, 4)
    ((x, y),) = batch.values()
    (fx,) = low.apply("f", params, x)
    expected = np.mean(np.mean(np.abs(np.asarray(fx) - y) ** 3, axis=1))
    np.testing.assert_allclose(float(tasks["fit"]), expected, rtol=1e-5)
    source = compile_objective(program, impls=tiny_impls(program))
    assert "importlib.import_module('mylosses.losses')" in source
    module = module_of(source, tmp_path / "compiled.py")
    _, compiled = module.loss(learner_fns(low), params, batch, key, 4)
    np.testing.assert_allclose(float(compiled["fit"]), expected, rtol=1e-5)


def test_lowering_or_compiling_an_untrusted_divergence_is_refused(package: Path) -> None:
    program = taskdsl.check_text(TASK.format(by="mylosses.losses:cube"), "t.task").program
    for make in (lambda: lower(program, impls=tiny_impls(program)),
                 lambda: compile_objective(program, impls=tiny_impls(program))):
        with pytest.raises(LowerError) as caught:
            make()
        assert caught.value.code == "user-function-not-allowed"
    assert not (package / "imported").exists()
