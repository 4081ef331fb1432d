"""A run that would not fit in memory is refused before anything is compiled or allocated
(training/memory.py): located, worded, fast; a normal run is not; the estimate is sane."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import taskdsl
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.lowering.lower import make_train_step
from taskdsl.backends.jax.messages import SET_FILE
from taskdsl.backends.jax.training import feed as feeding
from taskdsl.backends.jax.training import memory
from taskdsl.backends.jax.training.errors import TrainError
from taskdsl.backends.jax.training.runs import lower_loading, run_optimizer
from taskdsl.backends.jax.training.settings import resolve
from taskdsl.backends.jax.training.train import train

SOURCE = """
type Img = Real[8, 8, 1]
data digits : -> Img, Class[10]
learner clf : Img -> Class[10]

task classify:
    x, y <- digits
    clf(x) = y

impl clf = nets.mlp(width = {width}, depth = 1)

train classify:
    data digits = datasets.digits(split = "train")
    batch {batch}
    steps 2
    log_every 1
"""
LIMIT = str(8 * 10**9)  # what the tests say is available, whatever the machine has


@pytest.fixture(autouse=True)
def _eight_gigabytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(memory.ENV_LIMIT, LIMIT)


def _file(tmp_path: Path, width: int = 16, batch: int = 32) -> Path:
    path = tmp_path / "digits.task"
    path.write_text(SOURCE.format(width=width, batch=batch), encoding="utf-8")
    return path


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.mark.parametrize(("overrides", "blamed"), [
    (("batch=100000000",), "batch"),
    (("impl.clf=nets.mlp(width = 100000000)",), "clf"),
])
def test_a_run_too_large_is_refused_at_once_with_nothing_allocated(
        tmp_path: Path, overrides: tuple[str, ...], blamed: str) -> None:
    path = _file(tmp_path)
    before, started = _peak_rss(), time.perf_counter()
    with pytest.raises(TrainError) as caught:
        train(taskdsl.load(path), None, overrides, tmp_path / "run", progress=False)
    assert time.perf_counter() - started < 10
    assert _peak_rss() - before < 500 * 2**20  # a batch alone would be 26 GB
    error = caught.value
    assert error.code == "memory-budget" and error.exit_code == 1
    assert error.span is not None and (error.span.file, error.span.line) == (SET_FILE, 1)
    assert "8 GB is available" in error.message
    assert ("make `batch` smaller (it is 100000000)" if blamed == "batch"
            else f"make `{blamed}`'s net smaller") in (error.help or "")
    assert "memory_check = false" in (error.help or "")
    assert not (tmp_path / "run" / "config.json").exists()  # nothing written


@pytest.mark.slow  # a subprocess: ~6 s, mostly importing JAX
def test_the_cli_refuses_a_huge_batch_located_with_exit_code_1(tmp_path: Path) -> None:
    path = _file(tmp_path)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "taskdsl.cli", "train", str(path), "--quiet",
         "--set", "batch=100000000", "-o", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, memory.ENV_LIMIT: LIMIT})
    assert time.perf_counter() - started < 60  # the old behaviour: 13 minutes
    assert done.returncode == 1, done.stderr
    assert "--set:1:1: error[memory-budget]" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_warns_of_a_huge_net_at_its_impl_line(tmp_path: Path) -> None:
    program = taskdsl.load(_file(tmp_path, width=100_000_000))
    # This machine's memory, not the file: a warning for `check`, an error for `train`.
    assert [(d.code, d.severity) for d in check_program(program)] == [
        ("memory-budget", "warning")]
    diagnostics = check_program(program, training=True)
    assert [(d.code, d.severity) for d in diagnostics] == [("memory-budget", "error")]
    span = diagnostics[0].span
    impl_line = SOURCE.splitlines().index("impl clf = nets.mlp(width = {width}, depth = 1)") + 1
    assert span is not None and span.line == impl_line
    assert check_program(program, ("memory_check=false",)) == []


def test_a_normal_run_is_neither_refused_nor_checked_off(tmp_path: Path) -> None:
    program = taskdsl.load(_file(tmp_path))
    assert check_program(program) == []
    result = train(program, None, ("steps=1", "tensorboard=false"), tmp_path / "run",
                   progress=False)
    assert result.status == "finished"


def _parts(tmp_path: Path, batch: int, exact: bool):
    program = taskdsl.load(_file(tmp_path, width=256, batch=batch))
    settings = resolve(program, "classify")
    lowered = lower_loading(program, "classify")
    sources = feeding.bind(lowered.data_requests(), settings.data, "classify")
    init_opt_state, step = make_train_step(lowered, run_optimizer(settings),
                                           batch_size=settings.batch)
    need = memory.estimate(lowered, init_opt_state, step, sources, settings, True, exact=exact)
    return need, lowered, init_opt_state, sources


def test_the_estimate_matches_what_a_run_allocates(tmp_path: Path) -> None:
    batch = 4096
    need, lowered, init_opt_state, sources = _parts(tmp_path, batch, exact=True)
    params = lowered.init(jax.random.key(0))
    assert need.params == sum(x.nbytes for x in jax.tree.leaves(params))
    assert need.opt_state == sum(x.nbytes for x in jax.tree.leaves(init_opt_state(params))
                                 if hasattr(x, "nbytes"))
    rows = {key: np.arange(batch) % len(sources["digits"]) for key in
            (r.key for r in lowered.data_requests())}
    placed = jax.device_put({k: tuple(a[r] for a in sources["digits"].arrays)
                             for k, r in rows.items()})
    assert need.batch == sum(x.nbytes for x in jax.tree.leaves(placed))
    assert need.data == sum(a.nbytes for a in sources["digits"].arrays)
    # XLA's figure keeps at least the hidden layer's activations for the backward pass, and
    # the traced bound is an upper bound of it, within a sane factor.
    assert need.exact and need.step >= batch * 256 * 4
    rough, *_ = _parts(tmp_path, batch, exact=False)
    assert not rough.exact and need.step <= rough.step <= 50 * need.step


def test_what_is_available_is_known_and_overridable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert memory.available() == memory.Available(None, int(LIMIT))
    monkeypatch.delenv(memory.ENV_LIMIT)
    host = memory.host_available()
    assert host is not None and 0 < host <= os.sysconf("SC_PHYS_PAGES") * os.sysconf(
        "SC_PAGE_SIZE")
    for ignored in ("lots", "0", "-5"):  # not a positive whole number: the machine's figure
        monkeypatch.setenv(memory.ENV_LIMIT, ignored)
        assert memory.available().host not in (None, 0, 5)
