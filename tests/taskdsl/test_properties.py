"""Property tests of the front end, with Hypothesis.

(a) Random well-typed programs (:func:`strategies.programs`) check clean, and
    formatting one keeps its meaning (same syntax tree, same IR) and is
    idempotent.
(b) Random corruptions of valid files (the library's and generated ones) never
    crash ``taskdsl check`` or ``taskdsl fmt``: the front end answers with
    diagnostics, exit code 0 or 1, and no traceback.  A corrupted file that still
    parses formats as safely as a valid one.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskdsl.cli import main
from taskdsl.diagnostics import Diagnostics
from taskdsl.fmt import format_text
from taskdsl.loader import check_text
from taskdsl.parser import parse
from tests.taskdsl.strategies import byte_corruptions, corruptions, programs

ROOT = Path(__file__).parents[2]
LIBRARY = [p.read_text(encoding="utf-8")
           for p in sorted([*ROOT.glob("stdlib/*.task"), *ROOT.glob("examples/*.task")])]
PYTHON = sys.executable



def examples(count: int) -> settings:
    """Hypothesis settings for ``count`` examples: the whole file runs in well under a minute."""
    return settings(max_examples=count, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


valid_texts = st.sampled_from(LIBRARY) | programs() if LIBRARY else programs()
broken_texts = valid_texts.flatmap(corruptions)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """A folder for corrupted files (Hypothesis reruns a test: no per-example fixtures)."""
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def assert_formats_safely(text: str) -> None:
    """Formatting ``text`` keeps its syntax tree and its IR, and is idempotent."""
    out = format_text(text, "p.task")  # itself checks the tree and the comments
    assert repr(parse(out, "p.task").statements) == repr(parse(text, "p.task").statements)
    assert check_text(out, "p.task").program == check_text(text, "p.task").program
    assert format_text(out, "p.task") == out


# ------------------------------------------------------- well-typed programs
@examples(60)
@given(programs())
def test_generated_programs_check_clean(text: str) -> None:
    result = check_text(text, "p.task")
    assert result.ok, f"{text}\n---\n{result.render()}"


@examples(60)
@given(programs())
def test_formatting_keeps_a_program_s_meaning(text: str) -> None:
    assert_formats_safely(text)


# ---------------------------------------------------------------- corruption
@examples(150)
@given(broken_texts)
def test_check_never_crashes_on_corrupted_text(folder: Path, text: str) -> None:
    path = folder / "broken.task"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert main(["check", str(path)]) in (0, 1)


@examples(60)
@given(valid_texts.flatmap(byte_corruptions))
def test_check_never_crashes_on_corrupted_bytes(folder: Path, data: bytes) -> None:
    path = folder / "bytes.task"
    path.write_bytes(data)
    assert main(["check", str(path)]) in (0, 1)


@examples(120)
@given(broken_texts)
def test_fmt_never_crashes_and_formats_what_parses_safely(folder: Path, text: str) -> None:
    path = folder / "fmt.task"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert main(["fmt", "--check", str(path)]) in (0, 1)
    diagnostics = Diagnostics()
    parse(text, "p.task", diagnostics)
    if not diagnostics.errors:
        assert_formats_safely(text)


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """A handful of corruptions through the installed command, in one process each way."""
    rng = random.Random(20240601)
    files = []
    for i in range(24):
        text = rng.choice(LIBRARY) if LIBRARY else "type A = Real[4]\n"
        cut = rng.randrange(len(text))
        text = text[:cut] + rng.choice(["", "(", "]", ":", "\t", "\u00e9", "->", "\n  "]) + \
            text[cut + rng.randrange(4):]
        files.append(tmp_path / f"broken{i}.task")
        files[-1].write_text(text, encoding="utf-8")
    files.append(tmp_path / "bytes.task")
    files[-1].write_bytes(b"type A = Real[4]\n\xff\xfe task")
    for command in (["check"], ["fmt", "--check"]):
        run = subprocess.run([PYTHON, "-m", "taskdsl", *command, *map(str, files)],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode in (0, 1), run.stderr[-2000:]
        assert "Traceback" not in run.stderr
