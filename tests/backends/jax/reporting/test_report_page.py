"""``taskdsl report``: the page's parts, read back with ``html.parser``, from run folders
written by hand (every shape of metrics, hostile text) and from a real tiny run; the
command's exit codes and its refusal to overwrite what is not a report."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from taskdsl.backends.jax.evaluation.errors import EvalError
from taskdsl.backends.jax.reporting.folder import read_run
from taskdsl.backends.jax.reporting.page import MARKER, REPORT, build_page, write_report
from taskdsl.cli import main
from tests.backends.jax.reporting.report_helpers import TASKS, Node, fake_run, parse

HOSTILE = "<script>alert('x')</script>&amp;"


def train_lines(steps: range, **extra: float) -> list[dict]:
    return [{"step": s, "loss": 3.0 / s, "classify": 2.0 / s, "autoencode": 0.5 / s,
             "grad_norm/enc": 0.1 * s, "wall_time": 0.2 * s, **extra} for s in steps]


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (6, 4), colour).save(out, format="PNG")
    return out.getvalue()


def page_of(run: Path) -> Node:
    return parse(build_page(read_run(run)))


def curves(page: Node, kind: str) -> dict[str, Node]:
    return {f.attrs["data-metric"]: f for f in page.all("figure", class_="curve")
            if f.attrs["data-kind"] == kind}


def table_rows(table: Node) -> dict[str, list[str]]:
    return {row.all("th")[0].text(): [td.text() for td in row.all("td")]
            for row in table.all("tr") if row.all("th") and row.all("td")}


def test_every_part_of_a_run_is_on_the_page(tmp_path: Path) -> None:
    lines = [*train_lines(range(1, 7)),
             {"step": 3, "split": "eval", "eval/classify": 2.5, "eval/autoencode": 0.9,
              "eval/total": 4.3},
             {"step": 6, "split": "eval", "eval/classify": 2.1, "eval/autoencode": 0.7,
              "eval/total": 3.5, "best_step": 6, "early_stop": True}]
    run = fake_run(tmp_path / "run", "".join(json.dumps(r) + "\n" for r in lines)
                   + '{"step": 7, "lo')
    (run / "eval.json").write_text(json.dumps({"figures": {"attribute_success": 0.625},
                                               "split": "test"}))
    (run / "grid.png").write_bytes(png((200, 30, 30)))
    page = page_of(run)

    for section in ("summary", "notes", "diagram", "curves", "final", "evaluation", "settings",
                    "run", "source", "pictures"):
        page.by_id(section)
    learners = [g for g in page.by_id("diagram").all("g", class_="learner")
                if not g.attrs["id"].startswith("legend")]
    names = ["".join(t.text() for t in g.all("text")).strip() for g in learners]
    assert sorted(names) == ["classifier", "dec", "enc"]
    assert list(curves(page, "objective")) == ["loss"]
    assert list(curves(page, "task")) == list(TASKS)
    assert set(curves(page, "other")) == {"grad_norm/enc", "wall_time"}
    for figure in [*curves(page, "task").values(), *curves(page, "objective").values()]:
        assert [g.attrs["data-label"] for g in figure.all("g", class_="line")] == [
            "training", "held-out"]
    final = table_rows(page.by_id("final").all("table")[0])
    assert final["loss"] == [f"{3.0 / 6:.6g}", "3.5"]
    assert "held-out (step 6)" in page.by_id("final").text()
    assert table_rows(page.by_id("final").all("table")[0])["best_step"] == ["", "6"]
    assert table_rows(page.by_id("summary"))["stopped early"][0].startswith("at step 6")
    assert table_rows(page.by_id("evaluation").all("table")[0])["split"] == ["test"]
    assert "cut off" in page.by_id("notes").text()
    (img,) = page.by_id("pictures").all("img")
    assert img.attrs["src"].startswith("data:image/png;base64,")
    shown = Image.open(io.BytesIO(base64.b64decode(img.attrs["src"].split(",", 1)[1])))
    assert shown.size == (6, 4) and shown.getpixel((0, 0)) == (200, 30, 30)


def test_text_from_the_files_is_escaped(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "run", [{"step": 1, "loss": 1.0, HOSTILE: 2.0}],
                   config={"file": HOSTILE, "settings": {"optimizer": HOSTILE},
                           "overrides": [HOSTILE]},
                   source=None)
    (run / "eval.json").write_text(json.dumps({HOSTILE: HOSTILE}))
    (run / f"{HOSTILE.replace('/', '')}.png").write_bytes(png((0, 0, 0)))
    page = page_of(run)
    assert page.all("script") == []
    assert table_rows(page.by_id("settings").all("table")[0])["optimizer"] == [HOSTILE]
    assert HOSTILE in curves(page, "task") or HOSTILE in curves(page, "other")
    assert table_rows(page.by_id("evaluation").all("table")[0])[HOSTILE] == [HOSTILE]
    assert page.by_id("pictures").all("img")[0].attrs["alt"].startswith("<script>")


def test_a_run_whose_program_is_gone_still_gets_its_curves(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "run", train_lines(range(1, 4), **{"examples/s": 900.0}),
                   source="this does not parse")
    page = page_of(run)
    assert list(curves(page, "task")) == list(TASKS)  # guessed: no timing, no grad norms
    assert set(curves(page, "other")) == {"grad_norm/enc", "wall_time", "examples/s"}
    assert "no longer checks" in page.by_id("notes").text()
    assert page.by_id("diagram").all("svg") == []


def test_without_held_out_data_there_is_one_line_a_chart_and_no_evaluation(tmp_path: Path
                                                                            ) -> None:
    page = page_of(fake_run(tmp_path / "run", train_lines(range(1, 5))))
    for figure in curves(page, "task").values():
        assert [g.attrs["data-label"] for g in figure.all("g", class_="line")] == ["training"]
    assert page.all(id="evaluation") == [] and page.all(id="notes") == []
    assert "held-out" not in page.by_id("final").text()


def test_an_empty_metrics_file_is_a_page_that_says_so(tmp_path: Path) -> None:
    page = page_of(fake_run(tmp_path / "run", ""))
    assert "no steps logged yet" in page.by_id("curves").text()
    assert page.all("figure", class_="curve") == []


def test_only_an_earlier_report_is_overwritten(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "run", train_lines(range(1, 3)))
    first = write_report(run)
    assert first == run / REPORT and MARKER in first.read_text()
    first.write_text(first.read_text().replace("</body>", "<p>stale</p></body>"))
    assert "stale" not in write_report(run).read_text()
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    with pytest.raises(EvalError) as caught:
        write_report(run, mine)
    assert caught.value.code == "output-unwritable" and "not a page" in caught.value.message
    assert mine.read_text() == "<p>my notes</p>"
    with pytest.raises(EvalError, match="it is a folder"):
        write_report(run, tmp_path)


def test_the_command_writes_the_page_or_says_what_is_wrong(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture
                                                           ) -> None:
    run = fake_run(tmp_path / "run", train_lines(range(1, 3)))
    out = tmp_path / "page.html"
    assert main(["report", str(run), "-o", str(out)]) == 0
    assert str(out) in capsys.readouterr().out and MARKER in out.read_text()
    (run / "metrics.jsonl").write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    cases = [([str(tmp_path / "nowhere")], "run-missing"),
             ([str(run)], "not-a-run"),
             ([str(run), "-o", str(tmp_path / "no" / "such" / "dir.html")], "not-a-run")]
    for argv, code in cases:
        assert main(["report", *argv]) == 1
        err = capsys.readouterr().err
        assert f"error[{code}]" in err and "Traceback" not in err
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    assert main(["report", str(run), "-o", str(tmp_path / "no" / "dir.html")]) == 1
    err = capsys.readouterr().err
    assert "error[output-unwritable]" in err and "Traceback" not in err


def test_the_report_of_a_real_run(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "real.html"
    assert main(["report", str(tiny_run), "-o", str(out)]) == 0
    page = parse(out.read_text(encoding="utf-8"))
    last = json.loads((tiny_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert list(curves(page, "task")) == list(TASKS)
    assert set(curves(page, "other")) >= {"grad_norm/classifier", "grad_norm/enc"}
    steps = [json.loads(line)["step"] for line in
             (tiny_run / "metrics.jsonl").read_text().splitlines()]
    (train,) = curves(page, "task")["classify"].all("g", class_="line")
    assert len(train.all("circle")) == len(steps)  # one dot a logged step
    assert table_rows(page.by_id("final").all("table")[0])["loss"] == [f"{last['loss']:.6g}"]
    settings = table_rows(page.by_id("settings").all("table")[0])
    assert (settings["batch"], settings["steps"]) == (["16"], ["12"])
    assert table_rows(page.by_id("summary"))["steps logged"] == [f"{last['step']} of 12"]
    assert page.by_id("diagram").all("svg")
