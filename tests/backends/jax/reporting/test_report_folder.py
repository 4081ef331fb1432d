"""Reading a run folder for a report: both shapes of held-out lines, a torn last line, and a
clear error (never a traceback) for what is not a run or has corrupt metrics."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl.backends.jax.evaluation.errors import EvalError
from taskdsl.backends.jax.reporting import folder
from taskdsl.backends.jax.reporting.folder import parse_metrics, read_run
from tests.backends.jax.reporting.report_helpers import fake_run

HERE = Path("run")


def lines(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_held_out_values_are_read_from_prefixed_keys_and_from_eval_lines() -> None:
    text = lines(
        {"step": 1, "loss": 3.0, "classify": 2.0, "wall_time": 0.5},
        {"step": 2, "loss": 2.5, "classify": 1.5, "eval/classify": 1.8, "eval/total": 2.9},
        {"step": 4, "split": "eval", "classify": 1.2, "total": 2.2},
        {"step": 6, "split": "eval", "eval/classify": 1.1},
    )
    metrics = parse_metrics(text, HERE)
    assert metrics.series("classify") == ([1, 2], [2.0, 1.5])
    assert metrics.series("classify", held_out=True) == ([2, 4, 6], [1.8, 1.2, 1.1])
    assert metrics.series("loss", held_out=True) == ([2, 4], [2.9, 2.2])  # `total` is the loss
    assert metrics.series("loss") == ([1, 2], [3.0, 2.5])  # eval lines add no training point
    assert metrics.last(held_out=True) == {"step": 6, "classify": 1.1}
    assert "eval/classify" not in metrics.names() and "split" not in metrics.names()


def test_null_is_a_gap_and_notes_are_not_values() -> None:
    metrics = parse_metrics(lines({"step": 1, "loss": None, "note": "stopped", "flag": True}),
                            HERE)
    (record,) = metrics.train
    assert math.isnan(record["loss"]) and set(record) == {"step", "loss"}


records = st.lists(
    st.fixed_dictionaries({"loss": st.floats(-1e6, 1e6), "a": st.floats(0, 10)}),
    min_size=1, max_size=6)


@given(records, st.data())
@settings(max_examples=60, deadline=None)
def test_a_cut_off_last_line_is_skipped_and_every_whole_line_kept(found: list[dict],
                                                                  data: st.DataObject) -> None:
    text = lines(*({"step": i + 1, **r} for i, r in enumerate(found)))
    start = text.rstrip("\n").rfind("\n") + 1  # where the last line begins
    cut = data.draw(st.integers(start + 1, len(text)))
    metrics = parse_metrics(text[:cut], HERE)
    whole = len(found) if text[:cut].rstrip().endswith("}") else len(found) - 1
    assert metrics.torn == (whole < len(found))
    assert [r["step"] for r in metrics.train] == list(range(1, whole + 1))
    assert [r["loss"] for r in metrics.train] == [r["loss"] for r in found[:whole]]


@pytest.mark.parametrize(("text", "words"), [
    ('{"step": 1, "loss": 2}\n{"step": 2, "lo\n{"step": 3, "loss": 1}\n', "line 2 is not JSON"),
    ('{"step": 1}\n[1, 2]\n{"step": 3}\n', "line 2 is not a JSON object"),
    ('{"loss": 1}\n', "line 1 is not a JSON object with a whole-number `step`"),
    ('{"step": "one", "loss": 1}\n{"step": 2}\n', "line 1"),
])
def test_a_corrupt_line_before_the_last_is_an_error_naming_it(text: str, words: str) -> None:
    with pytest.raises(EvalError) as caught:
        parse_metrics(text, HERE)
    assert caught.value.code == "not-a-run" and words in caught.value.message
    assert "metrics.jsonl" in caught.value.message


def run_folder(root: Path, metrics: str | None = "", config: str | None = "{}") -> Path:
    run = root / "run"
    run.mkdir()
    if config is not None:
        (run / "config.json").write_text(config)
    if metrics is not None:
        (run / "metrics.jsonl").write_text(metrics)
    return run


@pytest.mark.parametrize(("config", "metrics", "code", "words"), [
    (None, "", "not-a-run", "there is no config.json"),
    ("{not json", "", "not-a-run", "config.json cannot be read"),
    ("[1]", "", "not-a-run", "not a JSON object"),
    ("{}", None, "not-a-run", "there is no metrics.jsonl"),
])
def test_what_is_not_a_run_says_what_is_missing(tmp_path: Path, config: str | None,
                                                metrics: str | None, code: str,
                                                words: str) -> None:
    run = run_folder(tmp_path, metrics, config)
    with pytest.raises(EvalError) as caught:
        read_run(run)
    assert (caught.value.code, caught.value.exit_code) == (code, 1)
    assert words in caught.value.message and str(run) in caught.value.message


def test_a_missing_folder_and_a_file_are_told_apart(tmp_path: Path) -> None:
    with pytest.raises(EvalError) as missing:
        read_run(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(EvalError) as a_file:
        read_run(tmp_path / "file")
    assert missing.value.code == "run-missing" and "taskdsl train" in missing.value.message
    assert a_file.value.code == "not-a-run" and "it is a file" in a_file.value.message


def test_eval_json_pictures_and_checkpoints_are_found(tmp_path: Path) -> None:
    run = run_folder(tmp_path, lines({"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}))
    (run / "eval.json").write_text('{"figures": {"attribute_success": 0.75}}')
    (run / "grid.png").write_bytes(b"\x89PNG fake")
    (run / "notes.txt").write_text("not a picture")
    (run / "judge").mkdir()
    (run / "judge" / "inner.png").write_bytes(b"\x89PNG")
    for step in ("5", "10", "tmp"):
        (run / "checkpoints" / step).mkdir(parents=True)
    found = read_run(run)
    assert found.evaluation == {"figures": {"attribute_success": 0.75}}
    assert [(p.name, p.mime, p.data) for p in found.pictures] == [
        ("grid.png", "image/png", b"\x89PNG fake")]
    assert found.checkpoints == (5, 10) and found.notes == ()


def test_a_broken_eval_json_and_a_huge_picture_are_notes(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_folder(tmp_path, lines({"step": 1, "loss": 1.0}) + '{"step": 2, "lo')
    (run / "eval.json").write_text("{")
    (run / "big.png").write_bytes(b"x" * 64)
    monkeypatch.setattr(folder, "MAX_PICTURE_BYTES", 32)
    found = read_run(run)
    assert found.evaluation is None and found.pictures[0].data is None
    assert [n.split()[0:3] for n in found.notes] == [
        ["the", "last", "line"], ["eval.json", "could", "not"], ["picture", "big.png", "(0.0"]]


def test_the_file_names_are_the_writers() -> None:
    from taskdsl.backends.jax.evaluation.evaluate import EVAL_FILE
    from taskdsl.backends.jax.training.checkpoint import FOLDER
    from taskdsl.backends.jax.training.runs import CONFIG
    from taskdsl.backends.jax.training.train import METRICS

    assert (folder.CONFIG, folder.METRICS, folder.EVAL, folder.CHECKPOINTS) == (
        CONFIG, METRICS, EVAL_FILE, FOLDER)


HIDE_JAX = """
import json, sys
sys.modules.update(jax=None, flax=None, optax=None, orbax=None)  # importing them fails
from taskdsl.cli import main
code = main(["report", sys.argv[1]])
frameworks = {"jax", "flax", "optax", "orbax"}
print(json.dumps([code, sorted(m for m, module in sys.modules.items()
                               if module is not None and m.split(".")[0] in frameworks)]))
"""


def test_the_command_runs_where_jax_is_not_installed(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "run", [{"step": 1, "loss": 1.0}], source=None)
    done = subprocess.run([sys.executable, "-c", HIDE_JAX, str(run)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    code, imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert (code, imported) == (0, [])
    assert (run / "report.html").is_file()
