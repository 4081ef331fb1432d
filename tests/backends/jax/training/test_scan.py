"""Several steps per jitted call (`steps_per_call`): the same run, bit for bit on CPU.

However a run's steps are grouped in calls (one a call, four, `auto`, a call cut
short at a checkpoint or an evaluation, a run interrupted and resumed), step ``i``
trains on the same rows with the same key, so parameters and metrics agree exactly.
The default run's `auto` is also covered by ``test_train.py`` (its runs resumed and
killed end bit for bit where an uninterrupted one does); the comparisons here train
several runs each and are marked slow.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskdsl
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.training import scan
from taskdsl.backends.jax.training import train as training
from taskdsl.backends.jax.training.errors import TrainError
from taskdsl.backends.jax.training.feed import BoundSource, Feed
from taskdsl.backends.jax.training.settings import resolve
from taskdsl.backends.jax.training.train import RunResult, train

# Two learners taking turns (`alternate`), evaluated on held-out data every 6 steps:
# calls end at evaluations (6, 12, ...) and checkpoints (10, 20), not at logging steps.
TASK = """
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

impl get = nets.mlp(width = 8, depth = 1)
impl put = nets.mlp(width = 8, depth = 1)

train both:
    data sprites = datasets.sprites(n = 128, size = 8)
    batch 8
    steps 23
    log_every 5
    checkpoint_every 10
    eval_every 6
    schedule alternate(get: 2, put: 1)
    tensorboard false
"""

TIMING = ("wall_time", "examples_per_second")


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scan") / "scan.task"
    path.write_text(TASK, encoding="utf-8")
    return path


def run(task_file: Path, out: str, *overrides: str, resume: bool = False) -> RunResult:
    return train(taskdsl.load(task_file), None, overrides, task_file.parent / out,
                 resume=resume, progress=False)


def same_params(a: object, b: object) -> None:
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def metrics(result: RunResult) -> list[dict]:
    lines = (result.out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


@pytest.fixture(scope="module")
def one_a_call(task_file: Path) -> RunResult:
    return run(task_file, "one", "steps_per_call=1")


@pytest.mark.slow
def test_four_steps_a_call_train_as_one_a_call_bit_for_bit(task_file: Path,
                                                            one_a_call: RunResult) -> None:
    four = run(task_file, "four", "steps_per_call=4")
    assert (one_a_call.steps_per_call, four.steps_per_call) == (1, 4)
    same_params(four.params, one_a_call.params)
    logged = metrics(four)
    assert logged == metrics(one_a_call)
    # Every logging step, evaluation and the last step logged, with its own metrics.
    assert [m["step"] for m in logged] == [1, 5, 6, 10, 12, 15, 18, 20, 23]
    assert all("eval/total" in m for m in logged if m["step"] % 6 == 0)
    assert len({m["loss"] for m in logged}) == len(logged)
    config = json.loads((four.out / "config.json").read_text(encoding="utf-8"))
    assert config["settings"]["steps_per_call"] == 4


@pytest.mark.slow
def test_a_run_of_four_a_call_resumed_ends_where_an_uninterrupted_one_does(
        task_file: Path, one_a_call: RunResult) -> None:
    """Stopped at 13 (not a multiple of 4: the resumed run's calls fall elsewhere)."""
    run(task_file, "parts", "steps_per_call=4", "steps=13")
    resumed = run(task_file, "parts", "steps_per_call=4", resume=True)
    assert resumed.step == 23
    same_params(resumed.params, one_a_call.params)
    # The same lines but the short run's last (step 13, not a logging step).
    assert [m for m in metrics(resumed) if m["step"] != 13] == metrics(one_a_call)


def test_a_non_finite_step_inside_a_call_is_named_and_not_checkpointed(task_file: Path,
                                                                      ) -> None:
    """Calls of two steps (the checkpoint cadence): step 3, the first of a call, is the
    first non-finite one (``put``'s gradient); the call's read-back names it."""
    out = task_file.parent / "nan"
    with pytest.raises(TrainError) as raised:
        run(task_file, "nan", "optimizer=sgd(lr = 1e6)", "steps_per_call=4",
            "checkpoint_every=2", "eval_every=0", "log_every=100")
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    bad = lines[-1]["step"]
    assert any(v is None for v in lines[-1].values())
    assert f"training stopped at step {bad}" in str(raised.value)
    kept = sorted(int(p.name) for p in (out / "checkpoints").iterdir() if p.name.isdigit())
    assert bad == 3 and kept == [2]
    assert f"last good checkpoint (step {max(kept)}) is kept" in str(raised.value)


@pytest.mark.slow
def test_auto_and_host_gathered_batches_train_as_one_a_call(
        task_file: Path, one_a_call: RunResult, monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` switches from one step a call to several after timing a few; batches
    stacked on the host (data too big for the device) take the same steps."""
    auto = run(task_file, "auto")
    assert auto.steps_per_call >= 1
    same_params(auto.params, one_a_call.params)
    monkeypatch.setattr(training, "RESIDENT_BYTES", -1)
    host = run(task_file, "host", "steps_per_call=3")
    same_params(host.params, one_a_call.params)
    assert metrics(host) == metrics(one_a_call)


CONV = """
data digits : -> Real[8, 8, 1], Class[10]
learner clf : Real[8, 8, 1] -> Class[10]
learner put : Real[8, 8, 1], Class[10] -> Real[8, 8, 1]
task classify:
    x, y <- digits
    clf(x) = y                  trains clf
task pg:
    x, y <- digits
    clf(put(x, y)) = y          trains put
objective both = classify + pg
impl clf = nets.cnn(width = 8)
impl put = nets.unet(width = 8, depth = 1)
train both:
    data digits = datasets.digits()
    batch 16
    steps 12
    log_every 4
    tensorboard false
"""


@pytest.mark.slow
def test_convolutions_train_alike_however_the_steps_are_grouped(tmp_path: Path) -> None:
    """On the CPU a step with a convolution is taken one a call from the host, whatever
    ``steps_per_call`` says (XLA's CPU backend runs convolutions inside a loop far
    slower), so one, four and ``auto`` steps a call agree bit for bit."""
    path = tmp_path / "conv.task"
    path.write_text(CONV, encoding="utf-8")
    runs = [train(taskdsl.load(path), None, overrides, tmp_path / str(n), progress=False)
            for n, overrides in enumerate([("steps_per_call=1",), ("steps_per_call=4",), ()])]
    for other in runs[1:]:
        same_params(other.params, runs[0].params)


@pytest.mark.parametrize("value", ["0", "-2", "fast", "1.5", "true"])
def test_steps_per_call_is_auto_or_a_whole_number(task_file: Path, value: str) -> None:
    with pytest.raises(TrainError, match="steps_per_call") as raised:
        resolve(taskdsl.load(task_file), "both", (f"steps_per_call={value}",))
    assert "`auto` or a whole number >= 1" in str(raised.value)


def test_check_locates_a_bad_steps_per_call_in_the_file_and_in_set() -> None:
    text = TASK.replace("    tensorboard false\n", "    tensorboard false\n    steps_per_call 0\n")
    result = taskdsl.check_text(text, "scan.task")
    assert result.ok, result.render()
    found = check_program(result.program, ("steps_per_call=fast",), objective="both")
    assert [(d.code, d.span.file, d.span.line) for d in found] == [
        ("setting-value", "scan.task", text.splitlines().index("    steps_per_call 0") + 1),
        ("setting-value", "--set", 1)]
    assert [(d.expected, d.found) for d in found] == [
        ("`auto` or a whole number >= 1", "0"), ("`auto` or a whole number >= 1", "fast")]


@pytest.mark.parametrize(("given_value", "expected"), [
    ((), "auto"), (("steps_per_call=auto",), "auto"), (('steps_per_call="auto"',), "auto"),
    (("steps_per_call=16",), 16)])
def test_steps_per_call_resolves(task_file: Path, given_value: tuple[str, ...],
                                 expected: object) -> None:
    settings = resolve(taskdsl.load(task_file), "both", given_value)
    assert settings.steps_per_call == expected
    assert settings.to_json()["steps_per_call"] == expected


@given(st.floats(min_value=0.0, max_value=10.0), st.integers(min_value=1, max_value=5000))
def test_auto_aims_a_call_at_tens_of_milliseconds_within_the_cadence(seconds: float,
                                                                     bound: int) -> None:
    k = scan.chosen(seconds, bound)
    assert 1 <= k <= min(bound, scan.MOST_STEPS_PER_CALL)
    if k > 1:  # a longer call only while it stays within the target
        assert k * seconds <= scan.TARGET_SECONDS + 1e-12
    if seconds > 0 and k < min(bound, scan.MOST_STEPS_PER_CALL):
        assert (k + 1) * seconds > scan.TARGET_SECONDS  # and no shorter than it need be


def probe(dispatch: float, step: float, capacity: int,
          held_up: tuple[float, ...] = ()) -> tuple[int, list[int]]:
    """``auto``'s choice for calls that take ``dispatch + count * step`` seconds (the
    first few also held up by ``held_up``), and the lengths it timed on the way."""
    length, probing, best, timed = 1, True, float("inf"), []
    while probing:
        timed.append(length)
        extra = held_up[len(timed) - 1] if len(timed) <= len(held_up) else 0.0
        per_step = (dispatch + length * step + extra) / length
        length, probing, best = training._probed(length, capacity, per_step, best)
    return length, timed


@settings(deadline=None)
@given(dispatch=st.floats(0, 0.01), step=st.floats(1e-6, 1.0),
       capacity=st.integers(1, scan.MOST_STEPS_PER_CALL),
       held_up=st.lists(st.floats(0, 10.0), max_size=3))
def test_auto_times_longer_calls_until_they_are_long_enough(
        dispatch: float, step: float, capacity: int, held_up: list[float]) -> None:
    length, timed = probe(dispatch, step, capacity, tuple(held_up))
    assert 1 <= length <= capacity
    assert timed[:2] == [1, min(2, capacity)][:len(timed)]  # never one timing alone
    assert len(timed) <= capacity.bit_length() + 1
    assert all(b == min(2 * a, capacity) for a, b in itertools.pairwise(timed))
    # At least as long as the fastest timed step allows, and never above that choice.
    fastest = min((dispatch + n * step) / n for n in timed)
    assert length >= scan.chosen(fastest + max(held_up, default=0.0), capacity)
    assert length <= scan.chosen(fastest, capacity)


def test_auto_takes_a_small_models_steps_in_whole_cadences_and_a_slow_one_alone() -> None:
    # digits MLP on CPU: a call costs ~0.3 ms to dispatch, a step ~0.05 ms.
    assert probe(3e-4, 5e-5, 50) == (50, [1, 2, 4, 8, 16, 32, 50])
    # The first timed call held up a second: still the whole cadence.
    assert probe(3e-4, 5e-5, 50, held_up=(1.0,))[0] == 50
    # A step of 55 ms (the manipulator on a GPU): known after two calls.
    assert probe(1e-4, 0.055, 50) == (1, [1, 2])


@settings(deadline=None, max_examples=50)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=3),
       batch=st.integers(1, 12), processes=st.sampled_from([1, 2, 4]),
       first=st.integers(0, 200), count=st.integers(0, 30), spare=st.integers(0, 5),
       seed=st.integers(0, 3))
def test_a_calls_rows_are_each_steps_feed_rows(sizes: list[int], batch: int, processes: int,
                                               first: int, count: int, spare: int,
                                               seed: int) -> None:
    """Gathered for a whole call at once (across epochs, for each process's slice),
    the rows are those ``Feed.rows`` gives step by step, bit for bit; zeros after."""
    batch *= processes
    requests = [SimpleNamespace(key=f"{n}/0", source=f"s{n}") for n in range(len(sizes))]
    sources = {f"s{n}": BoundSource(f"s{n}", "", (np.zeros((size, 1)),))
               for n, size in enumerate(sizes)}
    for process in range(processes):
        feed = Feed(requests, sources, batch, seed,  # type: ignore[arg-type]
                    process=process, processes=processes)
        stacked = feed.stacked_rows(first, count, count + spare)
        unpadded = feed.stacked_rows(first, count)
        for request in requests:
            width, dtype = batch // processes, feed.rows(first)[request.key].dtype
            expected = np.array([feed.rows(first + n)[request.key] for n in range(count)],
                                dtype).reshape(count, width)
            got = stacked[request.key]
            assert got.dtype == dtype and got.shape == (count + spare, width)
            np.testing.assert_array_equal(got[:count], expected)
            np.testing.assert_array_equal(unpadded[request.key], expected)
            assert not got[count:].any()


@settings(deadline=None, max_examples=200)
@given(log_every=st.integers(1, 60), eval_every=st.integers(0, 60), evaluated=st.booleans(),
       steps=st.integers(1, 400), first=st.integers(0, 400), count=st.integers(0, 120))
def test_a_call_logs_when_one_of_its_steps_does(log_every: int, eval_every: int,
                                                evaluated: bool, steps: int, first: int,
                                                count: int) -> None:
    """Whether a call's steps log one line, counted from the cadences, is whether any of
    its steps logs (the first, a multiple of ``log_every`` or of ``eval_every`` when
    evaluating, the last)."""
    lowered = SimpleNamespace(task_names=("t",), learner_names=("a",))
    settings_ = SimpleNamespace(log_every=log_every, eval_every=eval_every, steps=steps)
    loop = training._Loop(lowered, settings_, None, Path("."), True, None)  # type: ignore[arg-type]
    loop.watchers = SimpleNamespace(evaluation=object() if evaluated else None
                                    )  # type: ignore[assignment]
    expected = any(loop._logs(first + n) for n in range(1, count + 1))
    assert loop._logs_in(first, count) == expected
