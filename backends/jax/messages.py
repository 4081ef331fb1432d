"""Every problem the backend's checks can find, worded once, by code.

The JAX backend validates what only it understands (``impl`` lines, data
bindings, ``train`` settings, ``--set`` overrides) in one place per concern:
``nets.registry``, ``data``, ``training.feed``, ``training.settings`` and
``training.schedule`` *return* :class:`Problem`\\ s.  ``taskdsl check`` (through
``check.check_program``) turns each into a located diagnostic, with the front
end's design (``docs/errors.md``): a code, a message, what was expected and
found, and a fix; the run-time paths (``nets.build``, ``data.load``,
``feed.bind``, ``settings.resolve``) raise the first problem as their error.
So a check and a run can never disagree on what is wrong, or on how it is said.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from taskdsl.ir import Call, Name
from taskdsl.source import NOWHERE, SET_FILE, Span


@dataclass(frozen=True)
class Template:
    message: str
    expected: str | None = None
    found: str | None = None
    help: str | None = None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an ``impl`` line, a data binding or a setting.

    ``span`` is where it was written, when the caller knows; ``usage`` marks a
    malformed ``--set`` (the command line's mistake, exit code 2); ``environment``
    marks what the disk lacks rather than what the file says (a missing data file
    or run folder), which ``taskdsl check`` reports as a warning and ``taskdsl
    train`` as an error.
    """

    code: str
    message: str
    expected: str | None = None
    found: str | None = None
    help: str | None = None
    span: Span | None = None
    usage: bool = False
    environment: bool = False

    def at(self, span: Span | None) -> Problem:
        """The problem located at ``span``, unless it already knows a more precise place."""
        if self.span is not None or span is None or span == NOWHERE:
            return self
        return replace(self, span=span)

    def __str__(self) -> str:
        """The problem as one line, for an exception: message, what was expected, the fix."""
        expected = self.expected if self.expected and self.expected not in self.message else None
        parts = [self.message, f"expected {expected}" if expected else None, self.help]
        text = "; ".join(p for p in parts if p)
        if self.span is not None and self.span != NOWHERE and self.span.file != SET_FILE:
            return f"{self.span}: {text}"
        return text


USAGE_CODES = frozenset({"set-syntax", "set-no-equals", "set-target", "setting-unknown",
                         "setting-value", "schedule-form", "schedule-learner",
                         "schedule-frozen"})
"""Codes that, located in a ``--set``, are the command line's mistake (exit code 2)."""

ENVIRONMENT_CODES = frozenset({"data-missing-file", "load-missing"})


TEMPLATES: dict[str, Template] = {
    # ------------------------------------------------------------------ impl lines
    "net-unknown": Template(
        "unknown net `{name}`", expected="one of: {known}", found="{name}",
        help="{suggestion}A user's Flax module is named by its dotted Python path, e.g. "
             "`mypkg.models.MyNet`",
    ),
    "net-option": Template(
        "net `{net}` has no option `{option}`", expected="one of: {valid}", found="{option}",
        help="{suggestion}",
    ),
    "net-option-value": Template(
        "option `{option}` of net `{net}` must be {expected}, got {found}",
        expected="{expected}", found="{found}",
    ),
    "net-signature": Template(
        "net `{net}` cannot implement a learner of type {signature}",
        expected="{expects}", found="{signature}",
        help="pick a net that takes this type (docs/nets.md), or `nets.mlp`, which takes any",
    ),
    "net-user-import": Template("cannot load user net `{path}`: {reason}"),
    "net-user-outputs": Template(
        "user net `{net}` cannot implement a learner of type {signature}: it must return "
        "a tuple of arrays shaped {wanted}, but returned {found}",
        expected="{wanted}", found="{found}",
    ),
    "impl-not-a-net": Template(
        "`impl {name} = {value}` does not name an architecture", found="{value}",
        help="write e.g. `impl {name} = nets.mlp(width = 64)`",
    ),
    "impl-positional": Template(
        "`impl {name} = {value}` gives options by position",
        help="name them, e.g. `{net}(width = 32)`",
    ),
    "impl-no-default": Template(
        "learner `{name}` ({signature}) has no `impl` line and no default architecture fits "
        "its type", help="add one, e.g. `impl {name} = nets.mlp(width = 64)`",
    ),
    "fixed-needs-load": Template(
        "fixed box `{name}` ({signature}) is a trained model the JAX backend loads",
        help="write `impl {name} = load(\"RUN_DIR\")`, or declare it `learner {name}` to train "
             "it here",
    ),
    "load-form": Template("{reason}"),  # the lowering's own words (lowering/errors.py)
    "load-missing": Template(
        "cannot load `{name}` from {path}: no such folder",
        found="{looked}",
        help="train that run first (`taskdsl train FILE --out {path}`), or fix the path; a "
             "relative path is read from the current directory",
    ),
    "load-not-a-run": Template(
        "cannot load `{name}` from {path}: {reason}",
        help="`load` takes a run folder that `taskdsl train` wrote",
    ),
    "load-no-learner": Template(
        "cannot load `{name}`: run {path} has no learner `{learner}`",
        expected="one of: {known}", found="{learner}",
        help="{suggestion}pick one with `load(\"{path}\", learner = \"NAME\")`",
    ),
    "load-signature": Template(
        "cannot load `{name}` from {path}: it is declared `{name} : {declared}` here, but the "
        "run's `{learner}` is `{learner} : {found}`",
        expected="{declared}", found="{found}",
    ),
    "trains-loaded": Template(
        "`{name}` is loaded from {path} and frozen, but task `{task}` names it in `trains`",
        help="drop it from `trains`; a loaded learner gets no gradient",
    ),
    # ------------------------------------------------------------------ data bindings
    "data-unbound": Template(
        "data source `{source}` of `{objective}` is not bound to a data set",
        expected="one of: {datasets}",
        help="add `data {source} = datasets.NAME(...)` to `train {objective}:` or pass "
             "`--set data.{source}=datasets.NAME(...)`",
    ),
    "data-not-a-call": Template(
        "`data {source} = {value}` does not name a data set", found="{value}",
        help="write e.g. `data {source} = datasets.mnist(split = \"train\")`",
    ),
    "data-positional": Template(
        "`data {source} = {value}` gives options by position",
        help="name them, e.g. `split = \"train\"`",
    ),
    "data-unknown": Template(
        "unknown data set `{name}`", expected="one of: {known}", found="{name}",
        help="{suggestion}",
    ),
    "data-option": Template(
        "data set `{dataset}` has no option `{option}`", expected="one of: {valid}",
        found="{option}", help="{suggestion}",
    ),
    "data-option-value": Template(
        "option `{option}` must be {expected}, not {found}", expected="{expected}",
        found="{found}",
    ),
    "data-missing-file": Template(
        "cannot find {filename} for data set `{dataset}`; looked in, in this order:\n{looked}",
        help="{howto} Put the files in one of those folders, pass `path = FOLDER`, or set "
             "$TASKDSL_DATA to a folder holding {dataset}/. Nothing is ever downloaded.",
    ),
    "data-fields-option": Template(
        "data source `{source}`: `fields` must be a list of field names, not {value}",
        found="{value}", help="write e.g. `fields = [\"image\", \"label\"]`",
    ),
    "data-field-unknown": Template(
        "data source `{source}`: data set `{dataset}` has no field `{field}`",
        expected="one of: {fields}", found="{field}", help="{suggestion}",
    ),
    "data-field-count": Template(
        "data source `{source}` declares {count} outputs ({outputs}) but {fields}",
        help="pick one field per output with `fields = [...]`",
    ),
    "data-field-shape": Template(
        "data source `{source}` output {position} ({wire}) gets field `{field}` of data set "
        "`{dataset}`, whose examples are {dtype} of shape {shape}; a {kind} wire takes {takes}",
        expected="{takes}", found="{dtype} of shape {shape}",
    ),
    "data-field-classes": Template(
        "data source `{source}` output {position} ({wire}) gets field `{field}` of data set "
        "`{dataset}`, with {has}, but the wire has {classes} classes",
        expected="{classes} classes", found="{has}", help="{help}",
    ),
    # ------------------------------------------------------------------ settings
    "setting-unknown": Template(
        "unknown setting `{key}`{where}", expected="one of: {valid}, `impl.LEARNER`, "
        "`data.SOURCE`", found="{key}", help="{suggestion}",
    ),
    "setting-value": Template(
        "setting `{key}`{where} must be {expected}, not {found}",
        expected="{expected}", found="{found}",
    ),
    "optimizer-unknown": Template(
        "unknown optimizer `{name}`{where}", expected="one of: {known}", found="{name}",
        help="{suggestion}",
    ),
    "optimizer-option": Template(
        "optimizer `{name}` has no option `{option}`{where}", expected="one of: {valid}",
        found="{option}", help="{suggestion}",
    ),
    "optimizer-value": Template(
        "option `{option}` of optimizer `{name}`{where} must be a number, got {found}",
        expected="a number", found="{found}",
    ),
    "schedule-form": Template(
        "`schedule {value}`{where} {problem}",
        expected="`simultaneous`, `alternate(LEARNER: STEPS, ...)` or "
                 "`alternate([LEARNER, ...], ...)`",
        help="write `schedule simultaneous` (the default), `schedule alternate(disc: 1, "
             "gen: 1)` (each learner updates alone for that many steps, in turn) or "
             "`schedule alternate([disc_a, disc_b], [gen_a, gen_b])` (one step per group)",
    ),
    "schedule-learner": Template(
        "`schedule {value}`{where} names `{name}`, which no equation of `{objective}` trains",
        expected="one of: {trained}", found="{name}", help="{suggestion}",
    ),
    "schedule-frozen": Template(
        "`schedule {value}`{where} names `{name}`, which is {frozen} and never updates",
        expected="one of: {trained}", found="{name}",
        help="a schedule takes turns between trained learners; drop `{name}` from it",
    ),
    # ------------------------------------------------------------------ --set
    "set-no-equals": Template(
        "`--set {text}` has no `=`", help="write `--set KEY=VALUE`, e.g. `--set steps=500`",
    ),
    "set-syntax": Template(
        "cannot read the value in `--set {text}`: {reason}", expected="{expected}",
        found="{found}",
        help="values are written as in a file: `500`, `1e-3`, `\"train\"`, `true`, "
             "`adam(lr = 1e-3)`, `[\"image\", \"label\"]`",
    ),
    "set-target": Template(
        "`--set {text}`: the program has no {kind} `{name}`", expected="one of: {known}",
        found="{name}", help="{suggestion}",
    ),
}


def problem(code: str, **details: object) -> Problem:
    """The problem ``code`` with its template filled in; a detail left out (or ``None``)
    leaves out the lines that mention it."""
    template = TEMPLATES[code]
    given = {"suggestion": "", "where": "",
             **{k: v for k, v in details.items() if v is not None}}

    def fill(text: str | None) -> str | None:
        if text is None:
            return None
        try:
            return text.format(**given) or None
        except KeyError:
            return None

    return Problem(code, fill(template.message) or code, fill(template.expected),
                   fill(template.found), _help(fill(template.help)),
                   environment=code in ENVIRONMENT_CODES)


def _help(text: str | None) -> str | None:
    """A help line without the separator a missing suggestion leaves behind."""
    if text is None:
        return None
    text = text.strip().removesuffix(";").strip()
    return text or None


# ---------------------------------------------------------------------- helpers


def listed(names: Iterable[str]) -> str:
    """``a``, ``b`` as messages list names (``none`` for no names)."""
    names = list(names)
    return ", ".join(f"`{n}`" for n in names) if names else "none"


def suggestion(name: object, choices: Sequence[str], tail: str = "; ") -> str | None:
    """``did you mean `x`?`` for the nearest of ``choices``, followed by ``tail``; ``None``
    when nothing is near (a template then leaves it out)."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f"did you mean `{close[0]}`?{tail}" if close else None


def show(value: Any) -> str:
    """A configuration value in the ``.task`` file's spelling, for messages and config.json."""
    if isinstance(value, Call):
        parts = [show(a) for a in value.args]
        parts += [f"{k} = {show(v)}" for k, v in value.kwargs.items()]
        return f"{value.name}({', '.join(parts)})"
    if isinstance(value, Name):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)
