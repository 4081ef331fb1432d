"""`impl get = load(RUN_DIR)`: a trained run's learner, loaded and frozen.

A tiny classifier is trained into a temporary run folder once; a manipulator
objective then loads it.  The loaded `get` must compute what the trained run
computes, never change in training, get no gradient of its own in any equation
(a named or default `trains`), and still pass gradient through to `put`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

import taskdsl
from taskdsl.backends.jax.lowering.lower import Lowered, LowerError, make_train_step
from taskdsl.backends.jax.training.runs import lower_loading
from taskdsl.backends.jax.training.train import CONFIG, RunResult, train
from taskdsl.ir import Call
from tests.backends.jax.frozen_runs import HEADER, MANIPULATOR_TASKS, B, load, program

TRAINING = """
    data sprites = datasets.sprites(n = 128, size = 8)
    batch 8
    steps 4
    checkpoint_every 2
"""

CLASSIFIER = HEADER + """
learner get : Img -> Shape
task classify:
    x, s <- sprites
    get(x) = s
impl get = nets.mlp(width = 16, depth = 1)
train classify:
""" + TRAINING

MANIPULATOR = MANIPULATOR_TASKS + """
objective frozen = put_get + get_put
objective wrong = put_get + classify

impl put = nets.mlp(width = 16, depth = 1)
train frozen:
""" + TRAINING


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("load")


@pytest.fixture(scope="module")
def classifier(folder: Path) -> RunResult:
    return train(program(folder, "classifier", CLASSIFIER), None, (), folder / "clf",
                 progress=False)


def manipulator(folder: Path, objective: str = "frozen", text: str = MANIPULATOR,
                **impls: object) -> Lowered:
    return lower_loading(program(folder, "manipulator", text), objective,
                 {"get": load(folder / "clf"), **impls})


@pytest.fixture(scope="module")
def frozen(folder: Path, classifier: RunResult) -> Lowered:
    """The manipulator with the classifier's `get` loaded; shared, so it compiles once."""
    return manipulator(folder)


def images(n: int = B, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 8, 8, 3), dtype=np.float32)


def batch(low: Lowered, seed: int = 0) -> dict[str, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    return {r.key: (images(B, seed), rng.integers(0, 4, B)) for r in low.data_requests()}


def leaves(tree: object) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def assert_identical(a: object, b: object) -> None:
    left, right = leaves(a), leaves(b)
    assert len(left) == len(right) > 0
    for x, y in zip(left, right, strict=True):
        np.testing.assert_array_equal(x, y)


def norm(tree: object) -> float:
    return float(optax.tree.norm(tree))


def task_grads(low: Lowered, *tasks: str) -> dict[str, dict]:
    """Each task's gradient in *every* learner's params (jitted once: eager is slow)."""
    data, key = batch(low), jax.random.key(1)

    def value(params: dict, task: str) -> jax.Array:
        return low.loss(params, data, key, B)[1][task]

    grads = jax.jit(lambda p: {t: jax.grad(value)(p, t) for t in tasks})
    return grads(low.init(jax.random.key(0)))


# -- the loaded learner --------------------------------------------------------------------


def test_loaded_get_computes_what_the_trained_run_computes(folder, classifier, frozen) -> None:
    low = frozen
    params = low.init(jax.random.key(7))
    x = images(seed=1)
    (loaded,) = low.apply("get", params, x)
    (trained,) = classifier.lowered.apply("get", classifier.params, x)
    np.testing.assert_array_equal(np.asarray(loaded), np.asarray(trained))
    assert_identical(params["get"], classifier.params["get"])
    assert low.loaded == {"get": folder / "clf"}
    assert low.trained == ("put",)
    assert low.impls["get"].name == "nets.mlp"  # the run's net, not `load`


def test_the_loaded_learner_gets_no_optimizer_state(frozen) -> None:
    init_opt_state, _ = make_train_step(frozen, optax.adam(1e-2))
    paths = jax.tree_util.tree_flatten_with_path(init_opt_state(frozen.init(jax.random.key(0))))[0]
    keys = {k.key for path, _ in paths for k in path if isinstance(k, jax.tree_util.DictKey)}
    assert "put" in keys and "get" not in keys


def test_training_changes_put_and_leaves_get_bit_identical(folder, classifier) -> None:
    run = folder / "manip"
    result = train(program(folder, "manipulator", MANIPULATOR), "frozen",
                   [f'impl.get=load("{folder / "clf"}")'], run, progress=False)
    assert result.step == 4
    assert_identical(result.params["get"], classifier.params["get"])
    assert result.metrics["grad_norm/get"] == 0.0
    assert result.metrics["grad_norm/put"] > 0.0
    config = json.loads((run / CONFIG).read_text())
    assert config["settings"]["impls"]["get"] == f'load("{folder / "clf"}")'


def test_put_learns_through_get_and_get_learns_in_no_equation(frozen) -> None:
    """Differentiate the loss in *every* learner's params: stop-gradient on get's params in
    both equations (`put_get` names only put, `get_put` has a default `trains`), while
    put's gradient reaches it through get."""
    for task, grads in task_grads(frozen, "put_get", "get_put").items():
        assert norm(grads["get"]) == 0.0, task
        assert norm(grads["put"]) > 0.0, task


def test_a_trained_get_would_get_gradient_in_the_default_trains(folder, classifier) -> None:
    """The same equation with `get` given a net: the zero above comes from loading it."""
    low = manipulator(folder, get=Call("nets.mlp", (), {"width": 16, "depth": 1}))
    assert norm(task_grads(low, "get_put")["get_put"]["get"]) > 0.0


def test_a_fixed_box_and_a_renamed_learner_load_the_same_way(folder, classifier) -> None:
    text = HEADER + """
fixed judge : Img -> Shape
learner put : Img, Shape -> Img
task put_get:
    x, _ <- sprites
    a <- shape
    judge(put(x, a)) = a
impl put = nets.mlp(width = 16, depth = 1)
"""
    low = lower_loading(program(folder, "fixed", text), "put_get",
                {"judge": Call("load", (), {"path": str(folder / "clf"), "learner": "get"})})
    assert low.learner_names == ("put", "judge") and low.trained == ("put",)
    x = images(seed=2)
    (out,) = low.apply("judge", low.init(jax.random.key(0)), x)
    (expected,) = classifier.lowered.apply("get", classifier.params, x)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))
    grads = task_grads(low, "put_get")["put_get"]
    assert norm(grads["judge"]) == 0.0 and norm(grads["put"]) > 0.0


# -- errors ----------------------------------------------------------------------------------


def test_naming_a_loaded_learner_in_trains_is_an_error(folder, classifier) -> None:
    with pytest.raises(LowerError, match=r"`get` is loaded from .*clf and frozen; drop it "
                                         r"from `trains` in task `classify`"):
        manipulator(folder, "wrong")


def test_a_missing_run_folder_is_reported(folder) -> None:
    with pytest.raises(LowerError, match=r"cannot load `get` from .*nowhere.*no run folder"):
        manipulator(folder, get=load(folder / "nowhere"))


def test_a_run_without_checkpoint_is_reported(folder, classifier) -> None:
    empty = folder / "unsaved"
    empty.mkdir()
    shutil.copy(folder / "clf" / CONFIG, empty / CONFIG)
    with pytest.raises(LowerError, match=r"cannot load `get` from .*unsaved.*no checkpoint"):
        manipulator(folder, get=load(empty))


def test_a_learner_the_run_lacks_is_reported_with_the_ones_it_has(folder, classifier) -> None:
    with pytest.raises(LowerError, match=r"no learner `classifier`; its learners are `get`"):
        manipulator(folder, get=load(folder / "clf", learner="classifier"))


def test_a_signature_mismatch_shows_both(folder, classifier) -> None:
    with pytest.raises(LowerError) as caught:
        manipulator(folder, put=load(folder / "clf", learner="get"))
    message = str(caught.value)
    assert ("declared `put : Img (Real[8, 8, 3]), Shape (Class[4]) -> Img (Real[8, 8, 3])`"
            in message), message
    assert "`get : Img (Real[8, 8, 3]) -> Shape (Class[4])`" in message, message


@pytest.mark.parametrize(("call", "problem"), [
    (Call("load"), "run folder must be given"),
    (Call("load", ("a", "b")), "give the run folder once"),
    (Call("load", ("a",), {"path": "b"}), "give the run folder once"),
    (Call("load", (), {"path": 3}), "run folder must be given as a string"),
    (Call("load", ("a",), {"from": "b"}), "unknown option `from`"),
])
def test_malformed_load_calls_say_how_to_write_one(folder, call: Call, problem: str) -> None:
    with pytest.raises(LowerError, match=problem):
        manipulator(folder, get=call)


def test_a_fixed_box_without_load_is_reported(folder) -> None:
    text = HEADER + """
fixed judge : Img -> Shape
learner put : Img, Shape -> Img
task t:
    x, _ <- sprites
    a <- shape
    judge(put(x, a)) = a
"""
    with pytest.raises(LowerError, match=r"fixed box `judge`.*impl judge = load"):
        lower_loading(program(folder, "unloaded", text), "t", {})


def test_the_command_line_reports_a_missing_run_without_traceback(folder) -> None:
    path = folder / "manipulator.task"
    path.write_text(MANIPULATOR, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "taskdsl.cli", "train", str(path), "--objective", "frozen",
         "--set", 'impl.get=load("no/such/run")', "--out", str(folder / "cli"), "--quiet"],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0
    assert "cannot load `get` from no/such/run" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_a_step_changes_put_not_get_and_the_loaded_arrays_survive_it(classifier, frozen) -> None:
    """``init`` hands out copies, so a train step that donates them leaves the loaded
    arrays usable for the next ``init``."""
    init_opt_state, step = make_train_step(frozen, optax.adam(1e-2))
    params = frozen.init(jax.random.key(0))
    donated, put_before = params["get"], jax.device_get(params["put"])
    after, _, _ = step(params, init_opt_state(params), batch(frozen), jax.random.key(1))
    assert_identical(after["get"], classifier.params["get"])
    assert any(not np.array_equal(a, b)
               for a, b in zip(leaves(put_before), leaves(after["put"]), strict=True))
    assert all(x.is_deleted() for x in jax.tree.leaves(donated))  # so the copy matters
    assert_identical(frozen.init(jax.random.key(0))["get"], classifier.params["get"])


# -- the example ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[4]
SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="no ../shared/data/mnist")
def test_the_frozen_mnist_example_runs_in_its_two_steps(tmp_path, monkeypatch) -> None:
    """The two commands at the top of examples/mnist_manipulator_frozen.task, made tiny."""
    monkeypatch.chdir(tmp_path)  # `load("runs/mnist_classifier_robust")` is read from here
    monkeypatch.setenv("TASKDSL_DATA", str(SHARED))
    small = ["steps=2", "batch=8", 'data.mnist=datasets.mnist(split = "test", limit = 64)']
    first = train(taskdsl.load(ROOT / "examples" / "mnist_classifier_robust.task"), None,
                  [*small, "impl.classifier=nets.mlp(width = 8, depth = 1)"],
                  "runs/mnist_classifier_robust", progress=False)
    assert first.objective == "robust"
    assert set(first.lowered.task_names) == {"classify", "classify_noisy"}
    second = train(taskdsl.load(ROOT / "examples" / "mnist_manipulator_frozen.task"), None,
                   [*small, "impl.put=nets.mlp(width = 8, depth = 1)"], "runs/mnist_frozen",
                   progress=False)
    assert second.objective == "edit" and second.step == 2
    assert "put_get_noisy" in second.lowered.task_names
    assert second.lowered.loaded == {"classifier": Path("runs/mnist_classifier_robust")}
    assert second.lowered.trained == ("put",)
    assert_identical(second.params["classifier"], first.params["classifier"])


def test_a_run_reopens_with_the_settings_it_recorded_not_its_set_texts(folder, classifier) -> None:
    """``config.json`` records the settings as resolved; reopening a run reads those, so a
    ``--set`` text an older parser accepted (``1_000``) does not orphan the run."""
    from taskdsl.backends.jax.training.runs import load_run

    copy = folder / "clf_old_set"
    shutil.copytree(folder / "clf", copy, dirs_exist_ok=True)
    config = json.loads((copy / CONFIG).read_text(encoding="utf-8"))
    config["overrides"] = ["steps=1_000"]  # no longer a value: the grammar rejects it
    config["settings"]["log_every"] = 7  # what the run resolved wins over its texts
    (copy / CONFIG).write_text(json.dumps(config), encoding="utf-8")
    run = load_run(copy)
    assert run.settings.log_every == 7
    assert run.settings.steps == config["settings"]["steps"]
    assert run.settings.impls.keys() == load_run(folder / "clf").settings.impls.keys()
