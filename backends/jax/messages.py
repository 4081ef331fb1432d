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

What only a run can find (a run folder that holds another run, a loss that stops
being finite, an input of the wrong size for ``taskdsl manipulate``) is worded
here too, by code, in :data:`ERRORS`, each with the exit code the command line
returns for it; :class:`~taskdsl.backends.jax.errors.BackendError` is raised with
one of these codes (or one of :data:`TEMPLATES`), and ``docs/errors.md`` lists
them all.  :data:`NOTES` and :data:`PHRASES` hold the rest of what the backend
says: progress notes, warnings, and the pieces a message is built from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from taskdsl.ir import Call, Name
from taskdsl.source import NOWHERE, SET_FILE, Span
from taskdsl.suggest import listed as listed  # re-exported: the backend lists names with it
from taskdsl.suggest import suggest
from taskdsl.types import WireType

# Exit codes of the commands, by meaning (docs/training.md): every error carries one.
OK = 0
PROGRAM = 1  # the file, its data, a run folder or an input cannot be used as written
USAGE = 2  # the command line asks for something impossible
DIVERGED = 3  # a training run whose loss stopped being finite
INTERRUPTED = 130  # the shell's convention for a process ended by SIGINT


@dataclass(frozen=True)
class Template:
    """A message's words by part, with the exit code a command returns for it."""

    message: str
    expected: str | None = None
    found: str | None = None
    help: str | None = None
    exit_code: int = PROGRAM


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
                         "schedule-frozen", "optimizer-schedule", "optimizer-learner",
                         "optimizer-each", "weight-task", "weight-value"})
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
    "net-import-not-allowed": Template(
        "net `{path}` would import `{module}`, which taskdsl does not trust: it is not part "
        "of taskdsl, no installed package declares it (entry points `{group}`), and it was "
        "not allowed",
        expected="a module of taskdsl, a declared net, or an allowed module", found="{module}",
        help="if you trust it, allow it with `--allow-import {top}`, `{env}={top}`, or "
             "`allow_import = [\"{top}\"]` in {config} (docs/security.md); {reason}",
    ),
    "user-function-not-allowed": Template(
        "{role} `{path}` would import `{module}`, which taskdsl does not trust: it is not "
        "part of taskdsl, no installed package declares it, and it was not allowed",
        expected="a module of taskdsl or an allowed module", found="{module}",
        help="if you trust it, allow it with `--allow-import {top}`, `{env}={top}`, or "
             "`allow_import = [\"{top}\"]` in {config} (docs/security.md)",
    ),
    "user-function-import": Template(
        "{role} `{path}`: importing `{module}` failed: {reason}",
        expected="an importable module (installed, or on PYTHONPATH)", found="{reason}",
        help="a module of your own is found when it is installed or on PYTHONPATH, never "
             "from the current folder (docs/security.md)",
    ),
    "user-function-missing": Template(
        "{role} `{path}`: module `{module}` has no function `{name}`",
        expected="a function `{name}` in `{module}`", found="{found}",
        help="write the path as `module.path:function`",
    ),
    "user-divergence-shape": Template(
        "divergence `{path}` must give one number per example on `{lhs}` and `{rhs}` "
        "sides: traced on a batch of {batch}, it gave {found}",
        expected="a float array of shape ({batch},)", found="{found}",
        help="reduce over every axis but the first, e.g. `jnp.mean(d.reshape(len(d), -1), "
             "axis=1)`",
    ),
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
    "fixed-function-signature": Template(
        "fixed box `{name}` ({signature}) is implemented by the function `{path}`, which "
        "does not fit it: traced on a batch of {batch} of its inputs, it gave {found}",
        expected="{expected}", found="{found}",
        help="a fixed function takes one batch per input wire (`{inputs}`) and returns one "
             "batch per output wire (`{outputs}`: logits on Class, Binary and Tokens wires), "
             "a tuple when there are several; fix `{path}` or the declared type",
    ),
    "impl-function-learner": Template(
        "learner `{name}` cannot be implemented by the function `{path}`: a learner is a "
        "net whose parameters are trained, a function has none",
        expected="a net, e.g. `nets.mlp(width = 64)`", found="`{path}`",
        help="declare it `fixed {name} : ...` to use your function as it is, or implement "
             "the learner by a net (`nets.*`, or a dotted path to a Flax module)",
    ),
    "fixed-needs-load": Template(
        "fixed box `{name}` ({signature}) is a trained model the JAX backend loads, or a "
        "pure function of yours: nothing trains it, so a net (`nets.*`) cannot implement it",
        help="write `impl {name} = load(\"RUN_DIR\")` for a trained run's learner, `impl "
             "{name} = mypkg.fns:function` for a JAX function of yours (docs/language.md), or "
             "declare it `learner {name}` to train it here",
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
    "data-import-not-allowed": Template(
        "data loader `{path}` would import `{module}`, which taskdsl does not trust: it is "
        "not part of taskdsl and it was not allowed",
        expected="a module of taskdsl or an allowed module", found="{module}",
        help="if you trust it, allow it with `--allow-import {top}`, `{env}={top}`, or "
             "`allow_import = [\"{top}\"]` in {config} (docs/security.md); {reason}",
    ),
    "data-loader-missing": Template(
        "data loader `{path}` cannot be found: {reason}",
        expected="a function `{attr}` in an importable module `{module}`",
        help="install the package or put it on PYTHONPATH (never read from the current "
             "folder); write the loader as `package.module.function(option = value)`",
    ),
    "data-loader-result": Template(
        "data loader `{path}` {what}",
        expected="a dict of numpy arrays, one row per example", found="{found}",
        help="return e.g. `{{\"x\": np.zeros((100, 2)), \"label\": np.zeros(100, int)}}`; "
             "a `describe(**options)` attribute, returning `{{field: (shape, dtype[, "
             "classes])}}`, lets `taskdsl check` compare fields without loading",
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
    "watch-needs-eval": Template(
        "`{key}`{where} needs `eval_every`: it watches a metric measured on held-out data",
        expected="`eval_every N` (N >= 1) in the same `train` block, or `--set eval_every=N`",
        found="no `eval_every`",
        help="add `eval_every 100` to the `train` block (evaluate every 100 steps)",
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
    # training/memory.py: a run refused before anything is compiled or allocated.
    "memory-budget": Template(
        "this run would need about {need} of {kind} memory ({parts}), but {available} "
        "is available",
        expected="at most {available}", found="about {need}",
        help="{fix}; to train anyway, set `{setting} = false` in the train block (or "
             "`--set {setting}=false`), or give the bytes to allow in `{env}`",
    ),
    "optimizer-schedule": Template(
        "learning rate `{value}` of optimizer `{name}`{where} {problem}",
        expected="a number, or `constant(LR, warmup = W)`, `cosine(LR, warmup = W, end = E)` "
                 "or `exponential(LR, warmup = W, rate = R)` (`steps = S` too: the run's "
                 "`steps` unless given)",
        found="{value}", help="{help}",
    ),
    "optimizer-learner": Template(
        "`{value}`{where} gives `{name}` its own optimizer, but no equation of `{objective}` "
        "trains `{name}`",
        expected="one of: {trained}", found="{name}", help="{suggestion}",
    ),
    "optimizer-each": Template(
        "`{value}`{where} {problem}",
        expected="`each(DEFAULT, LEARNER: OPTIMIZER, ...)`, e.g. "
                 "`each(adam(1e-3), disc: sgd(lr = 0.1))`",
        found="{value}",
        help="give at most one optimizer without a name (for the learners not named), and "
             "one optimizer per learner name",
    ),
    "weight-task": Template(
        "`{key}`{where} sets the weight of `{name}`, which is not a task of `{objective}`",
        expected="one of: {known}", found="{name}", help="{suggestion}",
    ),
    "weight-value": Template(
        "the weight of task `{name}`{where} must be a number >= 0, not {found}",
        expected="a number >= 0", found="{found}",
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


# What only a run finds, by code.  ``{suggestion}`` in these is `` (did you mean `x`?)``.
ERRORS: dict[str, Template] = {
    # ------------------------------------------------------------------ lowering
    "objective-unknown": Template(
        "no objective or task called `{name}`{suggestion}; the file has {known}",
        exit_code=USAGE,
    ),
    "impl-does-not-fit": Template(
        "learner `{learner}` ({signature}) cannot be implemented by `{net}`: {reason}"),
    "load-failed": Template("cannot load `{learner}` from {where}: {reason}"),
    "run-no-learner": Template(
        "cannot load `{learner}`: run {path} has no learner `{wanted}`; its learners are "
        "{known} (pick one with `load(\"{path}\", learner = \"NAME\")`)"),
    "frozen-in-trains": Template(
        "`{learner}` is loaded from {path} and frozen; drop it from `trains` in task `{task}` "
        "(or give it a net to train it here)"),
    "load-unresolved": Template(
        "`impl {learner} = load(\"{path}\")` was not resolved: the lowering reads no runs; "
        "lower with `training.runs.lower_loading(...)`, which loads them, or pass "
        "`loaded={{...}}` to `lower`"),
    "params-unknown-learner": Template(
        "no learner `{name}` in these params; known: {known} "
        "(pass the whole params pytree returned by `init`)"),
    "batch-missing-draw": Template(
        "the batch has no arrays for draw `{key}` from data source `{source}`; "
        "it has {given} (see `Lowered.data_requests()`)"),
    "batch-draw-arity": Template(
        "draw `{key}` from data source `{source}` needs {expected} arrays "
        "(one per output wire), the batch gives {found}"),
    "batch-size-unknown": Template(
        "the objective draws from no data source, so the batch size cannot be read from the "
        "batch; pass `batch_size=` to `make_train_step`"),
    "optimizer-spec-unknown": Template("unknown optimizer `{name}`; known: {known}"),
    "optimizer-spec": Template(
        "`optimizer {spec!r}` is not an optimizer; write e.g. `optimizer adam(lr = 1e-3)`"),
    "optimizer-spec-option": Template(
        "optimizer `{name}` has no option `{option}`; its options are {valid}"),
    "optimizer-spec-value": Template(
        "option `{option}` of optimizer `{name}` must be a number, got {value!r}"),
    "draw-outside-equation": Template(
        "data source `{source}` is drawn outside an equation; only a task's `<-` draws data"),
    "builtin-unknown": Template(
        "the JAX backend has no builtin `{name}`; it has {known} "
        "(a builtin needs its function in `lowering/builtins.py`)"),
    "schedule-untrained": Template(
        "the schedule names `{learner}`, which no equation of the objective trains; "
        "the trained learners are {trained}"),
    "schedule-not-given": Template(
        "the train block of `{objective}` has a `schedule`, and no phases were given to "
        "compile it with; pass `phases=settings.schedule.phases` (as `taskdsl compile` does), "
        "so that the module's train step updates the learners as training does"),
    "emitted-name-clash": Template(
        "two functions the lowering emits are both called `{name}`; rename one, since "
        "`taskdsl compile` copies them into one module"),
    "emitted-invalid": Template(
        "internal error: the module `taskdsl compile` wrote is not valid Python ({reason}); "
        "nothing was written. Please report this with the .task file"),
    # ------------------------------------------------------------------ wire values
    "wire-shape": Template(
        "{what} for a {wire} wire must have shape {expected}, got {found}"),
    "wire-sides-differ": Template(
        "divergence `{name}` compares values of different {what}: lhs {lhs}, rhs {rhs}"),
    "wire-kind": Template(
        "{role} `{name}` is not defined for {kind} {wires}; it works on {allowed}"),
    "wire-class-index": Template(
        "a constant on a {wire} wire is a class index in 0..{last}, got {index!r}"),
    "function-unknown": Template("unknown {role} `{name}`; known: {known}"),
    "builtin-call": Template("builtin `{name}` {problem}"),
    # ------------------------------------------------------------------ training
    "nothing-to-train": Template(
        "{path} defines no task or objective, so there is nothing to train"),
    "dataset-empty": Template("data source `{source}`: data set `{dataset}` has no examples"),
    "run-dir-not-empty": Template(
        "{out} already holds files; nothing there was changed. Continue that run with "
        "`--resume`, or choose a new folder with `--out`", exit_code=USAGE),
    "run-dir-is-file": Template(
        "{out} is a file, not a run folder; choose a folder with `--out`", exit_code=USAGE),
    "resume-nothing": Template(
        "--resume: {out} holds no run (no config.json); start it without `--resume`",
        exit_code=USAGE),
    "resume-other-objective": Template(
        "--resume: {out} trains `{was}`, not `{now}`; pass `--objective {was}`",
        exit_code=USAGE),
    "resume-other-seed": Template(
        "--resume: {out} was started with seed {was}; resuming it with seed {now} would not "
        "continue the same run (drop `--set seed=...` or pass `--set seed={was}`)",
        exit_code=USAGE),
    "checkpoint-mismatch": Template(
        "the checkpoint at step {step} in {directory} does not fit this program's learners "
        "or optimizer (were the .task file, an `impl` or the `optimizer`/`schedule` changed "
        "since, or was it saved by an older taskdsl, whose per-learner and scheduled "
        "optimizer state was laid out differently?): {reason}"),
    "run-dir-busy": Template(
        "{out} is in use by another training run{holder}; nothing there was changed. Wait "
        "for it to end (or stop it), or choose another folder with `--out`", exit_code=USAGE),
    "checkpoint-corrupt": Template(
        "the checkpoint at step {step} ({folder}) is corrupt: {reason}; it is not used"),
    "checkpoint-none-verifies": Template(
        "no checkpoint in {directory} verifies (corrupt: steps {steps}); the run cannot be "
        "restored from it: copy the run back from a backup, or train it again"),
    "metrics-corrupt": Template(
        "{path} line {line} is not a metrics record ({reason}); only a torn last line is "
        "dropped on `--resume`: repair or remove that line, then resume again"),
    "resume-config-corrupt": Template(
        "--resume: {path} cannot be read ({reason}), so the run cannot be resumed: restore "
        "config.json from a backup, or start a new run in another folder"),
    "batch-not-divisible": Template(
        "batch {batch} cannot be split evenly over {over}; "
        "use a multiple of {devices}, e.g. `--set batch={suggestion}`", exit_code=USAGE),
    "distributed-env": Template(
        "${variable} must be a whole number for multi-host training, not {value!r}",
        exit_code=USAGE),
    "coordinator-address": Template(
        "$JAX_COORDINATOR_ADDRESS must be HOST:PORT (e.g. 10.0.0.1:1234), not {address!r}",
        exit_code=USAGE),
    "coordinator-unusable": Template(
        "process 0 coordinates the multi-host run but cannot listen on {address} ({reason}); "
        "pick a free port on this host in $JAX_COORDINATOR_ADDRESS", exit_code=USAGE),
    "coordinator-silent": Template(
        "no coordinator answered at {address} within {wait_s:g} s ({reason}); start process 0 "
        "(JAX_PROCESS_ID=0) on that host, or unset $JAX_COORDINATOR_ADDRESS for a "
        "single-process run", exit_code=USAGE),
    "diverged": Template(
        "training stopped at step {step}: {what}. {kept}. A lower learning rate "
        "(`--set optimizer=adam(lr = 1e-4)`) or a smaller weight on that equation usually "
        "helps", exit_code=DIVERGED),
    "train-failed": Template("{reason}"),  # a TrainError given only words (training/feed.py)
    # ------------------------------------------------------------------ runs, eval, manipulate
    "run-missing": Template(
        "no run folder {path}; train one first with `taskdsl train FILE --out {path}`"),
    "not-a-run": Template(
        "{path} is not a run folder ({why}); a run folder is what `taskdsl train` writes: "
        "config.json, metrics.jsonl and checkpoints/"),
    "eval-out-not-folder": Template(
        "eval's --out {path} is a file, not a folder; eval writes eval.json and its pictures "
        "into a folder: name a folder (made if missing)"),
    "run-no-checkpoint": Template(
        "run {path} has no checkpoint yet; let `taskdsl train` save one (or resume it with "
        "--resume) before using it"),
    "run-source-broken": Template(
        "the .task source recorded in {path}/config.json no longer checks:\n{diagnostics}"),
    "run-file-outside": Template(
        "run {path}: config.json names the file `{file}`, which is {why}; a run folder's "
        "config.json can only name files inside the run folder (retrain the run, or copy "
        "the file into it and name it relative to the folder)"),
    "run-file-symlink": Template(
        "will not write {path}: it is a symbolic link, and a run folder's files are written "
        "only as plain files (remove the link and run again)"),
    "no-manipulator": Template(
        "run {path} has no manipulator: it needs a learner `get : S -> Class[n]` and a "
        "learner (or refinement) `put : S, Class[n] -> S`; its learners are {learners}"),
    "no-labels": Template(
        "run {path} draws no data with both a `{state}` and a `{attribute}` output, so there "
        "are no true attributes to judge its edits against"),
    "run-missing-learner": Template(
        "`{name}` uses learner(s) that run {path} did not train; its learners are {learners}"),
    "not-a-judge": Template(
        "run {path} cannot judge these edits: it needs a learner `{state} -> Class[..], ...` "
        "trained on data whose outputs include the field `{field}`"),
    "judge-is-manipulator": Template(
        "the judge {path} is the manipulator's own run; a judge must be trained independently "
        "(leave out --judge to train one)"),
    "class-unknown": Template(
        "unknown class `{name}`{suggestion}; the classes are {classes} (or their numbers "
        "0..{last})"),
    "input-missing": Template("no input file {path}"),
    "input-unreadable": Template("cannot read {path}: {why}"),
    "input-kind-unknown": Template(
        "cannot tell what {path} holds: for `{state}` states give a .png image or a .npz file "
        "with an `images` array"),
    "input-no-images": Template("{path} has no `images` array; it holds {found}"),
    "input-image-shape": Template(
        "{path} holds images of shape {found}, but the manipulator edits ({shape}) images "
        "(a .npz `images` array is (N, {shape}) with values in [0, 1])"),
    "input-not-text": Template(
        "the manipulator edits `{state}` sentences: give a text file with one sentence a line, "
        "not {path}"),
    "no-tokenizer": Template(
        "run {path}'s data set has no tokenizer to turn sentences into tokens"),
    "input-empty": Template("{path} holds nothing to edit"),
    "to-or-like": Template(
        "say what to edit toward: either --to CLASS or --like FILE, not both"),
    "donor-count": Template(
        "{path} holds {found} inputs to take the attribute from; give one (for every input) "
        "or {inputs} (one per input)"),
    "strength-range": Template("--strength must be between 0 and 1, not {value}"),
    "count-range": Template("-n must be at least 1, not {value}"),
    "output-kind-unknown": Template("cannot write {path}: the output must end in {kinds}"),
    # ------------------------------------------------------------------ predict, sample
    "predict-not-npz": Template(
        "{path} is not a .npz file: `taskdsl predict` reads one named array per input of "
        "`{name}` from a .npz (numpy.savez(FILE, {names}))"),
    "predict-input-missing": Template(
        "{path} has no array for input {position} of `{name}` ({wire}): name it {names}; "
        "it holds {found}"),
    "predict-input-shape": Template(
        "{path}: array `{key}` is {found} of {dtype}, but input {position} of `{name}` takes "
        "{wire}: give {expected}"),
    "predict-input-count": Template(
        "{path}: the arrays for `{name}` hold different numbers of examples ({counts}); give "
        "each input the same number"),
    "no-generator": Template(
        "run {path} has nothing to sample: a generator is a learner (or refinement) whose every "
        "input has the type of a `random` or `const` source of the file (a `Gaussian[..]` "
        "source feeds a `Real` input of its shape through `sample`); its boxes are {boxes}"),
    "many-generators": Template(
        "run {path} has several generators: {boxes}; name the one to sample "
        "(`taskdsl sample {path} NAME`)"),
    "not-a-generator": Template(
        "`{name}` in run {path} cannot be sampled: its input {position} ({wire}) is the type "
        "of no `random` or `const` source; the generators are {boxes}"),
    # ------------------------------------------------------------------ any command
    "output-unwritable": Template("cannot write {path}: {reason}"),
    "data-load": Template("{reason}"),  # a DataError without a problem (data/ words it)
    "backend-failed": Template("{reason}"),  # a BackendError given only words
    "lower-failed": Template("{reason}"),  # a LowerError given only words
    "eval-failed": Template("{reason}"),  # an EvalError given only words
    "net-failed": Template("{reason}"),  # a NetError given only words
}

# What the backend says besides errors: notes, warnings, the result of a command.
NOTES: dict[str, str] = {
    "train-interrupted":
        "interrupted at step {step}; a checkpoint was saved. Resume with:\n  {command}",
    "train-aborted": "interrupted; only the checkpoints saved before now (if any) are kept",
    "checkpoint-fallback":
        "note: using the checkpoint at step {step} in {directory}, the newest that verifies "
        "(steps {skipped} do not)",
    "checkpoint-removed":
        "note: removed the corrupt checkpoint at step {step}; the run goes on from step {used}",
    "metrics-torn-line":
        "note: the last line of {path} was cut off (the run was killed while logging it) and "
        "is dropped",
    "train-finished":
        "trained {steps} steps in {seconds:.1f}s, final loss {loss}; run saved in {out}",
    "eval-adversarial":
        "warning: the manipulator's own classifier labels {training:.0%} of the edits as "
        "asked, but the independent judge only {judge:.0%}: the edits are adversarial noise "
        "that fools the classifier they were trained against, not real changes of the "
        "attribute",
    "eval-weak-judge":
        "warning: the judge reads `{field}` right on only {accuracy:.0%} of the unedited "
        "inputs, so the figures that rely on it are loose",
    "eval-no-render": "note: the objective's diagram was not drawn ({reason})",
    "eval-not-held-out":
        "warning: data source `{source}` = {binding} has no `split` option, so it is evaluated "
        "on the data it was trained on",
    "compile-frozen":
        "note: learner `{name}` is loaded from {run} and frozen: the module takes its apply "
        "function and trained parameters from the caller and never trains it (see the "
        "module's docstring)",
    "wrote": "wrote {path}",
    "aborted": "interrupted",
    "terminated":
        "terminated: SIGTERM, and no step ended within {seconds} s (a long compile or step), "
        "so the run stopped without saving; `--resume` continues from its last checkpoint",
    # taskdsl report: what the page says about what it could not show
    "report-torn-line":
        "the last line of {file} was cut off (the run stopped while logging it) and is left out",
    "report-eval-unreadable": "{file} could not be read ({reason}), so it is left out",
    "report-picture-unreadable": "picture {name} could not be read: {reason}",
    "report-picture-large":
        "picture {name} ({size:.1f} MB) is over {limit:.0f} MB, so it is named but not shown",
    "report-picture-left-out": "too large to show here; open the file itself",
    "report-no-diagram": "the objective's diagram is not drawn: {reason}",
    "report-diagram-missing": "no diagram (see the notes above)",
    "report-no-settings": "config.json records no settings",
    "report-no-steps": "no steps logged yet",
    "report-stopped-early": "at step {step}: held-out figures stopped improving (`patience`)",
    "report-other-curves": "{count} more logged values (gradient norms, speed, ...)",
    "train-stopped-early":
        "stopped early at step {step}: {metric} has not improved for {patience} evaluations "
        "(best {best:.4g} at step {best_step}, kept in {folder})",
    "train-stopped-early-unkept":
        "stopped early at step {step}: {metric} has not improved for {patience} evaluations "
        "(best {best:.4g} at step {best_step})",
}

# The pieces some messages are put together from.
PHRASES: dict[str, str] = {
    "did-you-mean": " ({suggestion})",
    "relative-path": "{path} (that is, {absolute})",
    "file-absolute": "an absolute path",
    "file-escapes": "outside the run folder (through `..`)",
    "file-symlink": "a symbolic link that leads outside the run folder",
    "load-form":
        "`impl {learner} = load(...)`: {problem}; write `load(\"RUN_DIR\")`, or "
        "`load(path = \"RUN_DIR\", learner = \"NAME\")` when the run calls it otherwise",
    "devices": "{devices} devices",
    "devices-on-processes": "{devices} devices on {processes} processes",
    "either": "{one} or {other}",
    "diverged-equations": "the value of {equations} is not finite",
    "diverged-learners": "the gradient reaching {learners} is not finite",
    "diverged-parameters": "the parameters are not finite after the update",
    "diverged-kept": "The last good checkpoint (step {step}) is kept",
    "diverged-nothing-kept": "No checkpoint had been saved yet",
    "run-dir-holder": " (process {pid})",
    "checksums-unreadable": "its {file} cannot be read",
    "checkpoint-file-missing": "file {file} is missing",
    "checkpoint-file-changed": "file {file} does not match its checksum",
    "checkpoint-file-unreadable": "file {file} cannot be read ({reason})",
    "checkpoint-file-extra": "file {file} was not part of it when it was saved",
    "metrics-not-json": "not JSON: {reason}",
    "metrics-no-step": "not a JSON object with a whole-number `step`",
    "config-not-object": "it is not a JSON object",
    "no-loss": "n/a",
    "wires": "wires",
    "side-wires": "{side} wires",
    # taskdsl report: why a folder cannot be reported, why an output cannot be written
    "report-not-folder": "it is a file",
    "report-no-metrics": "there is no {file}",
    "report-unreadable": "{file} cannot be read: {reason}",
    "report-not-object": "it is not a JSON object",
    "report-bad-line": "{file} line {line} is not JSON: {reason}",
    "report-no-step": "{file} line {line} is not a JSON object with a whole-number `{step}`",
    "report-is-folder": "it is a folder; give a file name such as report.html",
    "report-not-ours":
        "it exists and is not a page `taskdsl report` wrote; name another file with -o, "
        "or remove it first",
    "report-no-source": "config.json does not record the .task source",
    "config-imported": "`imported` is not an object of file texts",
    "report-source-broken": "the .task source recorded in config.json no longer checks",
    "eval-no-split":
        "`eval_every` evaluates on held-out data, but data source `{source}` = {binding} "
        "has no `split` option to take a test part from; bind it to a data set with a test "
        "split, or leave out `eval_every`, `keep_best` and `patience`",
    "keep-best-metric": "a metric that `eval_every` logs: {valid}",
}


def error_words(code: str, **details: object) -> Template:
    """The run-time error ``code``'s words, filled in (every detail its template names is
    required: a missing one is the caller's bug, not a message to leave out)."""
    template = ERRORS[code]
    return Template(template.message.format(**details), exit_code=template.exit_code)


def note(key: str, **details: object) -> str:
    """A note, warning or result line of :data:`NOTES`, filled in."""
    return NOTES[key].format(**details)


def phrase(key: str, **details: object) -> str:
    """A piece of a message from :data:`PHRASES`, filled in."""
    return PHRASES[key].format(**details)


def did_you_mean(name: object, choices: Sequence[str]) -> str:
    """`` (did you mean `x`?)`` after a name in a message, or nothing when nothing is near."""
    close = suggest(str(name), choices)
    return phrase("did-you-mean", suggestion=close) if close else ""


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


def suggestion(name: object, choices: Sequence[str], tail: str = "; ") -> str | None:
    """:func:`taskdsl.suggest.suggest` followed by ``tail``, as the templates' ``{suggestion}``
    takes it; ``None`` when nothing is near (a template then leaves it out)."""
    close = suggest(str(name), choices)
    return f"{close}{tail}" if close else None


def signature(inputs: Sequence[WireType], outputs: Sequence[WireType]) -> str:
    """A learner's type as a user wrote it, every alias spelled out (two files may mean
    different `Image`s): ``Image (Real[4]), Class[10] -> Image (Real[4])``."""
    ins = ", ".join(t.described() for t in inputs)
    outs = ", ".join(t.described() for t in outputs)
    return f"{ins} -> {outs}" if ins else f"-> {outs}"


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


# Codes of the training-watch settings (training/settings.py) that, located in a ``--set``,
# are the command line's mistake too.
USAGE_CODES = USAGE_CODES | {"watch-needs-eval"}
