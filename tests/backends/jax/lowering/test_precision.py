"""``precision`` and ``matmul_precision`` (lowering/precision.py): the lowering's train step
computes in bfloat16 on float32 parameters, under the matmul precision asked for, and a
compiled module's step computes exactly as the lowering's does."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import taskdsl
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.lower import lower, make_train_step
from taskdsl.backends.jax.lowering.precision import cast_floats, with_precision
from taskdsl.backends.jax.training.settings import resolve
from tests.backends.jax.compiled_modules import learner_fns, module_of, raw_batch

B = 8
SOURCE = """
type Img = Real[8, 8, 1]
data pairs : -> Img, Class[10]
random noise : -> Real[2] ~ normal
learner clf : Img -> Class[10]
learner dec : Real[2] -> Img

task classify:
    x, y <- pairs
    clf(x) = y

task decode:
    x, _ <- pairs
    n <- noise
    clf(dec(n)) = clf(x)      trains dec

objective both = classify + 0.5 * decode

impl clf = nets.mlp(width = 8, depth = 1)
impl dec = nets.mlp(width = 8, depth = 1)

train both:
    data pairs = datasets.digits()
    batch 8
"""


@pytest.fixture(scope="module")
def lowered():
    result = taskdsl.check_text(SOURCE)
    assert result.ok, result.render()
    return result.program, lower(result.program, "both")


def _step(low, precision: str, matmul: str = "default"):
    return make_train_step(low, optax.adam(1e-2), batch_size=B, precision=precision,
                           matmul_precision=matmul)


def test_bfloat16_computes_in_bfloat16_on_float32_state(lowered) -> None:
    """The step's arithmetic is bfloat16; parameters, optimizer state, loss and metrics
    stay float32; the update is float32's within bfloat16's precision."""
    _, low = lowered
    batch, key = raw_batch(low, B), jax.random.key(1)
    results = []
    for precision in ("float32", "bfloat16"):
        init_opt_state, step = make_train_step(low, optax.sgd(1.0), batch_size=B,
                                               precision=precision, donate=False)
        params = low.init(jax.random.key(0))
        opt_state = init_opt_state(params)
        text = step.lower(params, opt_state, batch, key).as_text()
        assert ("bf16" in text) == (precision == "bfloat16")
        results.append((params, *step(params, opt_state, batch, key)))
    (p32, n32, _, m32), (_, n16, s16, m16) = results
    floats = [x for x in jax.tree.leaves((n16, s16)) if jnp.issubdtype(x.dtype, jnp.floating)]
    assert floats and all(x.dtype == jnp.float32 for x in floats)
    assert all(v.dtype == jnp.float32 and np.isfinite(v) for v in m16.values())
    # SGD(1): the update is the gradient; bfloat16 keeps about 3 significant digits.
    changed = 0
    for before, a, b in zip(jax.tree.leaves(p32), jax.tree.leaves(n32), jax.tree.leaves(n16),
                            strict=True):
        g32, g16 = np.asarray(before - a), np.asarray(before - b)
        assert np.abs(g16 - g32).max() <= 0.05 * np.abs(g32).max() + 1e-3
        changed += bool(np.abs(g16).max() > 0)
    assert changed > 0
    assert float(m16["loss"]) == pytest.approx(float(m32["loss"]), rel=0.02)


@pytest.mark.parametrize(("matmul", "hlo"), [("highest", "HIGHEST"), ("high", "HIGH")])
def test_matmul_precision_reaches_every_product(lowered, matmul: str, hlo: str
                                                ) -> None:
    _, low = lowered
    init_opt_state, step = _step(low, "float32", matmul)
    params = low.init(jax.random.key(0))
    text = step.lower(params, init_opt_state(params), raw_batch(low, B),
                      jax.random.key(1)).as_text()
    dots = [line for line in text.splitlines() if "dot_general" in line]
    assert dots and all(f"precision = [{hlo}, {hlo}]" in line for line in dots)


def test_float32_and_default_change_nothing() -> None:
    def loss(params, batch, key):
        return params, {}

    assert with_precision(loss) is loss
    mixed = cast_floats({"x": jnp.ones(2), "y": jnp.ones(2, jnp.int32)}, jnp.bfloat16)
    assert (mixed["x"].dtype, mixed["y"].dtype) == (jnp.bfloat16, jnp.int32)


def test_a_compiled_module_trains_in_the_runs_precision(lowered, tmp_path: Path
                                                        ) -> None:
    """The module's step is the lowering's step, bit for bit in dtype, to float rounding."""
    program, low = lowered
    precision, matmul = "bfloat16", "highest"
    source = compile_objective(program, "both", precision=precision, matmul_precision=matmul)
    assert f"PRECISION = {precision!r}" in source
    assert f"MATMUL_PRECISION = {matmul!r}" in source
    module = module_of(source, tmp_path / "both_precision.py")
    batch, key = raw_batch(low, B), jax.random.key(3)
    results = []
    for init_opt_state, step in (_step(low, precision, matmul),
                                 module.make_train_step(learner_fns(low), optax.adam(1e-2), B)):
        params = low.init(jax.random.key(0))
        results.append(step(params, init_opt_state(params), batch, key))
    (params_l, _, metrics_l), (params_c, _, metrics_c) = results
    for name in metrics_l:
        np.testing.assert_allclose(metrics_c[name], metrics_l[name], rtol=1e-5, err_msg=name)
    for a, b in zip(jax.tree.leaves(params_l), jax.tree.leaves(params_c), strict=True):
        assert a.dtype == b.dtype == jnp.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    text = module.make_train_step(learner_fns(low), optax.adam(1e-2), B)[1].lower(
        low.init(jax.random.key(0)), results[0][1], batch, key).as_text()
    assert "bf16" in text and "precision = [HIGHEST, HIGHEST]" in text


def test_a_default_module_says_nothing_of_precision(lowered) -> None:
    program, _ = lowered
    source = compile_objective(program, "both")
    assert "PRECISION" not in source and "with_precision" not in source


@pytest.mark.parametrize(("line", "expected"), [
    ("precision bf8", "`float32` or `bfloat16`"),
    ("matmul_precision fast", "`default`, `high` or `highest`"),
])
def test_a_bad_precision_is_located_with_the_choices(line: str, expected: str) -> None:
    text = SOURCE + f"    {line}\n"
    result = taskdsl.check_text(text)
    assert result.ok, result.render()
    diagnostics = check_program(result.program)
    assert [d.code for d in diagnostics] == ["setting-value"]
    assert diagnostics[0].expected == expected
    span = diagnostics[0].span
    assert span is not None and span.line == text.count("\n")


@pytest.mark.parametrize("spelled", ["bfloat16", '"bfloat16"'])
def test_precision_is_read_bare_or_quoted(spelled: str) -> None:
    result = taskdsl.check_text(SOURCE + f"    precision {spelled}\n    matmul_precision high\n")
    settings = resolve(result.program, "both")
    assert (settings.precision, settings.matmul_precision) == ("bfloat16", "high")
    assert settings.to_json()["precision"] == "bfloat16"
