"""``compile_objective`` with a loaded, frozen learner (``impl get = load("RUN_DIR")``).

A tiny classifier is trained into a temporary run folder once; a manipulator
objective loads it as ``get``.  The compiled module must compute the lowering's
loss and gradients (``get``'s exactly zero, ``put``'s reaching it through
``get``), train only ``put``, and return ``get``'s parameters bit for bit; its
docstring says the caller supplies ``get``, and the recipe it gives works.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import jax
import numpy as np
import optax
import pytest

from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.lower import Lowered, LowerError, make_train_step
from taskdsl.backends.jax.training.runs import load_run, lower_loading
from taskdsl.backends.jax.training.train import RunResult, train
from taskdsl.ir import Call
from tests.backends.jax.compiled_modules import learner_fns, module_of
from tests.backends.jax.frozen_runs import HEADER, MANIPULATOR_TASKS, B, load, program

CLASSIFIER = HEADER + """
learner get : Img -> Shape
task classify:
    x, s <- sprites
    get(x) = s
impl get = nets.mlp(width = 16, depth = 1)
train classify:
    data sprites = datasets.sprites(n = 64, size = 8)
    batch 8
    steps 3
"""

MANIPULATOR = MANIPULATOR_TASKS + """
objective frozen = put_get + 0.5 * get_put
objective wrong = put_get + classify

impl put = nets.mlp(width = 16, depth = 1)
"""

FIXED = HEADER + """
fixed judge : Img -> Shape
learner put : Img, Shape -> Img
task put_get:
    x, _ <- sprites
    a <- shape
    judge(put(x, a)) = a
impl put = nets.mlp(width = 16, depth = 1)
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compile_load")


@pytest.fixture(scope="module")
def classifier(folder: Path) -> RunResult:
    return train(program(folder, "classifier", CLASSIFIER), None, (), folder / "clf",
                 progress=False)


def batch(low: Lowered) -> dict[str, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(0)
    return {r.key: (rng.random((B, 8, 8, 3), dtype=np.float32), rng.integers(0, 4, B))
            for r in low.data_requests()}


def assert_identical(a: object, b: object) -> None:
    left, right = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(left) == len(right) > 0
    for x, y in zip(left, right, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def norm(tree: object) -> float:
    return float(optax.tree.norm(tree))


@pytest.fixture(scope="module")
def frozen(folder: Path, classifier: RunResult) -> tuple[Lowered, ModuleType]:
    """The manipulator lowered and compiled with the classifier's `get` loaded."""
    prog, impls = program(folder, "manipulator", MANIPULATOR), {"get": load(folder / "clf")}
    return (lower_loading(prog, "frozen", impls),
            module_of(compile_objective(prog, "frozen", impls), folder / "frozen.py"))


def test_the_module_says_get_is_loaded_frozen_and_supplied_by_the_caller(folder, frozen) -> None:
    low, module = frozen
    assert module.LEARNERS == low.learner_names == ("put", "get")
    assert module.TRAINED == low.trained == ("put",)
    assert module.LOADED["get"] == (str(folder / "clf"), "get") and len(module.LOADED) == 1
    doc = " ".join(module.__doc__.split())
    assert f"Frozen, loaded learners (LOADED): `get` from {folder / 'clf'}." in doc
    assert "the caller supplies each one's apply function and trained parameters" in doc
    assert "No task trains them" in doc
    assert "params = route(params, ('put',))" in Path(module.__file__).read_text()
    assert "route(params, ('get', 'put'))" not in Path(module.__file__).read_text()


def test_compiled_loss_and_gradients_equal_the_lowering(folder, classifier, frozen) -> None:
    """Gradients in *every* learner's params: get's are zero in both, put's agree."""
    low, module = frozen
    data, key = batch(low), jax.random.key(3)
    # `get` as the module's docstring says to supply it, straight from its run.
    run = load_run(folder / "clf")
    apply = {**learner_fns(low),
             "get": lambda p, *xs: run.lowered.apply("get", {"get": p}, *xs)}
    params = {**low.init(jax.random.key(0)), "get": run.params["get"]}
    assert_identical(params["get"], classifier.params["get"])

    lowered = jax.jit(jax.value_and_grad(lambda p: low.loss(p, data, key, B), has_aux=True))
    compiled = jax.jit(jax.value_and_grad(lambda p: module.loss(apply, p, data, key, B),
                                          has_aux=True))
    (total, tasks), grads = lowered(params)
    (total_c, tasks_c), grads_c = compiled(params)
    assert set(tasks_c) == set(tasks) == {"put_get", "get_put"}
    for name in tasks:
        np.testing.assert_allclose(tasks_c[name], tasks[name], rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(total_c, total, rtol=1e-5)
    assert norm(grads["get"]) == norm(grads_c["get"]) == 0.0
    assert norm(grads_c["put"]) > 0.0
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_c), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-7)
    # each task alone: put learns through the frozen get in both, default `trains` or not
    for task in tasks:
        grad = jax.jit(jax.grad(lambda p, t=task: module.loss(apply, p, data, key, B)[1][t]))
        task_grads = grad(params)
        assert norm(task_grads["get"]) == 0.0 and norm(task_grads["put"]) > 0.0, task


def test_the_compiled_step_trains_put_and_returns_get_unchanged(classifier, frozen) -> None:
    low, module = frozen
    data, key = batch(low), jax.random.key(3)
    results = []
    for init_opt_state, step in (make_train_step(low, optax.adam(1e-2)),
                                 module.make_train_step(learner_fns(low), optax.adam(1e-2), B)):
        params = low.init(jax.random.key(0))  # copies of the loaded `get`: the step donates
        opt_state = init_opt_state(params)
        keys = {k.key for path, _ in jax.tree_util.tree_flatten_with_path(opt_state)[0]
                for k in path if isinstance(k, jax.tree_util.DictKey)}
        assert "put" in keys and "get" not in keys
        put_before = jax.device_get(params["put"])
        for i in range(2):
            params, opt_state, metrics = step(params, opt_state, data, jax.random.fold_in(key, i))
        assert any(not np.array_equal(a, b) for a, b in
                   zip(jax.tree.leaves(put_before), jax.tree.leaves(params["put"]), strict=True))
        results.append((params, metrics))
    (params_l, metrics_l), (params_c, metrics_c) = results
    assert_identical(params_c["get"], classifier.params["get"])
    assert float(metrics_c["grad_norm/get"]) == 0.0 and float(metrics_c["grad_norm/put"]) > 0
    assert set(metrics_c) == set(metrics_l)
    for name in metrics_l:
        np.testing.assert_allclose(metrics_c[name], metrics_l[name], rtol=1e-5, err_msg=name)
    for a, b in zip(jax.tree.leaves(params_l), jax.tree.leaves(params_c), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)


def test_a_fixed_box_compiles_as_a_loaded_learner(folder, classifier) -> None:
    prog = program(folder, "fixed", FIXED)
    impls = {"judge": Call("load", (), {"path": str(folder / "clf"), "learner": "get"})}
    low = lower_loading(prog, "put_get", impls)
    module = module_of(compile_objective(prog, "put_get", impls), folder / "fixed.py")
    assert module.LEARNERS == low.learner_names == ("put", "judge")
    assert module.TRAINED == ("put",)
    assert module.LOADED["judge"] == (str(folder / "clf"), "get") and len(module.LOADED) == 1
    assert "(its learner `get`)" in module.__doc__
    data, key = batch(low), jax.random.key(5)
    params, apply = low.init(jax.random.key(0)), learner_fns(low)
    (value, _), grads = jax.jit(jax.value_and_grad(
        lambda p: low.loss(p, data, key, B), has_aux=True))(params)
    (value_c, _), grads_c = jax.jit(jax.value_and_grad(
        lambda p: module.loss(apply, p, data, key, B), has_aux=True))(params)
    np.testing.assert_allclose(value_c, value, rtol=1e-5)
    assert norm(grads_c["judge"]) == 0.0 and norm(grads_c["put"]) > 0.0
    np.testing.assert_allclose(norm(grads_c["put"]), norm(grads["put"]), rtol=1e-4)


def test_a_missing_frozen_learner_is_a_clear_error(frozen) -> None:
    low, module = frozen
    apply = {"put": learner_fns(low)["put"]}
    with pytest.raises(ValueError, match=r"learner 'get' was not given an apply function; it "
                                         r"is frozen, loaded from .*clf \(learner 'get'\)"):
        module.loss(apply, low.init(jax.random.key(0)), batch(low), jax.random.key(0), B)


# -- what compiles without the run, and what does not compile -----------------------------


def test_compiling_does_not_read_the_run(folder) -> None:
    """The module holds no weights: a run that does not exist yet compiles."""
    source = compile_objective(program(folder, "later", MANIPULATOR), "frozen",
                               {"get": load("runs/not_trained_yet")})
    tree = ast.parse(source)
    assert {n.name for n in tree.body if isinstance(n, ast.FunctionDef)} >= {
        "task_put_get", "task_get_put", "loss", "make_train_step", "check_learners"}
    assert "'get': ('runs/not_trained_yet', 'get')," in source


def test_naming_a_loaded_learner_in_trains_does_not_compile(folder) -> None:
    with pytest.raises(LowerError, match=r"`get` is loaded from .*clf and frozen; drop it "
                                         r"from `trains` in task `classify`"):
        compile_objective(program(folder, "wrong", MANIPULATOR), "wrong",
                          {"get": load(folder / "clf")})


def test_a_fixed_box_without_load_does_not_compile(folder) -> None:
    with pytest.raises(LowerError, match=r"fixed box `judge`.*impl judge = load"):
        compile_objective(program(folder, "unloaded", FIXED), "put_get")


@pytest.mark.parametrize(("impl", "problem"), [
    (Call("load"), "run folder must be given"),
    (Call("load", ("a", "b")), "give the run folder once"),
    (Call("load", ("a",), {"from": "b"}), "unknown option `from`"),
])
def test_a_malformed_load_does_not_compile(folder, impl: Call, problem: str) -> None:
    with pytest.raises(LowerError, match=problem):
        compile_objective(program(folder, "malformed", MANIPULATOR), "frozen", {"get": impl})


def test_the_command_line_reports_what_cannot_compile_without_traceback(folder) -> None:
    path = folder / "cli.task"
    path.write_text(MANIPULATOR + '\nimpl get = load("runs/clf")\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "taskdsl.cli", "compile", str(path), "--objective", "wrong",
         "-o", str(folder / "wrong.py")],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "`get` is loaded from runs/clf and frozen; drop it from `trains`" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "taskdsl.cli", "compile", str(path), "--objective", "frozen",
         "-o", str(folder / "frozen_cli.py")],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "learner `get` is loaded from runs/clf and frozen" in done.stderr
