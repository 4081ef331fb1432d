"""A run folder as a report reads it: its record, its metrics, its judgement, its pictures.

``taskdsl train`` writes ``config.json`` (what was trained) and ``metrics.jsonl``
(one JSON object a logging step); ``taskdsl eval`` adds ``eval.json`` and
pictures.  A metrics line holds ``step`` and numbers (``null`` for a value that
was not finite).  Held-out values come in either of two shapes, and both are
read: keys prefixed ``eval/`` (``eval/classify``, ``eval/total``) on any line,
or a line of their own marked ``"split": "eval"`` (or ``"test"``, ...), whose
keys may carry the prefix or not.  A held-out ``total`` is the objective's
``loss``.  A last line cut off mid-write (a run killed while logging) is
skipped and said on the page; any other unreadable line is an error, since the
curves would silently lie.

Nothing here imports JAX: the file names are repeated from the modules that
write them (``tests`` check they agree).
"""

from __future__ import annotations

import json
import math
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..evaluation import errors
from ..messages import note, phrase

CONFIG = "config.json"  # training.runs.CONFIG
METRICS = "metrics.jsonl"  # training.train.METRICS
EVAL = "eval.json"  # evaluation.evaluate.EVAL_FILE
CHECKPOINTS = "checkpoints"  # training.checkpoint.FOLDER

STEP = "step"
LOSS = "loss"
SPLIT = "split"
EARLY_STOP = "early_stop"
HELD_OUT_SPLITS = frozenset({"eval", "test", "val", "validation", "held_out", "heldout"})
"""The ``split`` values that mark a metrics line as held-out figures."""
HELD_OUT_PREFIXES = ("eval/", "test/", "val/", "held_out/")
"""Key prefixes that mark a value as held-out, on any line."""
TOTAL_ALIASES = frozenset({"total", "objective"})
"""Held-out names of the whole objective, which training logs as ``loss``."""

PICTURE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/svg+xml",
                           "image/webp"})
MAX_PICTURE_BYTES = 4 * 2**20
"""A picture larger than this is named on the page, not inlined: the page stays loadable."""


@dataclass(frozen=True)
class Metrics:
    """The logged values by step: training lines and held-out lines, each a ``step`` and
    numbers (NaN where the run logged ``null``)."""

    train: tuple[dict[str, float], ...] = ()
    held_out: tuple[dict[str, float], ...] = ()
    torn: bool = False
    stopped_early: int | None = None
    """The step whose line says ``"early_stop": true`` (``patience`` ended the run)."""

    def names(self) -> tuple[str, ...]:
        """Every logged name, in order of first appearance: training's, then held-out's."""
        seen = dict.fromkeys(k for r in (*self.train, *self.held_out) for k in r if k != STEP)
        return tuple(seen)

    def series(self, name: str, *, held_out: bool = False) -> tuple[list[int], list[float]]:
        """``name``'s steps and values, training's or held-out's, in step order."""
        records = self.held_out if held_out else self.train
        points = sorted((int(r[STEP]), r[name]) for r in records if name in r)
        return [s for s, _ in points], [v for _, v in points]

    def last(self, *, held_out: bool = False) -> dict[str, float]:
        """The latest line's values (training's or held-out's); empty when none."""
        records = self.held_out if held_out else self.train
        return max(records, key=lambda r: r[STEP]) if records else {}


@dataclass(frozen=True)
class Picture:
    """A picture in the run folder; ``data`` is ``None`` when it is too large to inline."""

    name: str
    mime: str
    data: bytes | None
    size: int


@dataclass(frozen=True)
class RunFolder:
    """What a report shows, read from a run folder; ``notes`` say what could not be read."""

    directory: Path
    config: dict[str, Any]
    metrics: Metrics
    evaluation: dict[str, Any] | None
    pictures: tuple[Picture, ...]
    checkpoints: tuple[int, ...]
    notes: tuple[str, ...]


def read_run(run_dir: str | Path) -> RunFolder:
    """The run in ``run_dir``; ``EvalError`` if it is no run folder or its metrics are corrupt."""
    directory = Path(run_dir)
    if not directory.exists():
        raise errors.no_run_dir(directory)
    if not directory.is_dir():
        raise errors.not_a_run(directory, phrase("report-not-folder"))
    notes: list[str] = []
    config = _config(directory)
    try:
        text = (directory / METRICS).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise errors.not_a_run(directory, phrase("report-no-metrics", file=METRICS)) from None
    except (OSError, ValueError) as error:
        raise errors.not_a_run(directory, phrase("report-unreadable", file=METRICS,
                                                 reason=_reason(error))) from None
    metrics = parse_metrics(text, directory)
    if metrics.torn:
        notes.append(note("report-torn-line", file=METRICS))
    evaluation = _evaluation(directory, notes)
    pictures = _pictures(directory, notes)
    return RunFolder(directory, config, metrics, evaluation, pictures,
                     _checkpoint_steps(directory), tuple(notes))


def parse_metrics(text: str, directory: Path) -> Metrics:
    """The training and held-out lines of ``metrics.jsonl``'s ``text``; a cut-off last line is
    skipped (``torn``), any other bad line raises ``EvalError`` naming it."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    train: list[dict[str, float]] = []
    held_out: dict[int, dict[str, float]] = {}
    torn = False
    stopped: int | None = None
    for index, (number, line) in enumerate(lines):
        try:
            record = json.loads(line)
        except ValueError as error:
            if index == len(lines) - 1:
                torn = True
                break
            raise errors.not_a_run(directory, phrase(
                "report-bad-line", file=METRICS, line=number, reason=error)) from None
        step = record.get(STEP) if isinstance(record, dict) else None
        if not isinstance(step, int) or isinstance(step, bool):
            raise errors.not_a_run(directory, phrase("report-no-step", file=METRICS,
                                                     line=number, step=STEP))
        if record.get(EARLY_STOP) is True:
            stopped = step
        whole = str(record.get(SPLIT, "")).lower() in HELD_OUT_SPLITS
        mine: dict[str, float] = {}
        theirs: dict[str, float] = {}
        for key, value in record.items():
            number_value = _number(value)
            if key == STEP or number_value is None:
                continue
            name, prefixed = _held_out_name(key)
            if prefixed or whole:
                theirs[LOSS if name in TOTAL_ALIASES else name] = number_value
            else:
                mine[key] = number_value
        if mine:
            train.append({STEP: step, **mine})
        if theirs:
            held_out.setdefault(step, {STEP: step}).update(theirs)
    return Metrics(tuple(train), tuple(held_out[s] for s in sorted(held_out)), torn, stopped)


def _held_out_name(key: str) -> tuple[str, bool]:
    for prefix in HELD_OUT_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return key.removeprefix(prefix), True
    return key, False


def _number(value: object) -> float | None:
    """A logged number as a float (NaN for ``null``, a value that was not finite); ``None``
    for what is not a number (a note, a flag)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _config(directory: Path) -> dict[str, Any]:
    try:
        config = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise errors.not_a_run(directory, phrase("report-no-metrics", file=CONFIG)) from None
    except (OSError, ValueError) as error:
        raise errors.not_a_run(directory, phrase("report-unreadable", file=CONFIG,
                                                 reason=_reason(error))) from None
    if not isinstance(config, dict):
        raise errors.not_a_run(directory, phrase("report-unreadable", file=CONFIG,
                                                 reason=phrase("report-not-object")))
    return config


def _evaluation(directory: Path, notes: list[str]) -> dict[str, Any] | None:
    """``eval.json`` when ``taskdsl eval`` wrote one; a broken one is a note, not an error."""
    path = directory / EVAL
    if not path.exists():
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        notes.append(note("report-eval-unreadable", file=EVAL, reason=_reason(error)))
        return None
    if not isinstance(found, dict):
        notes.append(note("report-eval-unreadable", file=EVAL,
                          reason=phrase("report-not-object")))
        return None
    return found


def _pictures(directory: Path, notes: list[str]) -> tuple[Picture, ...]:
    """The pictures beside the run's files (not in sub-folders such as a judge's run)."""
    found = []
    for path in _listing(directory):
        mime, _ = mimetypes.guess_type(path.name)
        if mime not in PICTURE_TYPES or not path.is_file():
            continue
        try:
            size = path.stat().st_size
            data = path.read_bytes() if size <= MAX_PICTURE_BYTES else None
        except OSError as error:
            notes.append(note("report-picture-unreadable", name=path.name,
                              reason=_reason(error)))
            continue
        if data is None:
            notes.append(note("report-picture-large", name=path.name, size=size / 2**20,
                              limit=MAX_PICTURE_BYTES / 2**20))
        found.append(Picture(path.name, mime, data, size))
    return tuple(found)


def _checkpoint_steps(directory: Path) -> tuple[int, ...]:
    """The steps the run has checkpoints of (Orbax names each step's folder by its number)."""
    folder = directory / CHECKPOINTS
    if not folder.is_dir():
        return ()
    return tuple(sorted(int(p.name) for p in _listing(folder) if p.name.isdigit()))


def _listing(folder: Path) -> list[Path]:
    """The folder's entries by name; none when it cannot be listed (the page does without)."""
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)
