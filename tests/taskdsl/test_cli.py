"""`taskdsl check` on the command line: exit codes, messages, and never a traceback.

Exit codes: 0 clean (warnings alone pass), 1 diagnostics (or an unreadable
file), 2 a usage error.  A few cases run the real command in a subprocess;
the rest call :func:`taskdsl.cli.main` in-process, which is faster.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskdsl.cli import build_parser, main, refuse_overwrite

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "mnist_manipulator.task"
GOLDEN = Path(__file__).parent / "golden" / "errors"
SELF_CONTAINED = ROOT / "examples" / "sprites_demo.task"  # its data are drawn, not read
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")


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
                   if not p.name.startswith("_")
                   and "# expect error[" in p.read_text(encoding="utf-8"))  # not warnings only
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


# ------------------------------------------------------------ one output flag
# Each command that writes a file or folder, as a command line without its -o.
WRITERS = {
    "render": ["render", "f.task"],
    "compile": ["compile", "f.task"],
    "train": ["train", "f.task"],
    "manipulate": ["manipulate", "run", "--input", "x.png", "--to", "1"],
    "demo": ["demo"],
    "data fetch": ["data", "fetch", "mnist"],
    "report": ["report", "run"],
}
# The spellings these commands had before -o/--out, still read, never shown.
OLD_SPELLINGS = {"render": "--output", "compile": "--output", "data fetch": "--dir"}


@pytest.mark.parametrize("command", WRITERS)
@pytest.mark.parametrize("flag", ["-o", "--out"])
def test_every_writing_command_takes_o_and_out(command: str, flag: str) -> None:
    args = build_parser().parse_args([*WRITERS[command], flag, "where"])
    assert args.out == "where"


@pytest.mark.parametrize("command", OLD_SPELLINGS)
def test_old_output_spellings_still_work_but_are_hidden(command: str) -> None:
    parser = build_parser()
    old = OLD_SPELLINGS[command]
    assert parser.parse_args([*WRITERS[command], old, "where"]).out == "where"
    subcommand = _subparser(parser, command.split())
    shown = subcommand.format_help()
    assert "--out" in shown
    assert old not in shown


def _subparser(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    for word in words:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = actions[0].choices[word]
    return parser


# ------------------------------------------------------------ overwriting
@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file that imports another, in the working directory, and a bystander file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib.task").write_text("type Image = Real[4]\nlearner f : Image -> Image\n")
    (tmp_path / "main.task").write_text(
        "import lib\nrandom z : -> Image ~ normal\n\n"
        "task same:\n    x <- z\n    f(x) = x\n")
    (tmp_path / "other.svg").write_text("keep me")
    return tmp_path


@pytest.mark.parametrize("command", ["render", "compile"])
@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("target", ["main.task", "./sub/../main.task", "lib.task"])
def test_output_never_overwrites_an_input(project: Path, capsys: pytest.CaptureFixture[str],
                                          command: str, force: bool, target: str) -> None:
    (project / "sub").mkdir()
    before = {p.name: p.read_text() for p in project.glob("*.task")}
    code = main([command, "main.task", "-o", target, *(["--force"] * force)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"`-o {target}` would overwrite" in err
    assert ("which `main.task` imports" in err) == (target == "lib.task")
    assert "Traceback" not in err
    assert {p.name: p.read_text() for p in project.glob("*.task")} == before


@pytest.mark.parametrize("command", ["render", "compile"])
def test_output_overwrites_another_file_only_with_force(
        project: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    assert main([command, "main.task", "-o", "other.svg"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (project / "other.svg").read_text() == "keep me"


@needs_dot
def test_render_force_overwrites(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "main.task", "-o", "other.svg", "--force"]) == 0
    assert (project / "other.svg").read_text().lstrip().startswith("<?xml")
    assert main(["render", "main.task", "-o", "new.svg"]) == 0  # a new file needs no --force
    assert (project / "new.svg").exists()


@given(st.lists(st.sampled_from(["./", "sub/../", "sub/./../"]), max_size=4))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_spelling_of_an_input_is_refused(project: Path, prefixes: list[str]) -> None:
    (project / "sub").mkdir(exist_ok=True)
    spelled = "".join(prefixes) + "main.task"
    assert refuse_overwrite(spelled, ["main.task"], force=True) is not None
    assert refuse_overwrite("".join(prefixes) + "fresh.svg", ["main.task"], force=False) is None


# ------------------------------------------------------------ completion
def test_bash_completion_names_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    listed = re.search(r"^_shtab_taskdsl_subparsers=\((.*)\)$", script, re.MULTILINE)
    assert listed is not None
    names = next(a for a in build_parser()._actions
                 if isinstance(a, argparse._SubParsersAction)).choices
    assert set(listed.group(1).split()) == set(names)
    assert "completion" in names and "render" in names


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_other_shells_complete_task_files(capsys: pytest.CaptureFixture[str], shell: str) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "*.task" in script
    assert "render" in script and "check" in script


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_task_files_and_commands(tmp_path: Path) -> None:
    """The script works in bash: `check <TAB>` offers .task files and folders, nothing else."""
    (tmp_path / "a.task").touch()
    (tmp_path / "b.txt").touch()
    (tmp_path / "sub").mkdir()
    run = taskdsl("completion", "bash")
    assert run.returncode == 0, run.stderr
    (tmp_path / "completion.bash").write_text(run.stdout)
    probe = ('source completion.bash\n'
             'COMP_WORDS=(taskdsl check ""); COMP_CWORD=2; _shtab_taskdsl taskdsl "" check\n'
             'echo "${COMPREPLY[@]}"\n'
             'COMP_WORDS=(taskdsl ren); COMP_CWORD=1; _shtab_taskdsl taskdsl ren taskdsl\n'
             'echo "${COMPREPLY[@]}"\n')
    done = subprocess.run(["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30)
    files, commands = done.stdout.splitlines()
    assert sorted(files.split()) == ["a.task", "sub"]
    assert commands.split() == ["render"]
