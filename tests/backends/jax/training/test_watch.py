"""Watching a run: timing in metrics.jsonl, TensorBoard event files, held-out evaluation,
the best checkpoint and early stops (``training/watch.py`` and the loop that drives it)."""

from __future__ import annotations

import io
import itertools
import json
import math
import struct
from collections import defaultdict
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from tensorboardX.proto import event_pb2

import taskdsl
from taskdsl.backends.jax import data
from taskdsl.backends.jax.evaluation import pictures
from taskdsl.backends.jax.training import watch
from taskdsl.backends.jax.training.checkpoint import Checkpoints
from taskdsl.backends.jax.training.errors import TrainError
from taskdsl.backends.jax.training.train import RunResult, train
from taskdsl.ir import Call, Name
from taskdsl.queries import DataRequest
from taskdsl.types import WireType

DIGITS = """
type Image = Real[8, 8, 1]
type Digit = Class[10]
data digits : -> Image, Digit
learner clf : Image -> Digit
learner enc : Image -> Real[4]
learner dec : Real[4] -> Image

task classify:
    x, y <- digits
    clf(x) = y

task reconstruct:
    x, _ <- digits
    dec(enc(x)) = x

objective both = classify + reconstruct

impl clf = nets.mlp(width = 16, depth = 1)
impl enc = nets.mlp(width = 16, depth = 1)
impl dec = nets.mlp(width = 16, depth = 1)

train both:
    data digits = datasets.digits(split = "train")
    batch 32
    steps 30
    optimizer adam(lr = 1e-2)
    log_every 10
    checkpoint_every 5
    keep 10
    eval_every 5
"""
# The loss falls, so with `keep_best_mode "max"` the best evaluation is an early one: a run
# whose best step is not its last, and that `patience` stops.
WATCHED = ('keep_best="eval/total"', "keep_best_mode=max", "patience=2")
TASKS = ("classify", "reconstruct")


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("watch") / "digits.task"
    path.write_text(DIGITS, encoding="utf-8")
    return path


def run(task_file: Path, out: str, *overrides: str) -> RunResult:
    return train(taskdsl.load(task_file), None, overrides, task_file.parent / out,
                 progress=False)


def lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def events(folder: Path) -> list[event_pb2.Event]:
    """Every event of the TensorBoard files in ``folder``, read as TFRecords: length (u64),
    its CRC, the serialized Event, its CRC."""
    found = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        raw = path.read_bytes()
        at = 0
        while at < len(raw):
            (length,) = struct.unpack("<Q", raw[at:at + 8])
            event = event_pb2.Event()
            event.ParseFromString(raw[at + 12:at + 12 + length])
            found.append(event)
            at += 12 + length + 4
    return found


def scalars(folder: Path) -> dict[str, dict[int, float]]:
    """Each scalar tag's values by step."""
    found: dict[str, dict[int, float]] = defaultdict(dict)
    for event in events(folder):
        for value in event.summary.value:
            if value.HasField("simple_value"):
                found[value.tag][event.step] = value.simple_value
    return found


def images(folder: Path) -> dict[str, dict[int, Image.Image]]:
    found: dict[str, dict[int, Image.Image]] = defaultdict(dict)
    for event in events(folder):
        for value in event.summary.value:
            if value.HasField("image"):
                found[value.tag][event.step] = Image.open(
                    io.BytesIO(value.image.encoded_image_string))
    return found


@pytest.fixture(scope="module")
def watched(task_file: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[RunResult, str]:
    """A run evaluated every 5 steps, keeping its best (here: highest) `eval/total`, and
    stopped by `patience`; with what it said on stderr."""
    with pytest.MonkeyPatch.context() as patch:
        said = io.StringIO()
        patch.setattr("sys.stderr", said)
        result = run(task_file, "watched", *WATCHED)
    return result, said.getvalue()


@pytest.fixture(scope="module")
def evals(watched: tuple[RunResult, str]) -> list[int]:
    """The evaluated steps: every 5th, up to the early stop."""
    return [m["step"] for m in lines(watched[0].out) if "eval/total" in m]


# ---------------------------------------------------------------- metrics.jsonl


def test_every_line_has_its_wall_time_and_speed(watched: tuple[RunResult, str],
                                                evals: list[int]) -> None:
    logged = lines(watched[0].out)
    assert [m["step"] for m in logged] == [1, *evals]  # log_every 10, and every evaluation
    times = [m["wall_time"] for m in logged]
    assert times == sorted(times) and times[0] > 0
    assert times[-1] <= watched[0].seconds
    assert all(m["examples_per_second"] > 0 for m in logged)
    # The speed is the examples since the previous line over the time between them.
    for before, after in itertools.pairwise(logged[1:]):
        elapsed = after["wall_time"] - before["wall_time"]
        examples = (after["step"] - before["step"]) * 32
        assert after["examples_per_second"] == pytest.approx(examples / elapsed, rel=0.05,
                                                             abs=examples / elapsed * 0.05 + 1)


def test_the_global_gradient_norm_joins_the_learners_own(watched: tuple[RunResult, str]) -> None:
    for m in lines(watched[0].out):
        own = [m[f"grad_norm/{n}"] for n in ("clf", "enc", "dec")]
        assert m["grad_norm"] == pytest.approx(math.sqrt(sum(v * v for v in own)), rel=1e-5)


def test_evaluations_are_logged_on_their_steps_only(watched: tuple[RunResult, str],
                                                    evals: list[int]) -> None:
    logged = lines(watched[0].out)
    assert evals == list(range(5, evals[-1] + 1, 5)) and len(evals) >= 3
    for m in logged:
        if "eval/total" in m:
            # Weights 1 and 1: the total is the sum of the tasks' held-out values.
            assert m["eval/total"] == pytest.approx(m["eval/classify"] + m["eval/reconstruct"],
                                                    rel=1e-5)
            assert m["eval/total"] != pytest.approx(m["loss"], rel=1e-6)  # other data
    # The same parameters evaluate alike: held-out values are not training batches'.
    assert len({m["eval/total"] for m in logged if "eval/total" in m}) == len(evals)


def test_keep_best_keeps_the_step_with_the_best_value(watched: tuple[RunResult, str],
                                                      evals: list[int]) -> None:
    logged = [m for m in lines(watched[0].out) if "eval/total" in m]
    values = [m["eval/total"] for m in logged]
    best = logged[int(np.argmax(values))]["step"]
    assert best != evals[-1], "the test needs a run whose best step is not its last"
    assert [m["best_step"] for m in logged] == [
        logged[int(np.argmax(values[:i + 1]))]["step"] for i in range(len(values))]
    kept = Checkpoints(watched[0].out, 1, folder=watch.BEST_FOLDER)
    try:
        assert kept.all_steps() == (best,)
        saved = kept.read(best)
    finally:
        kept.close()
    # What best/ holds is the state the run had at that step (checkpoints/ keeps each step).
    at_step = Checkpoints(watched[0].out, 10).read(best)
    for x, y in zip(jax.tree.leaves(saved), jax.tree.leaves(at_step), strict=True):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- TensorBoard


def test_tensorboard_holds_every_logged_scalar(watched: tuple[RunResult, str],
                                               evals: list[int]) -> None:
    found = scalars(watched[0].out / watch.TB_FOLDER)
    expected = {"train/total", "train/classify", "train/reconstruct", "grad_norm",
                "grad_norm/clf", "grad_norm/enc", "grad_norm/dec", "lr",
                "examples_per_second", "eval/total", "eval/classify", "eval/reconstruct"}
    assert expected <= set(found), sorted(found)
    for m in lines(watched[0].out):
        for key, value in m.items():
            if key in watch.NOT_PLOTTED:
                continue
            shown = found[watch.tag(key, TASKS)][m["step"]]
            assert shown == pytest.approx(np.float32(value), rel=1e-6), (key, m["step"])
    assert list(found["lr"].values()) == pytest.approx([1e-2] * len(found["lr"]))
    assert sorted(found["eval/total"]) == evals


def test_each_checkpoint_draws_the_image_valued_outputs(watched: tuple[RunResult, str],
                                                         evals: list[int]) -> None:
    drawn = images(watched[0].out / watch.TB_FOLDER)
    assert set(drawn) == {"pictures/dec"}  # clf gives classes, enc a code: no images
    assert sorted(drawn["pictures/dec"]) == evals  # checkpoint_every 5
    first, last = drawn["pictures/dec"][evals[0]], drawn["pictures/dec"][evals[-1]]
    # The first SHOWN examples side by side, each enlarged as evaluation pictures are.
    assert first.size == last.size == pictures.grid([[np.zeros((8, 8, 1))] * watch.SHOWN]).size
    assert np.asarray(first).tobytes() != np.asarray(last).tobytes()  # the decoder learned


# ---------------------------------------------------------------- patience


def test_patience_stops_the_run_and_says_so(watched: tuple[RunResult, str]) -> None:
    result, said = watched
    logged = lines(result.out)
    evaluated = [m for m in logged if "eval/total" in m]
    # When the watched metric last improved, from the file alone: two evaluations later.
    best_at, waited, stop = None, 0, None
    for m in evaluated:
        if best_at is None or m["eval/total"] > best_at:
            best_at, waited = m["eval/total"], 0
        else:
            waited += 1
        if waited == 2:
            stop = m["step"]
            break
    assert stop is not None and stop < 30
    assert (result.status, result.step) == ("stopped", stop)
    assert logged[-1]["step"] == stop and logged[-1]["early_stop"] is True
    assert not any(m.get("early_stop") for m in logged[:-1])
    assert Checkpoints(result.out, 10).latest_step() == stop
    assert f"stopped early at step {stop}: eval/total has not improved for 2 evaluations" in said


# ---------------------------------------------------------------- the pieces


def reference_patience(values: list[float], mode: str) -> tuple[int | None, int]:
    """The best evaluation's index and the evaluations since it, the slow way."""
    finite = [i for i, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        return None, len(values)
    sign = 1 if mode == "min" else -1
    best = min(finite, key=lambda i: (sign * values[i], i))  # the first of the best
    return best, len(values) - 1 - best


@given(st.lists(st.one_of(st.floats(-5, 5), st.just(math.nan)), max_size=12),
       st.sampled_from(["min", "max"]), st.integers(0, 4))
def test_best_follows_the_first_best_value(values: list[float], mode: str,
                                           patience: int) -> None:
    best = watch.Best(Path("unused"), "eval/total", mode, patience, keep=False)
    for step, value in enumerate(values, start=1):
        best.update(step, value)
    index, waited = reference_patience(values, mode)
    assert best.step == (None if index is None else index + 1)
    assert best.waited == waited
    assert best.exhausted == (patience > 0 and waited >= patience)


def test_a_resumed_run_replays_its_evaluations_up_to_its_checkpoint() -> None:
    best = watch.Best(Path("unused"), "eval/a", "min", 2, keep=False)
    history = [{"step": 1, "loss": 3.0}, {"step": 5, "eval/a": 2.0}, {"step": 10, "eval/a": 1.0},
               {"step": 15, "eval/a": 1.5}, {"step": 20, "eval/a": 0.5}]
    best.replay(history, 15)  # step 20 was logged after the checkpoint resumed from
    assert (best.step, best.value, best.waited) == (10, 1.0, 1)


def test_tags_put_training_values_beside_evaluations() -> None:
    assert watch.tag("loss", TASKS) == "train/total"
    assert watch.tag("classify", TASKS) == "train/classify"
    assert watch.tag("eval/classify", TASKS) == "eval/classify"
    assert watch.tag("grad_norm/enc", TASKS) == "grad_norm/enc"


LINE_KEYS = ("loss", "classify", "grad_norm", "grad_norm/enc", "eval/total",
             "examples_per_second", "wall_time", "best_step", "early_stop")


@settings(deadline=None, max_examples=15)
@given(lines_=st.lists(st.dictionaries(
           st.sampled_from(LINE_KEYS),
           st.none() | st.booleans() | st.integers(-5, 5)
           | st.floats(width=32, allow_nan=True, allow_infinity=True)),
           min_size=1, max_size=4),
       lr=st.none() | st.floats(0.0, 1.0), start=st.sampled_from([0, 7]))
def test_a_line_is_one_event_holding_each_plotted_number(
        tmp_path_factory: pytest.TempPathFactory, lines_: list[dict], lr: float | None,
        start: int) -> None:
    """Each metrics line's finite numbers (not bools, not ``NOT_PLOTTED``) and the learning
    rate read back from the event file under their tags at its step, in one event a line;
    a resumed run's file starts by purging what came after its checkpoint."""
    run_dir = tmp_path_factory.mktemp("board")
    board = watch.Board(run_dir, TASKS, start, lr)
    expected: dict[str, dict[int, float]] = defaultdict(dict)
    for step, line in enumerate(lines_, start=start + 1):
        board.scalars({"step": step, **line})
        for key, value in line.items():
            if (key not in watch.NOT_PLOTTED and not isinstance(value, bool)
                    and value is not None and math.isfinite(value)):
                expected[watch.tag(key, TASKS)][step] = float(np.float32(value))
        if lr is not None and "loss" in line:
            expected["lr"][step] = float(np.float32(lr))
    board.close()
    assert scalars(run_dir / watch.TB_FOLDER) == expected
    found = events(run_dir / watch.TB_FOLDER)
    per_event = [len(e.summary.value) for e in found if e.summary.value]
    assert per_event == [n for n in (sum(step in by_step for by_step in expected.values())
                                     for step in range(start + 1, start + len(lines_) + 1))
                         if n]
    assert found[0].file_version == "brain.Event:2"
    purged = [e.step for e in found if e.HasField("session_log")]
    assert purged == ([start + 1] if start else [])


@pytest.mark.parametrize(("spec", "lr"), [
    (Call("adam", (), {"lr": 3e-4}), 3e-4), (Call("sgd", (0.5,)), 0.5), (Name("sgd"), 1e-2),
    (Name("adamw"), 1e-3), (Name("lion"), None)])
def test_the_learning_rate_is_the_optimizers(spec: Call | Name, lr: float | None) -> None:
    assert watch.learning_rate(spec) == lr


def test_held_out_data_is_each_sources_test_split(monkeypatch: pytest.MonkeyPatch) -> None:
    wires = (WireType("Real", (8, 8, 1)), WireType("Class", (10,)))
    requests = [DataRequest("a@0", "digits", wires), DataRequest("b@0", "mine", wires)]
    bindings = {"mine": Call("datasets.sprites", (), {"n": 40, "split": "train"})}
    held = watch.held_out_bindings(requests, bindings)
    assert held == {"digits": Call("datasets.digits", (), {"split": "test"}),
                    "mine": Call("datasets.sprites", (), {"n": 40, "split": "test"})}
    monkeypatch.setitem(data.LOADERS, "plain", lambda path=None: None)
    with pytest.raises(TrainError) as caught:
        watch.held_out_bindings(requests, {"mine": Call("datasets.plain")})
    assert "data source `mine` = datasets.plain() has no `split` option" in str(caught.value)


def test_real_and_binary_pictures_are_drawn() -> None:
    assert pictures.is_drawable(WireType("Real", (8, 8, 1)))
    assert pictures.is_drawable(WireType("Binary", (8, 8, 1)))
    assert pictures.is_drawable(WireType("Real", (32, 32, 3)))
    assert not pictures.is_drawable(WireType("Real", (8, 8, 2)))
    assert not pictures.is_drawable(WireType("Real", (64,)))
    assert not pictures.is_drawable(WireType("Class", (10,)))
