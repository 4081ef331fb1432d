"""Locked, verified run folders (issue 17): one training run at a time per folder, and a
damaged folder gives a message and a documented exit code, never a traceback.

The corruption table damages a copy of one trained run and runs ``taskdsl train
--resume`` through the command line's own ``main`` (in this process, to stay fast)
and ``load_run`` (what ``taskdsl eval`` and ``load(...)`` restore with).  The
lock is tested between real processes; the five-kill test kills a real ``taskdsl
train`` five times.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import taskdsl
from taskdsl import cli
from taskdsl.backends.jax.evaluation.errors import EvalError
from taskdsl.backends.jax.training import lock
from taskdsl.backends.jax.training.checkpoint import CHECKSUMS, Checkpoints
from taskdsl.backends.jax.training.errors import PROGRAM, USAGE, TrainError
from taskdsl.backends.jax.training.files import RunFileError
from taskdsl.backends.jax.training.runs import load_run
from taskdsl.backends.jax.training.train import train
from tests.backends.jax.training.test_train import TINY, assert_same_params, metrics

SHORT = ("steps=30", "checkpoint_every=10", "log_every=5")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run_folder") / "tiny.task"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pristine(folder: Path) -> Path:
    """A finished run (checkpoints 10, 20, 30): what every damaged copy is compared with."""
    train(taskdsl.load(folder), None, SHORT, folder.parent / "pristine", progress=False)
    return folder.parent / "pristine"


def copy(pristine: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(pristine, out, ignore=shutil.ignore_patterns(lock.LOCK))
    return out


def train_cli(task: Path, out: Path, capsys: pytest.CaptureFixture[str], *args: str
              ) -> tuple[int, str]:
    """``taskdsl train TASK --out OUT ARGS`` as the command line runs it; (exit code, stderr)."""
    sets = [word for setting in SHORT for word in ("--set", setting)]
    code = cli.main(["train", str(task), "--quiet", *sets, "--out", str(out), *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def step_folder(out: Path, step: int) -> Path:
    return out / "checkpoints" / str(step)


def data_file(out: Path, step: int) -> Path:
    """The largest file of a checkpoint: where its arrays' bytes are."""
    return max((p for p in step_folder(out, step).rglob("*")
                if p.is_file() and p.name != CHECKSUMS), key=lambda p: p.stat().st_size)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------- checkpoints

DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "bit-flipped": flip,
    "deleted": Path.unlink,
}


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_a_damaged_latest_checkpoint_falls_back_to_the_newest_that_verifies(
        folder: Path, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        how: str) -> None:
    out = copy(pristine, tmp_path)
    damaged = data_file(out, 30)
    DAMAGE[how](damaged)
    # eval and load(...) read the run as it is, from step 20, and say so
    run = load_run(out)
    assert run.step == 20
    err = capsys.readouterr().err
    assert "step 30" in err and damaged.name in err and "the newest that verifies" in err
    assert step_folder(out, 30).is_dir(), "reading a run must not change it"
    # --resume goes on from step 20, drops the damaged one, and ends where the run ended
    code, err = train_cli(folder, out, capsys, "--resume")
    assert code == 0, err
    assert "corrupt" in err and "removed the corrupt checkpoint at step 30" in err
    assert_same_params(Checkpoints(out, 3).read(30)["params"],
                       Checkpoints(pristine, 3).read(30)["params"])
    assert metrics(out) == metrics(pristine)


def test_when_no_checkpoint_verifies_resume_and_eval_refuse(
        folder: Path, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    out = copy(pristine, tmp_path)
    for step in (10, 20, 30):
        flip(data_file(out, step))
    with pytest.raises(TrainError) as caught:
        load_run(out)
    assert caught.value.code == "checkpoint-none-verifies"
    assert caught.value.exit_code == PROGRAM
    code, err = train_cli(folder, out, capsys, "--resume")
    assert code == PROGRAM
    assert "error[checkpoint-none-verifies]" in err and "steps 30, 20, 10" in err
    assert sorted(int(p.name) for p in (out / "checkpoints").iterdir()) == [10, 20, 30]


# ---------------------------------------------------------------- metrics.jsonl


def test_a_torn_last_metrics_line_is_dropped_on_resume(
        folder: Path, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    """As a kill while logging step 30 leaves it: half a line, no checkpoint 30."""
    out = copy(pristine, tmp_path)
    shutil.rmtree(step_folder(out, 30))
    text = (out / "metrics.jsonl").read_text()
    (out / "metrics.jsonl").write_text(text[: len(text) - 40])
    code, err = train_cli(folder, out, capsys, "--resume")
    assert code == 0, err
    assert "the last line of" in err and "is dropped" in err
    assert metrics(out) == metrics(pristine)


@pytest.mark.parametrize("garbage", [b'{"step": 7', b"not json", b'{"loss": 1.0}', b"[1, 2]",
                                     b'{"step": "5"}', b'{"step": 5, "loss": "\xc3"}'])
def test_an_earlier_corrupt_metrics_line_is_an_error_with_its_number(
        folder: Path, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        garbage: bytes) -> None:
    out = copy(pristine, tmp_path)
    lines = (out / "metrics.jsonl").read_bytes().splitlines(keepends=True)
    lines[2] = garbage + b"\n"
    (out / "metrics.jsonl").write_bytes(b"".join(lines))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, err = train_cli(folder, out, capsys, "--resume")
    assert code == PROGRAM
    assert "error[metrics-corrupt]" in err and "line 3 " in err
    assert {p: p.read_bytes() for p in before} == before, "a refused resume changes nothing"


def test_a_last_line_cut_inside_a_character_is_torn_too(
        folder: Path, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    out = copy(pristine, tmp_path)
    with (out / "metrics.jsonl").open("ab") as f:
        f.write(b'{"step": 31, "note": "\xc3')
    code, err = train_cli(folder, out, capsys, "--resume")
    assert code == 0, err
    assert "is dropped" in err
    assert metrics(out) == metrics(pristine)


# ---------------------------------------------------------------- config.json


@pytest.mark.parametrize("text", ['{"objective": "both", "se', "", "[]", "\xff\xfe"])
def test_a_corrupt_config_is_reported_as_corrupt_not_missing(
        folder: Path, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        text: str) -> None:
    out = copy(pristine, tmp_path)
    (out / "config.json").write_bytes(text.encode("latin-1"))
    code, err = train_cli(folder, out, capsys, "--resume")
    assert code == PROGRAM
    assert "error[resume-config-corrupt]" in err and "config.json cannot be read" in err
    assert "holds no run" not in err
    with pytest.raises(EvalError) as caught:
        load_run(out)
    assert caught.value.code == "not-a-run" and caught.value.exit_code == PROGRAM


def test_a_missing_config_is_still_nothing_to_resume(
        folder: Path, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    out = copy(pristine, tmp_path)
    (out / "config.json").unlink()
    code, err = train_cli(folder, out, capsys, "--resume")
    assert code == USAGE and "error[resume-nothing]" in err


# ---------------------------------------------------------------- the lock


def hold(out: Path) -> subprocess.Popen:
    """Another process holding ``out``'s lock (as a running ``taskdsl train`` does)."""
    script = ("import sys, time\n"
              "from taskdsl.backends.jax.training import lock\n"
              "with lock.holding(sys.argv[1]):\n"
              "    print('held', flush=True)\n"
              "    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(out)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


@pytest.mark.parametrize("resume", [False, True])
def test_a_folder_another_process_trains_in_is_refused_until_it_dies(
        folder: Path, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        resume: bool) -> None:
    out = copy(pristine, tmp_path) if resume else tmp_path / "new"
    holder = hold(out)
    try:
        before = sorted(p.name for p in out.iterdir())
        started = time.monotonic()
        code, err = train_cli(folder, out, capsys, *(["--resume"] if resume else []))
        assert code == USAGE
        assert "error[run-dir-busy]" in err and f"(process {holder.pid})" in err
        assert time.monotonic() - started < 5, "refused at once, before any work"
        assert sorted(p.name for p in out.iterdir()) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the kernel dropped the dead holder's lock: the folder can be taken again
    with lock.holding(out) as held:
        assert held.read_text() == f"{os.getpid()}\n"


def test_a_finished_run_leaves_no_lock_file(pristine: Path) -> None:
    assert (pristine / "config.json").is_file()
    assert not (pristine / lock.LOCK).exists()


def test_a_run_that_fails_before_writing_leaves_no_folder(folder: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    out = tmp_path / "runs" / "never"
    code, err = train_cli(folder, out, capsys, "--set", "data.sprites=datasets.sprite()")
    assert code == PROGRAM and "did you mean" in err
    assert not (tmp_path / "runs").exists()


def test_a_link_planted_as_the_lock_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / lock.LOCK).symlink_to(target)
    with pytest.raises(RunFileError) as caught, lock.holding(tmp_path / "run"):
        pass
    assert caught.value.code == "run-file-symlink"
    assert target.read_text() == "keep\n"


# ---------------------------------------------------------------- five kills

KILLS = 5
# One step a call, so the run is slow enough for five kills to land before its end (with
# `auto` a tiny model takes many steps a call and finishes first).
LONG = ("steps=1500", "checkpoint_every=50", "log_every=25", "steps_per_call=1")
SET_LONG = [word for setting in LONG for word in ("--set", setting)]


def saved_steps(out: Path) -> list[int]:
    folder = out / "checkpoints"
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) \
        if folder.is_dir() else []


def start(task: Path, *args: str) -> subprocess.Popen:
    """``taskdsl train`` in a subprocess, with JAX's compilation cache shared, to start faster."""
    cache = {"JAX_COMPILATION_CACHE_DIR": str(task.parent / "xla-cache"),
             "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
             "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    return subprocess.Popen([sys.executable, "-m", "taskdsl.cli", "train", task.name, "--quiet",
                             *SET_LONG, *args], cwd=task.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **cache})


@pytest.mark.slow
def test_five_kills_resume_to_the_uninterrupted_run(folder: Path) -> None:
    """SIGKILL a real ``taskdsl train`` five times, each a little later after a new checkpoint
    (mid-step, mid-save, mid-log), resuming each time; while one runs, a second ``train
    --resume`` into its folder is refused.  The end equals an uninterrupted run's."""
    reference = train(taskdsl.load(folder), None, LONG, folder.parent / "uninterrupted",
                      progress=False)
    out = folder.parent / "killed5"
    seen = 0
    for kill in range(KILLS):
        process = start(folder, "--out", "killed5", *(["--resume"] if kill else []))
        deadline = time.monotonic() + 180
        while not saved_steps(out) or max(saved_steps(out)) <= seen:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no new checkpoint appeared"
            time.sleep(0.005)
        if kill == 0:  # the run is frozen meanwhile: on a quiet machine it could otherwise
            # reach its last step while the second process starts up (seconds)
            process.send_signal(signal.SIGSTOP)
            second = start(folder, "--out", "killed5", "--resume")
            _, err = second.communicate(timeout=120)
            assert second.returncode == USAGE and "run-dir-busy" in err, err
            assert process.poll() is None, "the refused run must not stop the running one"
            process.send_signal(signal.SIGCONT)
        time.sleep(0.013 * kill)  # a different moment of the loop each time
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL, "the run ended before it was killed"
        seen = max(saved_steps(out))
        assert seen < 1500
    final = start(folder, "--out", "killed5", "--resume")
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert "Traceback" not in err
    assert_same_params(Checkpoints(out, 3).read(1500)["params"], reference.params)
    assert metrics(out) == metrics(reference.out)
