"""The contract: every builtin, distribution, constant and divergence of the checker's tables
has one meaning, and every path that runs the IR has it.

The checker's tables (``taskdsl.builtins``) are enumerated, not copied: for each
entry a program below uses it, and

* the lowering computes it (``Lowered.loss``) and the compiled module computes the
  same value for its task (to 1e-5), with the same gradients;
* a builtin runs inside a loaded run: ``Run.call`` of a refined learner that uses it
  gives the value its formula says, in inference mode (``drop`` the identity,
  ``sample`` drawing from the call's key).

A table entry without a case here fails ``test_every_*_has_a_case``; a case that one
path cannot run fails its own test, named after the entry.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import taskdsl
from taskdsl.backends.jax.lowering import builtins as backend
from taskdsl.backends.jax.lowering.compile import FUNCTIONS, compile_objective, emitted_functions
from taskdsl.backends.jax.lowering.divergences import function
from taskdsl.backends.jax.lowering.interpret import Mode, plan_diagram
from taskdsl.backends.jax.lowering.lower import LoadedLearner, Lowered, lower
from taskdsl.backends.jax.training.runs import Run
from taskdsl.backends.jax.training.settings import resolve
from taskdsl.builtins import BUILTINS, CROSS_DIVERGENCES, DISTRIBUTIONS, DIVERGENCES
from taskdsl.ir import BoxKind, Program
from tests.backends.jax.compiled_modules import (
    TINY,
    learner_fns,
    module_of,
    raw_batch,
    tiny_impls,
)

B = 3

# Data of the shape of a distribution's wire, for the divergences comparing the two.
DATA_OF = {("Gaussian", "Real"): "y", ("Binary", "Real"): "half(y)"}
# A divergence by dotted path that needs no --allow-import: a function of taskdsl itself.
USER_DIVERGENCE = "taskdsl.backends.jax.lowering.divergences:l1"
FAST_COMPILE = {"xla_backend_optimization_level": 0}

# A wire type of each kind, and a learner that gives it from Real[4].
TYPES = {"Real": "Real[4]", "Class": "Class[3]", "Binary": "Binary[2]",
         "Gaussian": "Gaussian[4]", "Tokens": "Tokens[5, 3]"}
LEARNERS = {"Real": "f", "Class": "cls", "Binary": "bits", "Gaussian": "enc", "Tokens": "tok"}

# Each builtin of the checker's table: a refined learner that uses it (declaration and
# definition), a task that trains through it, and what Run.call must give on inputs.
Expect = Callable[[Run, tuple[np.ndarray, ...]], np.ndarray]
CASES: dict[str, tuple[str, str, Expect]] = {
    "add": ("learner r_add : Real[4], Real[4] -> Real[4]\nrefine r_add(x, y) = add(x, y)",
            "x, y <- reals\n    f(r_add(x, y)) = y", lambda run, a: a[0] + a[1]),
    "sub": ("learner r_sub : Real[4], Real[4] -> Real[4]\nrefine r_sub(x, y) = sub(x, y)",
            "x, y <- reals\n    f(r_sub(x, y)) = y", lambda run, a: a[0] - a[1]),
    "mul": ("learner r_mul : Real[4], Real[4] -> Real[4]\nrefine r_mul(x, y) = mul(x, y)",
            "x, y <- reals\n    f(r_mul(x, y)) = y", lambda run, a: a[0] * a[1]),
    "neg": ("learner r_neg : Real[4] -> Real[4]\nrefine r_neg(x) = neg(x)",
            "x, y <- reals\n    f(r_neg(x)) = y", lambda run, a: -a[0]),
    "scale": ("learner r_scale : Real[4] -> Real[4]\nrefine r_scale(x) = scale[0.5](x)",
              "x, y <- reals\n    f(r_scale(x)) = y", lambda run, a: 0.5 * a[0]),
    "concat": ("learner r_concat : Real[4] -> Real[4]\nrefine r_concat(x) = concat(half(x), half(x))",
               "x, y <- reals\n    f(r_concat(x)) = y",
               lambda run, a: np.concatenate([run.call("half", a[0])[0]] * 2, axis=-1)),
    "flatten": ("learner r_flatten : Real[2, 2] -> Real[4]\nrefine r_flatten(m) = flatten(m)",
                "m <- grid\n    x, y <- reals\n    f(r_flatten(m)) = y",
                lambda run, a: a[0].reshape(len(a[0]), -1)),
    "sample": ("learner r_sample : Real[4] -> Real[4]\nrefine r_sample(x) = sample(enc(x))",
               "x, y <- reals\n    f(r_sample(x)) = y", None),  # random: see its own test
    "drop": ("learner r_drop : Real[4] -> Real[4]\nrefine r_drop(x) = drop[0.5](x)\n"
             "learner r_drop_words : Tokens[5, 3] -> Tokens[5, 3]\n"
             "refine r_drop_words(w) = drop[0.5](w)",
             "x, y <- reals\n    w <- words\n    f(r_drop(x)) = y\n"
             "task use_drop_words:\n    x, y <- reals\n    w <- words\n"
             "    tok(x) = r_drop_words(w)",
             lambda run, a: a[0]),  # the identity at inference
    "stop": ("learner r_stop : Real[4] -> Real[4]\nrefine r_stop(x) = stop(x)",
             "x, y <- reals\n    f(r_stop(x)) = stop(f(y))", lambda run, a: a[0]),
    "sum": ("learner r_sum : Real[2, 2] -> Real[1]\nrefine r_sum(m) = sum(m)",
            "m <- grid\n    x, _ <- reals\n    sum(f(x)) = r_sum(m)",
            lambda run, a: a[0].reshape(len(a[0]), -1).sum(1, keepdims=True)),
    "mean": ("learner r_mean : Real[4] -> Real[1]\nrefine r_mean(x) = mean(x)",
             "x, y <- reals\n    mean(f(x)) = r_mean(y)", lambda run, a: a[0].mean(1, keepdims=True)),
    "norm": ("learner r_norm : Real[2, 2] -> Real[1]\nrefine r_norm(m) = norm(m)",
             "m <- grid\n    x, _ <- reals\n    norm(f(x)) = r_norm(m)",
             lambda run, a: np.linalg.norm(a[0].reshape(len(a[0]), -1), axis=1, keepdims=True)),
    "dot": ("learner r_dot : Real[4], Real[4] -> Real[1]\nrefine r_dot(x, y) = dot(x, y)",
            "x, y <- reals\n    dot(f(x), y) = r_dot(x, y)",
            lambda run, a: (a[0] * a[1]).sum(1, keepdims=True)),
    "cosine": ("learner r_cosine : Real[4], Real[4] -> Real[1]\n"
               "refine r_cosine(x, y) = cosine(x, y)",
               "x, y <- reals\n    cosine(f(x), y) = r_cosine(x, y)",
               lambda run, a: (a[0] * a[1]).sum(1, keepdims=True)
               / np.linalg.norm(a[0], axis=1, keepdims=True)
               / np.linalg.norm(a[1], axis=1, keepdims=True)),
    "softmax": ("learner r_softmax : Real[4] -> Class[4]\nrefine r_softmax(x) = softmax(x)",
                "x, y <- reals\n    r_softmax(f(x)) = r_softmax(y)   by kl",
                lambda run, a: np.exp(a[0]) / np.exp(a[0]).sum(1, keepdims=True)),
    "argmax": ("learner r_argmax : Real[4] -> Class[4]\nrefine r_argmax(x) = argmax(x)",
               "x, y <- reals\n    r_softmax(f(x)) = r_argmax(y)",
               lambda run, a: np.eye(4, dtype=np.float32)[a[0].argmax(1)]),
    "one_hot": ("learner r_one_hot : Class[3] -> Real[3]\nrefine r_one_hot(c) = one_hot(c)",
                "x, y <- reals\n    r_one_hot(cls(x)) = r_one_hot(cls(y))",
                lambda run, a: np.eye(3, dtype=np.float32)[a[0].argmax(1)]),
    "mix": ("learner r_mix : Real[4], Real[4], Real[1] -> Real[4]\n"
            "refine r_mix(x, y, u) = mix(x, y, u)",
            "x, y <- reals\n    f(r_mix(x, y, mean(x))) = y",
            lambda run, a: a[2] * a[0] + (1 - a[2]) * a[1]),
}


def contract_text() -> str:
    """The contract program: every case above, every distribution of every kind, a
    constant of every kind, and every divergence on every kind it compares."""
    lines = [
        "data reals : -> Real[4], Real[4]",
        "data grid : -> Real[2, 2]",
        "data words : -> Tokens[5, 3]",
        *(f"learner {LEARNERS[k]} : Real[4] -> {t}" for k, t in TYPES.items()),
        "learner half : Real[4] -> Real[2]",
        "learner r_const : Real[4] -> Real[4]",
        "refine r_const(x) = add(x, k_Real)",
    ]
    tasks = []
    for name, (declaration, body, _) in CASES.items():
        lines.append(declaration)
        tasks.append(f"task use_{name}:\n    {body}")
    for kind, distributions in DISTRIBUTIONS.items():
        for dist in distributions:
            lines.append(f"random draw_{dist}_{kind} : -> {TYPES[kind]} ~ {dist}")
            tasks.append(f"task {dist}_{kind}:\n    x, _ <- reals\n    s <- draw_{dist}_{kind}\n"
                         f"    {LEARNERS[kind]}(x) = s")
    for kind in TYPES:
        lines.append(f"const k_{kind} : -> {TYPES[kind]} = 1")
        tasks.append(f"task const_{kind}:\n    x, _ <- reals\n    {LEARNERS[kind]}(x) = k_{kind}")
    tasks.append("task const_in_a_refinement:\n    x, y <- reals\n    f(r_const(x)) = y")
    for kind, divergences in DIVERGENCES.items():
        for name in divergences:
            tasks.append(f"task by_{name}_{kind}:\n    x, y <- reals\n"
                         f"    {LEARNERS[kind]}(x) = {LEARNERS[kind]}(y)   by {name}")
    for (kind, data), divergences in CROSS_DIVERGENCES.items():  # a distribution and data
        for name in divergences:
            tasks.append(f"task by_{name}_{kind}_{data}:\n    x, y <- reals\n"
                         f"    {LEARNERS[kind]}(x) = {DATA_OF[kind, data]}   by {name}")
    # A temperature (steps of its own), one divergence per output, and a number as a side.
    tasks.append("task by_kl_tempered:\n    x, y <- reals\n    cls(x) = cls(y)   by kl[2]")
    tasks.append("task by_each_output:\n    x, y <- reals\n"
                 "    f(x), cls(x) = y, cls(y)   by l1, hinge")
    tasks.append("task by_a_number:\n    x, _ <- reals\n    f(x) = 1   by hinge")
    # In-batch negatives with a temperature, a gradient penalty at points between two draws,
    # and a user's divergence by dotted path (taskdsl's own module: always trusted).
    tasks.append("task by_infonce_tempered:\n    x, y <- reals\n    f(x) = f(y)   by infonce[0.5]")
    tasks.append("task by_slope_penalty:\n    x, y <- reals\n"
                 "    f(mix(x, y, mean(y))) = 1   by slope")
    tasks.append("task by_a_dotted_path:\n    x, y <- reals\n"
                 f"    f(x) = f(y)   by {USER_DIVERGENCE}")
    # Binary wires of more than one dimension (Bernoulli images): bits sampled from them,
    # a likelihood of Real data of their shape, and fair coins of their shape.
    lines += ["learner grid_bits : Real[4] -> Binary[2, 2]",
              "random draw_grid_bits : -> Binary[2, 2] ~ uniform"]
    tasks.append("task binary_grid_bce:\n    x, y <- reals\n"
                 "    grid_bits(x) = sample(grid_bits(y))   by bce")
    tasks.append("task binary_grid_nll:\n    m <- grid\n    x, _ <- reals\n"
                 "    grid_bits(x) = m   by nll")
    tasks.append("task binary_grid_uniform:\n    x, _ <- reals\n    s <- draw_grid_bits\n"
                 "    grid_bits(x) = s   by l1")
    names = re.findall(r"^task (\w+):", "\n".join(tasks), re.MULTILINE)
    return "\n".join([*lines, *tasks, f"objective contract = {' + '.join(names)}"]) + "\n"


@pytest.fixture(scope="module")
def program() -> Program:
    result = taskdsl.check_text(contract_text(), "contract.task")
    assert result.ok, result.render()
    return result.program


@pytest.fixture(scope="module")
def paths(program: Program, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Lowered, ModuleType, dict, dict]:
    """The lowering and the compiled module, with parameters and a batch."""
    low = lower(program, "contract", tiny_impls(program))
    module = module_of(compile_objective(program, "contract", phases=()),
                       tmp_path_factory.mktemp("contract") / "contract.py")
    return low, module, low.init(jax.random.key(0)), raw_batch(low, B, seed=2)


@pytest.fixture(scope="module")
def values(paths: tuple) -> tuple[dict, dict, dict, dict]:
    """Each task's value and the gradient of the total, lowered and compiled, once."""
    low, module, params, batch = paths
    key, apply = jax.random.key(5), learner_fns(low)
    lowered = jax.jit(jax.value_and_grad(low.loss, has_aux=True), static_argnums=3,
                      compiler_options=FAST_COMPILE)
    compiled = jax.jit(jax.value_and_grad(lambda p, b, k: module.loss(apply, p, b, k, B),
                                          has_aux=True), compiler_options=FAST_COMPILE)
    (_, tasks), grads = lowered(params, batch, key, B)
    (_, tasks_c), grads_c = compiled(params, batch, key)
    return tasks, tasks_c, grads, grads_c


@pytest.fixture(scope="module")
def run(program: Program, paths: tuple, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A loaded run of the contract, in memory: its lowering and parameters, no training."""
    low, _, params, _ = paths
    return Run(tmp_path_factory.mktemp("run"), {}, program, resolve(program, "contract"), low,
               params, 0)


# ----------------------------------------------------------------- the tables
def test_the_backend_implements_exactly_the_checkers_tables() -> None:
    """Builtins, the distributions random sources draw from, and constants: one table."""
    wanted = {*BUILTINS, *(d for ds in DISTRIBUTIONS.values() for d in ds), "const"}
    assert set(backend.BUILTINS) == wanted


def test_every_builtin_has_a_case() -> None:
    assert set(CASES) == set(BUILTINS)


def test_every_builtin_and_divergence_is_emitted_from_its_one_definition() -> None:
    """compile copies the very functions the interpreter calls, and they run standalone."""
    for builtin in backend.BUILTINS.values():
        assert FUNCTIONS[builtin.fn.__name__] is builtin.fn
    for kind, names in DIVERGENCES.items():
        for name in names:
            assert FUNCTIONS[function(name, kind).__name__] is function(name, kind)
    namespace: dict = {}
    source = "\n\n".join(inspect.getsource(FUNCTIONS[n]) for n in emitted_functions(FUNCTIONS))
    exec(compile("from __future__ import annotations\n"
                 "from collections.abc import Callable, Collection, Mapping, Sequence\n"
                 "from typing import Any, NamedTuple\n"
                 "import jax\nimport jax.numpy as jnp\nimport optax\n" + source,
                 "<standalone>", "exec"), namespace)
    x = jnp.arange(6.0).reshape(2, 3)
    assert np.array_equal(namespace["scale"](x, 2.0), 2.0 * x)


# ------------------------------------------------- the lowering and compile agree
def contract_tasks() -> list[str]:
    text = contract_text()
    return [line.removeprefix("task ").rstrip(":") for line in text.splitlines()
            if line.startswith("task ")]


@pytest.mark.parametrize("task", contract_tasks())
def test_each_entry_lowers_and_compiles_to_the_same_value(values: tuple, task: str) -> None:
    tasks, tasks_c, _, _ = values
    assert np.isfinite(float(tasks[task])), task
    np.testing.assert_allclose(tasks_c[task], tasks[task], rtol=1e-5, atol=1e-6, err_msg=task)


def test_the_contract_has_the_same_gradients_both_ways(values: tuple) -> None:
    _, _, grads, grads_c = values
    assert jax.tree.structure(grads_c) == jax.tree.structure(grads)
    for a, b in zip(jax.tree.leaves(grads_c), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_contract_uses_every_entry(program: Program) -> None:
    """The program above really has each builtin, distribution, constant kind and
    divergence (a typo in it would otherwise test less than it says)."""
    objective = program.objective("contract")
    boxes = [b for t in objective.terms for side in (t.equation.lhs, t.equation.rhs)
             for b in side.boxes]
    assert {b.name for b in boxes if b.kind is BoxKind.BUILTIN} == set(BUILTINS)
    drawn = {(b.distribution, program.declarations[b.name].signature.outputs[0].kind)
             for b in boxes if b.kind is BoxKind.RANDOM}
    assert drawn == {(d, k) for k, ds in DISTRIBUTIONS.items() for d in ds}
    constants = {program.declarations[b.name].signature.outputs[0].kind
                 for b in boxes if b.kind is BoxKind.CONST and b.name in program.declarations}
    assert constants == set(TYPES)
    compared = {(d, t.equation.lhs.wires[w].type.kind) for t in objective.terms
                for d, w in zip(t.equation.divergences, t.equation.lhs.outputs, strict=True)}
    assert compared >= {(n, k) for k, ns in DIVERGENCES.items() for n in ns}
    across = {(d, t.equation.lhs.wires[lw].type.kind, t.equation.rhs.wires[rw].type.kind)
              for t in objective.terms
              for d, lw, rw in zip(t.equation.divergences, t.equation.lhs.outputs,
                                   t.equation.rhs.outputs, strict=True)}
    assert across >= {(n, *k) for k, ns in CROSS_DIVERGENCES.items() for n in ns}


# ------------------------------------------------------------ inside a loaded run
def inputs_of(run: Run, name: str) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(len(name))
    return tuple(rng.integers(0, t.value_shape[-1], (B, *t.value_shape[:-1]))
                 if t.kind == "Tokens" else rng.standard_normal((B, *t.value_shape), np.float32)
                 for t in run.signature(name).inputs)


@pytest.mark.parametrize("name", [n for n, case in CASES.items() if case[2] is not None])
def test_each_builtin_runs_inside_a_loaded_run(run: Run, name: str) -> None:
    arrays = inputs_of(run, f"r_{name}")
    (out,) = run.call(f"r_{name}", *arrays)
    np.testing.assert_allclose(out, CASES[name][2](run, arrays), rtol=1e-6, atol=1e-6)


def test_a_constant_runs_inside_a_loaded_run(run: Run) -> None:
    arrays = inputs_of(run, "r_const")
    np.testing.assert_allclose(run.call("r_const", *arrays)[0], arrays[0] + 1.0, rtol=1e-6)


def test_drop_is_the_identity_at_inference_on_words_too(run: Run) -> None:
    (ids,) = inputs_of(run, "r_drop_words")
    (out,) = run.call("r_drop_words", ids)
    vocabulary = run.signature("r_drop_words").inputs[0].value_shape[-1]
    np.testing.assert_array_equal(out, np.eye(vocabulary, dtype=np.float32)[ids])
    assert plan_diagram(run.program.refinements["r_drop"], Mode.EVAL).steps == ()
    assert len(plan_diagram(run.program.refinements["r_drop"], Mode.TRAIN).steps) == 1


def test_sample_inside_a_loaded_run_draws_from_the_calls_key(run: Run) -> None:
    (x,) = inputs_of(run, "r_sample")
    first, again = (run.call("r_sample", x, key=jax.random.key(1))[0] for _ in range(2))
    other = run.call("r_sample", x, key=jax.random.key(2))[0]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    (code,) = run.lowered.apply("enc", run.params, x)
    mean, std = np.asarray(code[:, 0]), np.exp(0.5 * np.asarray(code[:, 1]))
    noise = np.stack([(run.call("r_sample", x, key=jax.random.key(k))[0] - mean) / std
                      for k in range(200)])
    assert abs(noise.mean()) < 0.1 and abs(noise.std() - 1.0) < 0.1  # mean + std · N(0, 1)


def test_inference_calls_draw_fresh_noise_reproducibly_from_the_runs_seed(run: Run) -> None:
    """Two calls (the two `put`s of a CVAE's undo law) differ; the same seed, the same calls."""
    (x,) = inputs_of(run, "r_sample")

    def calls(seed: int) -> list[np.ndarray]:
        fresh = Run(run.directory, run.config, run.program, run.settings, run.lowered,
                    run.params, run.step, seed)
        return [fresh.call("r_sample", x)[0] for _ in range(2)]

    first, second = calls(0)
    assert not np.allclose(first, second)
    for a, b in zip(calls(0), (first, second), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(calls(1)[0], first)


FIXED_NESTED = """
data reals : -> Real[4], Real[4]
fixed judge : Real[4] -> Real[4]
learner f : Real[4] -> Real[4]
learner inner : Real[4] -> Real[4]
learner outer : Real[4] -> Real[4]
refine inner(x) = judge(drop[0.5](x))
refine outer(x) = f(inner(scale[2](x)))
impl judge = load("runs/judge")
task t:
    x, y <- reals
    outer(x) = y
"""


def test_a_refinement_of_a_fixed_box_and_a_nested_refinement_runs_in_a_loaded_run(
        tmp_path: Path) -> None:
    """``outer`` inlines ``inner``, which runs the loaded, fixed ``judge``."""
    result = taskdsl.check_text(FIXED_NESTED, "nested.task")
    assert result.ok, result.render()
    program = result.program
    trained = taskdsl.check_text("data d : -> Real[4]\nlearner judge : Real[4] -> Real[4]\n"
                                 "task t:\n    x <- d\n    judge(x) = x\n").program
    donor = lower(trained, "t", {"judge": TINY})  # the run `load` would read
    stand_in = donor.init(jax.random.key(4))
    loaded = {"judge": LoadedLearner(Path("runs/judge"), "judge", donor.learners["judge"],
                                     stand_in["judge"])}
    low = lower(program, "t", tiny_impls(program), loaded=loaded)
    params = low.init(jax.random.key(0))
    run = Run(tmp_path, {}, program, resolve(program, "t"), low, params, 0)
    assert {"inner", "outer"} <= set(run.callable_boxes())
    x = np.random.default_rng(0).standard_normal((B, 4)).astype(np.float32)
    (judged,) = low.apply("judge", params, 2 * x)
    (expected,) = low.apply("f", params, judged)
    np.testing.assert_allclose(run.call("outer", x)[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.call("inner", x)[0], low.apply("judge", params, x)[0],
                               rtol=1e-5, atol=1e-6)
