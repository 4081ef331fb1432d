"""The training loop: its files, repeatability, resuming, NaN stops, and the command line.

The command-line tests run ``python -m taskdsl.cli train`` in a subprocess, as a
user would, and kill or interrupt it for real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import taskdsl
from taskdsl.backends.jax.training import checkpoint
from taskdsl.backends.jax.training import train as training
from taskdsl.backends.jax.training.checkpoint import Checkpoints
from taskdsl.backends.jax.training.errors import DIVERGED, INTERRUPTED, USAGE, TrainError
from taskdsl.backends.jax.training.train import RunResult, train

TINY = """
type Img = Real[8, 8, 3]
type Shape = Class[4]
data sprites : -> Img, Shape
random shape : -> Shape ~ uniform
learner get : Img -> Shape
learner put : Img, Shape -> Img

task classify:
    x, s <- sprites
    get(x) = s                  trains get

task put_get:
    x, _ <- sprites
    a <- shape
    get(put(x, a)) = a          trains put

objective both = classify + 0.5 * put_get

impl get = nets.mlp(width = 16, depth = 1)
impl put = nets.mlp(width = 16, depth = 1)

train both:
    data sprites = datasets.sprites(n = 256, size = 8)
    batch 16
    steps 20
    log_every 10
    checkpoint_every 10
"""


STEPS = 800
LONG = ("steps=800", "checkpoint_every=100", "log_every=100")


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module's runs, each in its own RUN_DIR beside the file."""
    path = tmp_path_factory.mktemp("train") / "tiny.task"
    path.write_text(TINY, encoding="utf-8")
    return path


def run(task_file: Path, out: str, *overrides: str, resume: bool = False,
        objective: str | None = None) -> RunResult:
    return train(taskdsl.load(task_file), objective, overrides, task_file.parent / out,
                 resume=resume, progress=False)


@pytest.fixture(scope="module")
def reference(task_file: Path) -> RunResult:
    """An uninterrupted run that the repeated, resumed and killed runs must reproduce exactly."""
    return run(task_file, "reference", *LONG)


def assert_same_params(a: object, b: object) -> None:
    """Equal arrays, leaf for leaf (an nnx.State and its saved nested dicts flatten alike)."""
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


TIMING = ("wall_time", "examples_per_second")  # how fast, which no two runs share


def metrics(out: Path, timing: bool = False) -> list[dict]:
    """The logged lines, less their timing unless ``timing``: what repeats bit for bit."""
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return lines if timing else [{k: v for k, v in m.items() if k not in TIMING} for m in lines]


def saved_steps(out: Path) -> list[int]:
    folder = out / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def final_params(out: Path) -> dict:
    return Checkpoints(out, 3).read(STEPS)["params"]


# ---------------------------------------------------------------- in process


def test_a_run_writes_metrics_config_and_checkpoints(reference: RunResult) -> None:
    out = reference.out
    assert (reference.status, reference.step, reference.objective) == ("finished", STEPS, "both")
    lines = metrics(out, timing=True)
    assert [m["step"] for m in lines] == [1, *range(100, STEPS + 1, 100)]
    assert all(list(m)[:2] == ["step", "loss"] for m in lines)
    assert all(set(m) == {"step", "loss", "classify", "put_get", "grad_norm", "grad_norm/get",
                          "grad_norm/put", *TIMING} for m in lines)
    assert all(m["grad_norm"] == pytest.approx(np.hypot(m["grad_norm/get"], m["grad_norm/put"]),
                                               rel=1e-5) for m in lines)
    last = lines[-1]
    assert last["loss"] == pytest.approx(last["classify"] + 0.5 * last["put_get"], rel=1e-5)
    assert last["loss"] < lines[0]["loss"]
    config = json.loads((out / "config.json").read_text())
    assert config["objective"] == "both"
    assert config["source"] == TINY
    assert config["seed"] == 0
    assert config["imports"] == []  # only built-in nets: nothing for the trust policy to allow
    assert config["settings"]["batch"] == 16 and config["settings"]["steps"] == STEPS
    assert config["overrides"] == list(LONG)
    assert config["settings"]["data"] == {"sprites": "datasets.sprites(n = 256, size = 8)"}
    assert config["learners"] == ["get", "put"]
    assert {"python", "jax", "flax", "optax", "orbax-checkpoint"} <= set(config["versions"])
    assert saved_steps(out) == [600, 700, 800]  # keep 3
    assert_same_params(final_params(out), reference.params)


def test_the_same_seed_gives_the_same_run_bit_for_bit(task_file: Path,
                                                       reference: RunResult) -> None:
    again = run(task_file, "again", *LONG, "tensorboard=false")
    assert_same_params(again.params, reference.params)
    assert metrics(again.out) == metrics(reference.out)
    # TensorBoard only watches: off, it leaves no event files and changes nothing else.
    assert (reference.out / "tb").is_dir() and not (again.out / "tb").exists()


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(task_file: Path,
                                                            reference: RunResult) -> None:
    run(task_file, "parts", *LONG, "steps=250")  # checkpoints at 100, 200 and its end, 250
    resumed = run(task_file, "parts", *LONG, resume=True)
    assert resumed.step == STEPS
    assert_same_params(resumed.params, reference.params)
    config = json.loads((resumed.out / "config.json").read_text())
    assert config["resumed"] is True
    assert config["history"][0]["settings"]["steps"] == 250


def test_auto_checkpoints_a_fast_run_at_its_end_and_changes_no_parameter(
        task_file: Path, reference: RunResult, monkeypatch: pytest.MonkeyPatch) -> None:
    """``checkpoint_every = auto``: 200 steps well within ``AUTO_SECONDS`` save nothing
    but the last step, and which steps save changes nothing trained."""
    monkeypatch.setattr(checkpoint, "AUTO_SECONDS", 1e9)
    result = run(task_file, "auto_fast", *LONG, "checkpoint_every=auto", "tensorboard=false")
    assert saved_steps(result.out) == [STEPS]
    assert_same_params(result.params, reference.params)
    assert metrics(result.out) == metrics(reference.out)
    config = json.loads((result.out / "config.json").read_text())
    assert config["settings"]["checkpoint_every"] == "auto"


def test_auto_checkpoints_a_slow_run_at_each_multiple_of_200(
        task_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "AUTO_SECONDS", 0.0)  # every 200 steps take long enough
    result = run(task_file, "auto_slow", "steps=500", "checkpoint_every=auto", "keep=5",
                 "log_every=100", "tensorboard=false")
    assert saved_steps(result.out) == [200, 400, 500]


def expect_error(task_file: Path, out: str, *overrides: str, resume: bool = False,
                 objective: str | None = None) -> TrainError:
    with pytest.raises(TrainError) as caught:
        run(task_file, out, *overrides, resume=resume, objective=objective)
    return caught.value


def test_an_existing_run_is_never_overwritten(task_file: Path) -> None:
    out = task_file.parent / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    error = expect_error(task_file, "taken")
    assert error.exit_code == USAGE
    assert "already holds files" in str(error) and "--resume" in str(error)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_resume_needs_a_run_with_the_same_seed_and_objective(task_file: Path,
                                                             reference: RunResult) -> None:
    assert "holds no run" in str(expect_error(task_file, "none", resume=True))
    error = expect_error(task_file, "reference", "seed=3", resume=True)
    assert "was started with seed 0" in str(error)
    error = expect_error(task_file, "reference", resume=True, objective="classify")
    assert "trains `both`, not `classify`" in str(error)


def test_an_unknown_objective_lists_the_known_ones(task_file: Path) -> None:
    error = expect_error(task_file, "x", objective="clasify")
    assert error.exit_code == USAGE
    assert "did you mean `classify`?" in str(error)
    assert not (task_file.parent / "x").exists()


# ---------------------------------------------------------------- the command line


def cli(task_file: Path, *args: str) -> subprocess.Popen:
    """``taskdsl train`` in a subprocess; runs share JAX's compilation cache, to start faster."""
    command = [sys.executable, "-m", "taskdsl.cli", "train", task_file.name, "--quiet", *args]
    cache = {"JAX_COMPILATION_CACHE_DIR": str(task_file.parent / "xla-cache"),
             "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
             "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    return subprocess.Popen(command, cwd=task_file.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **cache})


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def wait_for_checkpoint(process: subprocess.Popen, out: Path) -> int:
    deadline = time.monotonic() + 120
    while not saved_steps(out):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    return saved_steps(out)[0]


SET_LONG = tuple(word for setting in LONG for word in ("--set", setting))


def test_a_killed_run_resumes_to_the_uninterrupted_parameters(task_file: Path,
                                                               reference: RunResult) -> None:
    out = task_file.parent / "killed"
    killed = cli(task_file, *SET_LONG, "--out", "killed")
    wait_for_checkpoint(killed, out)
    killed.send_signal(signal.SIGKILL)
    finish(killed)
    assert killed.returncode == -signal.SIGKILL
    assert max(saved_steps(out)) < STEPS, "the run ended before it was killed"
    code, _, err = finish(cli(task_file, *SET_LONG, "--out", "killed", "--resume"))
    assert code == 0, err
    assert_same_params(final_params(out), reference.params)
    assert metrics(out) == metrics(reference.out)


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(task_file: Path) -> None:
    process = cli(task_file, *SET_LONG, "--out", "stopped")
    wait_for_checkpoint(process, task_file.parent / "stopped")
    process.send_signal(signal.SIGINT)
    code, _, err = finish(process)
    assert code == INTERRUPTED, err
    assert "Traceback" not in err
    assert "interrupted at step" in err
    assert "--out stopped --resume" in err
    step = int(err.split("interrupted at step ")[1].split(";")[0])
    assert max(saved_steps(task_file.parent / "stopped")) == step


def test_a_diverging_run_names_the_equation_and_keeps_its_checkpoint(task_file: Path) -> None:
    code, _, err = finish(cli(task_file, "--set", "optimizer=sgd(lr = 1e30)",
                              "--set", "checkpoint_every=1", "--out", "nan"))
    assert code == DIVERGED, err
    assert "Traceback" not in err
    assert "training stopped at step" in err and "`classify`" in err
    kept = saved_steps(task_file.parent / "nan")
    assert kept, "the last good checkpoint was not kept"
    assert f"last good checkpoint (step {max(kept)}) is kept" in err
    params = Checkpoints(task_file.parent / "nan", 3).read()["params"]
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(params))


@pytest.mark.parametrize(("args", "code", "expected"), [
    (("--set", "bacth=3"), USAGE, "did you mean `batch`?"),
    (("--set", "data.sprites=datasets.sprite()"), 1, "did you mean `datasets.sprites`?"),
    (("--objective", "nope"), USAGE, "no objective or task called `nope`"),
])
def test_user_errors_are_messages_not_tracebacks(task_file: Path, args: tuple, code: int,
                                                 expected: str) -> None:
    returned, _, err = finish(cli(task_file, *args, "--out", "err"))
    assert returned == code, err
    assert expected in err
    assert "Traceback" not in err


def test_a_broken_file_shows_its_diagnostics(tmp_path: Path) -> None:
    broken = tmp_path / "broken.task"
    broken.write_text(TINY.replace("get(x) = s", "gte(x) = s"))
    returned, _, err = finish(cli(broken))
    assert returned == 1
    assert "gte" in err and "Traceback" not in err


def test_metrics_read_back_in_bulk_still_stop_at_the_first_non_finite_step(
        task_file: Path) -> None:
    """Metrics stay on the device between logging steps; the step that went non-finite is
    still the one named and logged (with nulls), and no checkpoint follows it."""
    out = task_file.parent / "nan_bulk"
    with pytest.raises(TrainError) as raised:
        run(task_file, "nan_bulk", "optimizer=sgd(lr = 1e30)", "steps=40", "log_every=30",
            "checkpoint_every=3")
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    bad = lines[-1]
    assert bad["loss"] is None or any(v is None for v in bad.values())
    assert all(v is not None for line in lines[:-1] for v in line.values())
    assert f"training stopped at step {bad['step']}" in str(raised.value)
    assert all(step < bad["step"] for step in saved_steps(out))


def test_data_on_the_device_train_as_batches_gathered_on_the_host(
        task_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data set put on the device once, each step's rows gathered there, gives the
    parameters and metrics of the host-gathered batches, bit for bit."""
    short = ("steps=30", "log_every=7", "checkpoint_every=20")
    resident = run(task_file, "resident", *short)
    monkeypatch.setattr(training, "RESIDENT_BYTES", -1)
    host = run(task_file, "host", *short)
    assert_same_params(resident.params, host.params)
    assert metrics(task_file.parent / "resident") == metrics(task_file.parent / "host")


def test_train_shows_a_files_lints_and_trains(tmp_path: Path, capsys: pytest.CaptureFixture
                                              ) -> None:
    """A lint (here a draw no side uses) is a warning: ``train`` prints it and carries on."""
    from taskdsl.cli import main

    linted = TINY.replace("    a <- shape\n", "    a <- shape\n    b <- shape\n")
    path = tmp_path / "linted.task"
    path.write_text(linted, encoding="utf-8")
    assert main(["train", str(path), "--quiet", "--set", "steps=2", "-o",
                 str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "warning[unused-draw]" in err and "linted.task:" in err
    assert (tmp_path / "run" / "metrics.jsonl").is_file()

