"""`taskdsl check --format json` and `taskdsl check -`: what an editor or CI reads.

The JSON is an array with one object per file checked (its ``ok`` and its
diagnostics, positions 1-based with exclusive ends); the human format stays
the default and says the same.  ``-`` reads standard input as ``<stdin>``,
resolving relative imports from the current folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taskdsl.cli import main

ROOT = Path(__file__).parents[2]
GOLDEN = Path(__file__).parent / "golden" / "errors"
FIELDS = {"file", "line", "column", "end_line", "end_column", "severity", "code", "message",
          "expected", "found", "help", "note"}

CLEAN = "learner get : Real[4] -> Class[10]\n"
BROKEN = "learner get : Real[4] -> Class[10]\ndef f = gett\n"


def taskdsl(*args: str, stdin: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "taskdsl", *args], input=stdin, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_json_reports_each_diagnostic_with_its_position(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    assert main(["check", "--format", "json", "undefined_name.task"]) == 1
    out = capsys.readouterr()
    (entry,) = json.loads(out.out)
    assert entry["file"] == "undefined_name.task"
    assert entry["ok"] is False
    (found,) = entry["diagnostics"]
    assert set(found) == FIELDS
    assert found == {
        "file": "undefined_name.task", "line": 11, "column": 5, "end_line": 11, "end_column": 9,
        "severity": "error", "code": "undefined", "message": "undefined name `gett`",
        "expected": None, "found": None, "help": "did you mean `get`?", "note": None,
    }
    assert out.err == ""  # nothing for a human on stderr: the array says it all


def test_json_lists_every_file_and_a_clean_one_is_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("good.task").write_text(CLEAN, encoding="utf-8")
    Path("bad.task").write_text(BROKEN, encoding="utf-8")
    assert main(["check", "--format", "json", "good.task", "bad.task", "missing.task"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(e["file"], e["ok"]) for e in report] == [
        ("good.task", True), ("bad.task", False), ("missing.task", False)]
    assert report[0]["diagnostics"] == []
    assert [d["code"] for d in report[1]["diagnostics"]] == ["undefined"]
    (unreadable,) = report[2]["diagnostics"]
    assert unreadable["file"] == "missing.task"
    assert unreadable["line"] is None
    assert unreadable["code"] == "import-unreadable"


def test_json_exit_code_is_0_when_every_file_is_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("good.task").write_text(CLEAN, encoding="utf-8")
    assert main(["check", "--format", "json", "good.task"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["ok"] is True


def test_human_format_is_still_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("good.task").write_text(CLEAN, encoding="utf-8")
    assert main(["check", "good.task"]) == 0
    assert capsys.readouterr().out == "good.task: ok\n"


def test_unknown_format_is_a_usage_error() -> None:
    run = taskdsl("check", "--format", "xml", "x.task")
    assert run.returncode == 2
    assert "invalid choice: 'xml'" in run.stderr


def test_stdin_is_checked_as_stdin() -> None:
    run = taskdsl("check", "-", stdin=BROKEN)
    assert run.returncode == 1
    assert "<stdin>:2:9: error[undefined]: undefined name `gett`" in run.stderr
    clean = taskdsl("check", "-", stdin=CLEAN)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout == "<stdin>: ok\n"


def test_stdin_imports_resolve_from_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "shared.task").write_text("type Image = Real[4]\n", encoding="utf-8")
    text = 'import shared from "lib"\nimport vae from stdlib\nlearner get : Image -> Class[10]\n'
    run = taskdsl("check", "--format", "json", "-", stdin=text, cwd=tmp_path)
    assert run.returncode == 0, run.stdout
    (entry,) = json.loads(run.stdout)
    assert (entry["file"], entry["ok"], entry["diagnostics"]) == ("<stdin>", True, [])
    missing = taskdsl("check", "-", stdin='import shared from "nowhere"\n', cwd=tmp_path)
    assert missing.returncode == 1
    assert "error[import-missing]" in missing.stderr
