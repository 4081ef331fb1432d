"""Safe to open, impossible to corrupt: the front end against hostile inputs.

Each test reproduces a finding of the issue of that name (see ``docs/security.md``)
and checks the fix: a planted grammar cache is never unpickled; error recovery is
linear in the file's size and its output bounded; defs that expand exponentially
stop at a budget with a located error; flat chains of any length are accepted;
and no input (a NUL in an import path, bytes that are not UTF-8, a missing output
folder) ends in a traceback.  Timings are compared as ratios, never in seconds.
"""

from __future__ import annotations

import os
import pickle
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from taskdsl.caching import user_cache_folder
from taskdsl.cli import main
from taskdsl.diagnostics import MAX_PER_FILE, Diagnostics, excerpt
from taskdsl.loader import check_file, check_text
from taskdsl.parser import parse
from taskdsl.parsing import grammar

ROOT = Path(__file__).parents[2]
PYTHON = sys.executable
HEAD = "data s : -> Real[2]\nlearner f : Real[2] -> Real[2]\n"


# ------------------------------------------------------- the grammar cache
class Planted:
    """A pickle that, once unpickled, makes the folder ``marker``: proof that it ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def _check_in_subprocess(task: Path, cache_home: Path) -> subprocess.CompletedProcess[str]:
    """``taskdsl check`` in a fresh process (the parser is built once a process)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    return subprocess.run([PYTHON, "-m", "taskdsl", "check", str(task)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("mode", [0o777, 0o700], ids=["world-writable", "private"])
def test_a_planted_pickle_in_the_grammar_cache_never_runs(tmp_path: Path, mode: int) -> None:
    """The cache was Lark's pickle, unpickled before it was verified: a file planted in
    the cache folder ran code on a plain `taskdsl check`.  Now the cache is JSON, read
    only from a folder and file no one else can write; a pickle (under the old name or
    the new) is never unpickled, whatever the folder's permissions."""
    folder = tmp_path / "cache" / "taskdsl"
    folder.mkdir(parents=True)
    folder.chmod(mode)
    marker = tmp_path / "planted-pickle-ran"
    bad = pickle.dumps(Planted(marker))
    (folder / "task-grammar.lark").write_bytes(b"0" * 64 + b"\n" + bad + bad)  # Lark's layout
    (folder / grammar.CACHE_NAME).write_bytes(bad)
    task = tmp_path / "ok.task"
    task.write_text(HEAD, encoding="utf-8")
    done = _check_in_subprocess(task, tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert not marker.exists()


def test_the_cache_is_written_private_and_read_back(tmp_path: Path) -> None:
    """A cache this process wrote (mode 0600 in a 0700 folder) loads in the next one."""
    task = tmp_path / "ok.task"
    task.write_text(HEAD, encoding="utf-8")
    assert _check_in_subprocess(task, tmp_path / "cache").returncode == 0
    folder = tmp_path / "cache" / "taskdsl"
    cache = folder / grammar.CACHE_NAME
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert not cache.read_bytes().startswith(b"\x80")  # no pickle
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    code = "from taskdsl.parsing.grammar import lark; print(lark().source_path)"
    done = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.stdout.strip() == "<deserialized>", done.stderr  # loaded from the cache


PAYLOAD = {"data": {"states": {0: {"NAME": (0, 1)}}, "tuple": (1, "a")}, "memo": {3: ["x"]}}


def test_cache_round_trip_keeps_tuples_and_number_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    grammar.write_cache(path, "key", PAYLOAD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert grammar.read_cache(path, "key") == PAYLOAD


@pytest.mark.parametrize("damage", ["other key", "edited body", "group-writable",
                                    "world-writable", "a link", "truncated"])
def test_an_untrusted_or_damaged_cache_is_refused(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "c.json"
    grammar.write_cache(path, "key", PAYLOAD)
    key = "key"
    if damage == "other key":
        key = "another grammar"
    elif damage == "edited body":
        path.write_bytes(path.read_bytes().replace(b'"x"', b'"y"'))
        path.chmod(0o600)
    elif damage == "group-writable":
        path.chmod(0o620)
    elif damage == "world-writable":
        path.chmod(0o602)
    elif damage == "a link":
        link = tmp_path / "link.json"
        link.symlink_to(path)
        path = link
    else:
        path.write_bytes(path.read_bytes()[:-5])
    assert grammar.read_cache(path, key) is None


def test_no_cache_in_a_folder_others_can_write(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "taskdsl").mkdir(mode=0o700)
    assert user_cache_folder() == tmp_path / "taskdsl"
    (tmp_path / "taskdsl").chmod(0o777)
    assert user_cache_folder() is None
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/folder")
    assert user_cache_folder() is None


# ---------------------------------------------------------- error recovery
BROKEN = "learner f Real[2] -> Real[2]\n"  # a syntax error on each line


def _seconds(run: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of a few runs: the least disturbed by other work on the machine."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def test_error_recovery_is_linear_in_the_file() -> None:
    """Recovery padded each statement with the file's lines before it: 5k broken lines
    took 3.5 s, 20k took 27.8 s (16x for 4x).  Four times the lines must now take about
    four times as long (allowed: 8x; quadratic would be 16x)."""

    def recover(lines: int) -> Callable[[], object]:
        text = BROKEN * lines
        return lambda: parse(text, "b.task", Diagnostics(limit=None))

    small, large = _seconds(recover(1500), repeats=5), _seconds(recover(6000))
    assert large / small < 8, (small, large)
    found = Diagnostics(limit=None)
    parse(BROKEN * 6000, "b.task", found)
    assert len(found) == 6000
    assert [d.span.line for d in found.items][-3:] == [5998, 5999, 6000]


def test_a_file_of_errors_gets_a_bounded_report() -> None:
    """At most 200 diagnostics a file, then one `too-many-errors`, and the parse stops."""
    result = check_text(BROKEN * 20_000, "b.task")
    codes = [d.code for d in result.diagnostics]
    assert codes == ["syntax"] * MAX_PER_FILE + ["too-many-errors"]
    assert result.diagnostics[-1].span.line == MAX_PER_FILE + 1
    assert len(result.render()) < 200 * MAX_PER_FILE


def test_the_error_limit_can_be_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKDSL_MAX_ERRORS", "5")
    assert len(check_text(BROKEN * 50, "b.task").diagnostics) == 6
    monkeypatch.setenv("TASKDSL_MAX_ERRORS", "not a number")
    assert len(check_text(BROKEN * 300, "b.task").diagnostics) == MAX_PER_FILE + 1


def test_a_long_line_is_quoted_around_the_caret() -> None:
    """One 27 KB line made 216 MB of diagnostics: each of its thousands of errors quoted
    the whole line.  Now a diagnostic quotes about 160 characters around the caret."""
    line = "def g = " + " >> ".join(f"z{i}" for i in range(5000))
    result = check_text(line + "\n", "l.task")
    rendered = result.render()
    assert len(result.diagnostics) == MAX_PER_FILE + 1
    assert max(len(row) for row in rendered.splitlines()) < 250
    assert len(rendered) < 1000 * (MAX_PER_FILE + 1)
    last = result.diagnostics[MAX_PER_FILE - 1].render(result.sources).splitlines()
    quoted, caret = last[2].split("| ", 1)[1], last[3].split("| ", 1)[1]
    start = caret.index("^")
    assert quoted.startswith("...") and quoted.endswith("...")
    assert quoted[start:start + len(caret.strip())] == "z199"


@pytest.mark.parametrize("column", [1, 50, 500, 995, 1000])
def test_an_excerpt_keeps_the_caret_under_the_same_text(column: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    shown, at, width = excerpt(text, column, 3)
    assert len(shown) <= 170
    assert shown[at - 1:at - 1 + width] == text[column - 1:column - 1 + 3][:width]


# ---------------------------------------------------------- the budget
def _doubling(levels: int, first: str = "f >> f") -> str:
    lines = [f"def d0 = {first}", *(f"def d{i} = d{i - 1} >> d{i - 1}" for i in range(1, levels))]
    return HEAD + "\n".join(lines) + f"\ntask t:\n    x <- s\n    d{levels - 1}(x) = x\n"


def test_nested_doubling_defs_stop_at_the_budget() -> None:
    """30 nested doubling defs (902 bytes) ended in a MemoryError traceback; 18 took 18 s
    and 693 MB.  Now the first def past 100,000 boxes is one located error."""
    result = check_text(_doubling(30), "n.task")
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("too-large", 18)]
    assert result.diagnostics[0].message == (
        "`d15` is too large to check: it expands to more than 100,000 boxes")
    assert "TASKDSL_MAX_BOXES" in (result.diagnostics[0].help or "")


def test_the_budget_bounds_the_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the budget, more levels cost nothing more: 40 levels take about as long as 20
    (without the budget, a million times as long)."""
    monkeypatch.setenv("TASKDSL_MAX_BOXES", "5000")
    small = _seconds(lambda: check_text(_doubling(20), "n.task"))
    large = _seconds(lambda: check_text(_doubling(40), "n.task"))
    assert large / small < 4, (small, large)
    assert [d.code for d in check_text(_doubling(40), "n.task").diagnostics] == ["too-large"]


def test_defs_that_add_no_box_count_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """`id` adds no box, but 2^40 uses of it would still take forever."""
    monkeypatch.setenv("TASKDSL_MAX_BOXES", "5000")
    result = check_text(_doubling(40, "id[Real[2]] >> id[Real[2]]"), "n.task")
    assert [d.code for d in result.diagnostics] == ["too-large"]


def test_nested_objectives_stop_at_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKDSL_MAX_BOXES", "5000")
    lines = ["task t:", "    x <- s", "    f(x) = x", "objective o0 = t + t",
             *(f"objective o{i} = o{i - 1} + o{i - 1}" for i in range(1, 60))]
    result = check_text(HEAD + "\n".join(lines) + "\n", "o.task")
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("too-large", 18)]
    assert result.diagnostics[0].message.endswith("more than 5,000 terms")


def test_many_diagrams_under_the_budget_share_the_file_allowance(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A thousand defs each just under the budget would cost a thousand budgets: a
    file's diagrams together may spend five, and each def past that is an error."""
    monkeypatch.setenv("TASKDSL_MAX_BOXES", "1000")
    copies = "".join(f"def c{i} = d7\n" for i in range(1000))
    result = check_text(_doubling(8).split("task t:")[0] + copies, "a.task")
    codes = [d.code for d in result.diagnostics]
    assert codes == ["too-large"] * MAX_PER_FILE + ["too-many-errors"]
    first = result.diagnostics[0]
    assert first.message.endswith("more than 5,000 boxes with the rest of the file")
    assert 10 < first.span.line < 30  # a few copies fit, then none


def test_a_large_diagram_under_the_budget_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKDSL_MAX_BOXES", "5000")
    assert check_text(_doubling(10), "n.task").ok  # 2,048 boxes, 2,046 uses of defs


# ---------------------------------------------------------- long chains
@pytest.mark.parametrize("operator", [">>", "@"])
def test_a_flat_chain_of_ten_thousand_is_accepted(operator: str) -> None:
    """A flat chain was composed two parts at a time, one stack frame a part, and
    reported as "nested too deeply"; it is now one template applied by a loop."""
    chain = f" {operator} ".join(["f"] * 10_000)
    result = check_text(HEAD + f"def g = {chain}\n", "c.task")
    assert result.ok, result.render()
    assert len(result.program.defs["g"].boxes) >= 10_000
    pointed = HEAD + f"task t:\n    x <- s\n    ({' >> '.join(['f'] * 10_000)})(x) = x\n"
    assert check_text(pointed, "c.task").ok


# ---------------------------------------------------------- no traceback
@pytest.mark.parametrize("folder", ['"a\\x00b"', '"a\x00b"'], ids=["escaped", "raw"])
def test_a_nul_in_an_import_path_is_a_diagnostic(folder: str) -> None:
    """A NUL byte in an import path raised ValueError (embedded null byte) in pathlib."""
    result = check_text(f"import m from {folder}\n", "i.task")
    assert [d.code for d in result.diagnostics] == ["import-unreadable"]
    message = result.diagnostics[0].message
    assert message.endswith("the path holds a NUL character")
    assert "\x00" not in message


def test_a_nul_in_the_checked_path_is_a_diagnostic() -> None:
    result = check_file("a\x00b.task")
    assert [d.code for d in result.diagnostics] == ["import-unreadable"]


def test_a_file_that_is_not_utf8_says_where(tmp_path: Path) -> None:
    """The byte that is not UTF-8 was not located: now its offset and line are given."""
    path = tmp_path / "latin.task"
    path.write_bytes(HEAD.encode() + b"# caf\xe9\n")
    result = check_file(path)
    assert [d.code for d in result.diagnostics] == ["import-unreadable"]
    offset = len(HEAD.encode()) + 5
    assert result.diagnostics[0].message.endswith(
        f"it is not UTF-8 text: byte 0xe9 at offset {offset} (line 3)")


def test_render_into_a_missing_folder_is_an_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`render -o missing/x.svg` raised FileNotFoundError; it is now a clear error (exit
    1), and no folder is made: a mistyped path should not leave folders behind."""
    task = tmp_path / "d.task"
    task.write_text(HEAD + "def g = f >> f\n", encoding="utf-8")
    out = tmp_path / "missing" / "x.svg"
    assert main(["render", str(task), "--def", "g", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"there is no folder `{out.parent}`" in err
    assert "Traceback" not in err
    assert not out.parent.exists()
