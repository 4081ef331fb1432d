"""`taskdsl check` on the command line: exit codes, messages, and never a traceback.

Exit codes: 0 clean (warnings alone pass), 1 diagnostics (or an unreadable
file), 2 a usage error.  A few cases run the real command in a subprocess;
the rest call :func:`taskdsl.cli.main` in-process, which is faster.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskdsl.cli import main

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "mnist_manipulator.task"
GOLDEN = Path(__file__).parent / "golden" / "errors"
SELF_CONTAINED = ROOT / "examples" / "sprites_demo.task"  # its data are drawn, not read


def taskdsl(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "taskdsl", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


# ------------------------------------------------------------ subprocess
def test_clean_file_exits_0() -> None:
    run = taskdsl("check", str(SELF_CONTAINED))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"{SELF_CONTAINED}: ok"
    assert run.stderr == ""


def test_data_not_fetched_yet_is_a_warning_that_says_how(tmp_path: Path) -> None:
    run = taskdsl("check", str(EXAMPLE), env={"TASKDSL_DATA": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"{EXAMPLE}: ok"
    assert "warning[data-missing-file]" in run.stderr
    assert "taskdsl data fetch mnist" in run.stderr


def test_file_with_errors_exits_1() -> None:
    run = taskdsl("check", "undefined_name.task", cwd=GOLDEN)
    assert run.returncode == 1
    assert "undefined_name.task:11:5: error[undefined]: undefined name `gett`" in run.stderr
    assert "did you mean `get`?" in run.stderr
    assert "1 of 1 file(s) have errors" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("args", [["check"], ["check", "--frobnicate", "x.task"], [],
                                  ["frobnicate"]], ids=["no-files", "unknown-option",
                                                        "no-command", "unknown-command"])
def test_usage_errors_exit_2(args: list[str]) -> None:
    run = taskdsl(*args)
    assert run.returncode == 2
    assert "usage: taskdsl" in run.stderr
    assert "Traceback" not in run.stderr


def test_missing_file_is_a_message(tmp_path: Path) -> None:
    run = taskdsl("check", "nope.task", cwd=tmp_path)
    assert run.returncode == 1
    assert "cannot read `nope.task`: no such file" in run.stderr
    assert "Traceback" not in run.stderr


def test_folder_is_a_message(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    run = taskdsl("check", "sub", cwd=tmp_path)
    assert run.returncode == 1
    assert "cannot read `sub`: it is a folder" in run.stderr
    assert "Traceback" not in run.stderr


def test_warnings_alone_exit_0() -> None:
    run = taskdsl("check", "discarded_learner.task", cwd=GOLDEN)
    assert run.returncode == 0
    assert "warning[discarded-learner]" in run.stderr
    assert "discarded_learner.task: ok" in run.stdout


def test_garbage_input_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "junk.task").write_bytes(b"task t:\n\x00\xff\xfe(((\n    = = =\n")
    (tmp_path / "half.task").write_text("learner f : Real[4] -> (\n  ]]] task\n\tlearner")
    run = taskdsl("check", "junk.task", "half.task", cwd=tmp_path)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "error[import-unreadable]: cannot read `junk.task`: it is not UTF-8 text" in run.stderr
    assert "half.task:1:" in run.stderr


# ------------------------------------------------------------ in-process
def test_every_file_is_checked(capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    code = main(["check", "arity.task", "discarded_learner.task", "vacuous.task"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.strip() == "discarded_learner.task: ok"
    assert "arity.task:10:5: error[arity]" in err
    assert "vacuous.task:5:1: error[vacuous]" in err
    assert "2 of 3 file(s) have errors" in err


def test_all_golden_errors_exit_1(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    cases = sorted(p.name for p in GOLDEN.glob("*.task")
                   if not p.name.startswith("_") and p.name != "discarded_learner.task")
    assert main(["check", *cases]) == 1
    err = capsys.readouterr().err
    assert f"{len(cases)} of {len(cases)} file(s) have errors" in err


def test_rendered_output_matches_golden(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    assert main(["check", "side_types.task"]) == 1
    err = capsys.readouterr().err
    assert err.startswith((GOLDEN / "side_types.expected").read_text())


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("taskdsl ")
