"""The fuzzers' one harness: run ``check``, ``fmt`` and ``compile`` on an input, and say
whether it ended in a traceback or a hang rather than the product's own answer.

The product answers any input with diagnostics (``check``), a ``SyntaxErrors``
(``fmt`` on text that does not parse) or a ``BackendError`` (``compile`` on a
program the backend refuses); anything else raised is a traceback, a bug.  On
top, ``fmt``'s output must check with the same diagnostic codes as its input
and be a fixed point, and a compiled module must parse.  Each input runs under
a time limit (``SIGALRM``): past it, the input is a hang.

Used by ``tests/fuzz/`` with a budget of a few seconds and by ``benchmarks/fuzz.py``
for the long run; both generate inputs with :mod:`random` (mutations of the
shipped ``.task`` files) and Hypothesis (programs from the grammar).
"""

from __future__ import annotations

import ast
import random
import re
import signal
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from taskdsl.backends.jax.errors import BackendError
from taskdsl.fmt import format_text
from taskdsl.loader import Result, check_file, check_text
from taskdsl.parsing.errors import SyntaxErrors

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted([*ROOT.glob("examples/*.task"), *ROOT.glob("stdlib/*.task")])
TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
LIMIT_S = 20.0
"""Seconds one input may take (check, fmt and compile together) before it is a hang."""


class Hang(Exception):
    """An input ran past its time limit."""


@dataclass
class Tally:
    """What a fuzzing run found: inputs run, tracebacks and hangs, with the first few."""

    inputs: int = 0
    tracebacks: int = 0
    hangs: int = 0
    found: list[str] = field(default_factory=list)
    progress: int = 0  # print the tally line to stderr every this many inputs (0: never)

    def line(self) -> str:
        return f"fuzz: inputs={self.inputs} tracebacks={self.tracebacks} hangs={self.hangs}"

    def record(self, what: str, data: str | bytes, detail: str) -> None:
        if len(self.found) < 20:
            self.found.append(f"{what} on {data[:2000]!r}:\n{detail}")


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the block after ``seconds`` (main thread, POSIX)."""
    def expired(*_: object) -> None:
        raise Hang(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def codes(result: Result) -> list[str]:
    return sorted(d.code for d in result.diagnostics)


def _check(data: str | bytes) -> Result:
    """``check`` of the input: text as given, bytes through a file (any encoding)."""
    if isinstance(data, str):
        return check_text(data, "fuzz.task")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.task"
        path.write_bytes(data)
        return check_file(path)


def _fmt(text: str, checked: Result) -> None:
    """``fmt``: SyntaxErrors is an answer; otherwise its output checks the same and is a
    fixed point."""
    try:
        formatted = format_text(text, "fuzz.task")
    except SyntaxErrors:
        return
    again = check_text(formatted, "fuzz.task")
    if codes(again) != codes(checked):
        raise AssertionError(f"fmt changed the diagnostics: {codes(checked)} -> {codes(again)}"
                             f"\nformatted:\n{formatted}")
    if format_text(formatted, "fuzz.task") != formatted:
        raise AssertionError(f"fmt is not idempotent on:\n{formatted}")


def _compile(checked: Result) -> None:
    """``compile`` of each objective of a program that checks clean, as the command does
    it; a ``BackendError`` is an answer."""
    from taskdsl.backends.jax.lowering.compile import compile_objective
    from taskdsl.backends.jax.training.settings import resolve

    program = checked.program
    for name in [*program.objectives, *program.tasks]:
        try:
            phases = resolve(program, name).schedule.phases
            source = compile_objective(program, name, phases=phases)
        except BackendError:
            continue
        ast.parse(source)


def exercise(data: str | bytes, tally: Tally, *, compile_too: bool = True,
             limit: float = LIMIT_S) -> None:
    """Run the input through check, fmt and (when it checks clean) compile; count it."""
    tally.inputs += 1
    if tally.progress and tally.inputs % tally.progress == 0:
        print(tally.line(), file=sys.stderr, flush=True)
    try:
        with time_limit(limit):
            checked = _check(data)
            text = data if isinstance(data, str) else None
            if text is None:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    return
            _fmt(text, checked)
            if compile_too and checked.ok and checked.program is not None:
                _compile(checked)
    except Hang:
        tally.hangs += 1
        tally.record("hang", data, "")
    except Exception:  # the point: anything but the product's own answers is a finding
        tally.tracebacks += 1
        tally.record("traceback", data, traceback.format_exc())


# ---------------------------------------------------------------- mutations


def mutate(rng: random.Random, text: str, other: str) -> str | bytes:
    """One to four mutations of ``text``: byte flips, token deletions and duplications,
    and splices of a piece of ``other``; some mutants stay bytes (maybe not UTF-8)."""
    pieces = TOKEN.findall(text)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(pieces) + 1)
        end = min(len(pieces), at + rng.randint(1, 6))
        action = rng.choice(["delete", "duplicate", "splice", "swap", "flip"])
        if action == "delete":
            del pieces[at:end]
        elif action == "duplicate":
            pieces[at:at] = pieces[at:end]
        elif action == "splice":
            donor = TOKEN.findall(other)
            start = rng.randrange(len(donor) + 1)
            pieces[at:end] = donor[start:start + rng.randint(1, 40)]
        elif action == "swap" and end < len(pieces):
            pieces[at], pieces[end] = pieces[end], pieces[at]
        elif action == "flip":
            data = bytearray("".join(pieces).encode("utf-8"))
            for _ in range(rng.randint(1, 3)):
                if data:
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            try:
                pieces = TOKEN.findall(data.decode("utf-8"))
            except UnicodeDecodeError:
                return bytes(data)
    return "".join(pieces)


def mutants(seed: int, count: int) -> Iterator[str | bytes]:
    """``count`` mutants of the shipped examples and stdlib patterns, from ``seed``."""
    rng = random.Random(seed)
    texts = [p.read_text(encoding="utf-8") for p in SEEDS]
    for _ in range(count):
        yield mutate(rng, rng.choice(texts), rng.choice(texts))
