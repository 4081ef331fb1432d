"""Property tests of the JAX lowering, over random well-typed programs (Hypothesis).

Every program comes from :func:`tests.taskdsl.strategies.programs` (its
``fixed`` boxes declared as learners), each learner implemented by a tiny MLP,
with random parameters of the shapes ``Lowered.init`` gives and a random raw
batch built from ``Lowered.data_requests()``.  Over those programs:

1. The objective lowers, and its total is finite and equals Σ weight · task value,
   one finite scalar per term of the objective.
2. Gradient routing: an equation's own value has exactly zero gradient in the
   parameters of every learner outside its ``trains``, and finite gradients in all.
3. Reproducibility: the same key gives bit-identical parameters (``init``) and
   losses, across calls and across two independent lowerings; jit and eager agree.
4. The standalone module from ``compile_objective`` computes the same per-task
   values, total and gradient of the total as ``Lowered.loss`` on the same
   parameters, batch and key, random builtins (``sample``, ``drop``) included;
   the strategies write every builtin of the checker's table.

Each example compiles a few small XLA programs, so the counts are small; two
hand-written programs (``THROUGH``, ``SHARED_LET``) run every time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jax
import numpy as np
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import taskdsl
from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.lower import Lowered, lower
from taskdsl.builtins import BUILTINS
from taskdsl.ir import BoxKind, Call, Program
from taskdsl.types import WireType
from tests.backends.jax.compiled_modules import learner_fns
from tests.taskdsl.strategies import GENERATED_BUILTINS, programs

B = 4
TINY = Call("nets.mlp", (), {"width": 8, "depth": 1})
CATEGORICAL = ("Class", "Tokens")


def examples(count: int) -> settings:
    """Few examples, no deadline: every example compiles a few small XLA programs.  No
    shrinking: it would recompile for minutes, and a failing program is printed whole."""
    return settings(max_examples=count, deadline=None,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ----------------------------------------------------------------- strategies
def _without_fixed(text: str) -> str:
    """``fixed`` boxes declared as learners instead: a fixed box lowers only as ``load(...)``
    of a trained run, which a property test has no run for.  (Declarations start a line.)"""
    return re.sub(r"(?m)^fixed\b", "learner", text)


lowerable_programs = programs().map(_without_fixed)
seeds = st.integers(0, 2**32 - 1)

# Hand-written programs every run includes: a learner outside `trains` that gradient must
# flow *through* (routing), and a `let` shared by both sides whose inputs are a copied draw.
THROUGH = """
random noise : -> Real[4] ~ normal
random digit : -> Class[3] ~ uniform
data pairs : -> Real[4], Class[3]
learner get : Real[4] -> Class[3]
learner put : Real[4], Class[3] -> Real[4]
task put_get:
    x, _ <- pairs
    a <- digit
    get(put(x, a)) = a          trains put
task get_put:
    x <- noise
    put(x, get(x)) = x          trains put
objective both = put_get + 0.5 * get_put
"""
SHARED_LET = """
random noise : -> Real[4] ~ normal
learner g : Real[4], Real[4] -> Real[4]
learner f : Real[4] -> Real[4]
task t:
    v <- noise
    let a = g(v, v)
    f(a) = a                    trains f
"""

# Every builtin the strategies generate, `drop` on numbers and on words among them, in a
# program every compile property runs: the two paths must agree on the random ones too.
EVERY_BUILTIN = """
random noise : -> Real[4] ~ normal
random unit : -> Real[4] ~ uniform
random toks : -> Tokens[7, 3] ~ uniform
data pairs : -> Real[2, 3], Real[4]
learner f : Real[4] -> Real[4]
learner g : Tokens[7, 3] -> Real[8]
learner h : Real[6], Real[8] -> Gaussian[4]
learner k : Real[4] -> Real[3]
task every:
    v <- noise
    u <- unit
    s <- toks
    m, w <- pairs
    f(drop[0.25](add(sub(v, u), mul(neg(v), scale[0.5](w))))) = sample(h(flatten(m), g(drop[0.25](s))))
task joined:
    v <- noise
    u <- unit
    s <- toks
    g(s) = concat(v, u)                 trains g
task reduced:
    v <- noise
    m, w <- pairs
    let left = concat(concat(sum(m), mean(f(v))), concat(norm(m), dot(v, w)))
    left = concat(concat(cosine(m, m), sum(stop(f(w)))), concat(mean(w), norm(f(v))))
task classes:
    v <- noise
    softmax(k(v)) = argmax(add(k(stop(v)), one_hot(softmax(k(v)))))
objective all = every + 0.5 * joined + reduced + classes
"""


# ------------------------------------------------------------------- helpers
def checked(text: str) -> Program:
    result = taskdsl.check_text(text, "generated.task")
    assert result.ok, result.render()
    return result.program


def tiny_impls(program: Program) -> dict[str, Call]:
    return {n: TINY for n, d in program.declarations.items() if d.kind is BoxKind.LEARNER}


def raw_array(t: WireType, rng: np.random.Generator) -> np.ndarray:
    """A batch of raw data for a ``t`` wire: class indices for Class/Tokens, 0/1 bits for
    Binary, standard normal floats otherwise (Gaussian: mean and log-variance)."""
    shape = t.value_shape
    if t.kind in CATEGORICAL:
        return rng.integers(0, shape[-1], (B, *shape[:-1]))
    if t.kind == "Binary":
        return rng.integers(0, 2, (B, *shape)).astype(np.float32)
    return rng.standard_normal((B, *shape)).astype(np.float32)


def random_batch(low: Lowered, seed: int) -> dict[str, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    return {r.key: tuple(raw_array(t, rng) for t in r.types) for r in low.data_requests()}


def random_params(low: Lowered, seed: int) -> dict:
    """Parameters shaped as ``low.init`` makes them, drawn with numpy.

    ``init`` itself compiles for a second or more per program (eagerly too: its
    initialisers compile per shape), which would be most of these tests' time; the
    properties hold for any parameters, and nonzero biases exercise more of them.
    """
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(low.init, jax.random.key(0))
    return jax.tree.map(lambda s: (0.5 * rng.standard_normal(s.shape)).astype(s.dtype), shapes)


@dataclass
class Case:
    """One lowered program with parameters, a batch and a key to evaluate it on."""

    program: Program
    low: Lowered
    params: dict
    batch: dict
    key: jax.Array


def case(text: str, seed: int) -> Case:
    """``text`` checked and lowered with tiny MLPs, and parameters, a batch and a key drawn."""
    program = checked(text)
    low = lower(program, None, tiny_impls(program))
    return Case(program, low, random_params(low, seed), random_batch(low, seed),
                jax.random.key(seed))


# XLA's optimisations cost most of a compile and matter nothing to these properties.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def jit(fn, **options):
    return jax.jit(fn, compiler_options=FAST_COMPILE, **options)


def jitted_loss(low: Lowered):
    return jit(low.loss, static_argnums=3)


def as_float(x: jax.Array) -> float:
    return float(np.asarray(x))


def assert_identical(a: object, b: object) -> None:
    """The same pytree structure with bit-identical leaves."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def assert_close(a: jax.Array, b: jax.Array, what: str = "") -> None:
    np.testing.assert_allclose(as_float(a), as_float(b), rtol=1e-5, atol=1e-6, err_msg=what)


# ------------------------------------------------------------------ properties
@examples(12)
@example(THROUGH, 0)
@example(EVERY_BUILTIN, 3)
@given(lowerable_programs, seeds)
def test_total_is_the_weighted_sum_of_finite_task_values(text: str, seed: int) -> None:
    c = case(text, seed)
    total, values = jitted_loss(c.low)(c.params, c.batch, c.key, B)
    terms = c.low.objective.terms
    assert len(set(c.low.task_names)) == len(terms)
    assert sorted(values) == sorted(c.low.task_names)  # jit returns dicts sorted by key
    for name, value in values.items():
        assert np.shape(value) == () and np.isfinite(as_float(value)), (name, value)
    assert np.shape(total) == () and np.isfinite(as_float(total))
    expected = sum(float(t.weight) * as_float(values[n])
                   for t, n in zip(terms, c.low.task_names, strict=True))
    assert_close(total, expected)


@examples(10)
@example(THROUGH, 0)
@example(SHARED_LET, 1)
@given(lowerable_programs, seeds)
def test_each_equation_trains_only_its_trains(text: str, seed: int) -> None:
    c = case(text, seed)
    # d(each task's own value) / d(every learner's params), in one reverse pass per task.
    grads = jit(jax.jacrev(lambda p: c.low.loss(p, c.batch, c.key, B)[1]))(c.params)
    assert sorted(grads) == sorted(c.low.task_names)
    for name, term in zip(c.low.task_names, c.low.objective.terms, strict=True):
        trains = set(term.equation.trains)
        assert trains & set(grads[name]), (name, trains)  # it trains a learner it has
        for learner, grad in grads[name].items():
            leaves = [np.asarray(g) for g in jax.tree.leaves(grad)]
            assert leaves, learner
            assert all(np.isfinite(g).all() for g in leaves), (name, learner)
            if learner not in trains:
                assert all((g == 0).all() for g in leaves), (
                    f"`{name}` trains {sorted(trains)} but moves `{learner}`")


@examples(6)
@example(THROUGH, 0)
@given(lowerable_programs, seeds)
def test_the_same_key_gives_the_same_loss(text: str, seed: int) -> None:
    c = case(text, seed)
    init = jit(c.low.init)
    params = init(jax.random.key(seed))
    assert_identical(params, init(jax.random.key(seed)))
    run = jitted_loss(c.low)
    first = run(params, c.batch, c.key, B)
    assert_identical(first, run(params, c.batch, c.key, B))
    eager = c.low.loss(params, c.batch, c.key, B)
    assert_close(eager[0], first[0], "total")
    for name, value in first[1].items():
        assert_close(eager[1][name], value, name)
    # An independent lowering of the same text is the same function.
    again = lower(checked(text), None, tiny_impls(c.program))
    assert_identical(eager, again.loss(params, c.batch, c.key, B))


def test_the_strategies_generate_every_builtin() -> None:
    """A builtin the strategies never write is a builtin these properties never test."""
    assert set(BUILTINS) == GENERATED_BUILTINS


@examples(8)
@example(THROUGH, 0)
@example(SHARED_LET, 1)
@example(EVERY_BUILTIN, 2)
@given(lowerable_programs, seeds)
def test_the_compiled_module_computes_the_lowered_values(text: str, seed: int) -> None:
    """The same values, and the same gradient of the total (so the same routing)."""
    c = case(text, seed)
    namespace: dict = {"__name__": "compiled_objective"}
    exec(compile(compile_objective(c.program), "<compiled>", "exec"), namespace)
    apply, module_loss = learner_fns(c.low), namespace["loss"]
    compiled = jit(jax.value_and_grad(lambda p, b, k: module_loss(apply, p, b, k, B),
                                      has_aux=True))
    lowered = jit(jax.value_and_grad(c.low.loss, has_aux=True), static_argnums=3)
    (total_c, values_c), grad_c = compiled(c.params, c.batch, c.key)
    (total, values), grad = lowered(c.params, c.batch, c.key, B)
    assert sorted(values_c) == sorted(values)
    for name, value in values.items():
        assert_close(values_c[name], value, name)
    assert_close(total_c, total, "total")
    assert jax.tree.structure(grad_c) == jax.tree.structure(grad)
    for a, b in zip(jax.tree.leaves(grad_c), jax.tree.leaves(grad), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
