"""Every diagnostic's wording, in one place.

A message is looked up by its code and filled in from the details the checker
passes.  Keeping the words here lets the tests, the docs and the code agree on
what each error says, and lets a wording change happen once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    message: str
    expected: str | None = None
    found: str | None = None
    help: str | None = None


TEMPLATES: dict[str, Template] = {
    # ----------------------------------------------------------- syntax
    "syntax": Template("{message}", "{expected}", "{found}", "{help}"),
    "bad-character": Template("unexpected character `{char}`", help="{help}"),
    "bad-indent": Template(
        "this line's indentation matches no enclosing block",
        help="indent a block's lines by the same amount (the formatter uses 4 spaces)",
    ),
    "bad-dimension": Template(
        "a dimension must be a positive whole number or a dimension variable",
        found="{value}",
    ),
    "bad-target": Template(
        "only names (or `_`) can be bound here", found="{found}",
        help="write `x, y <- source` or `let h = f(x)`",
    ),
    "too-many-errors": Template(
        "too many errors: stopping after the first {limit} in this file",
        help="fix these and check again",
    ),
    "underscore-use": Template(
        "`_` discards a wire; it cannot be used as a value",
        help="bind the wire to a name to use it",
    ),
    # ------------------------------------------------------------ names
    "undefined": Template("undefined {what} `{name}`", help="{help}"),
    "duplicate": Template(
        "`{name}` is defined twice",
        help="the first definition is at {first}; rename or remove one of them",
    ),
    "wrong-kind": Template(
        "`{name}` is a {actual}, not a {wanted}", expected="{wanted}", found="{actual} `{name}`"
    ),
    "import-missing": Template(
        "cannot import `{name}`: no file {looked}",
        help="the standard library has: {available}",
    ),
    "import-cycle": Template("import cycle: {cycle}", help="move the shared definitions to a third file"),
    "import-unreadable": Template("cannot read `{path}`: {reason}"),
    # ------------------------------------------------------------ types
    "unknown-type": Template(
        "unknown type `{name}`",
        expected="one of Real[..], Class[n], Binary[..], Gaussian[..], Tokens[v, l] or an alias",
        help="{help}",
    ),
    "type-dims": Template(
        "`{kind}` takes {wanted} dimension(s), found {count}", expected="{example}"
    ),
    "alias-dims": Template(
        "`{name}` is an alias and takes no dimensions", help="write `{name}` alone"
    ),
    "bad-distribution": Template(
        "a random source of type `{type}` cannot be drawn `~ {dist}`",
        expected="one of: {allowed}",
        found="~ {dist}",
    ),
    "source-no-distribution": Template(
        "random source `{name}` needs a distribution", help="write `~ uniform` or `~ normal`"
    ),
    "misplaced-distribution": Template(
        "only a random source takes `~ distribution`; `{name}` is declared `{kind}`",
        help="drop the `~ ...`, or declare `random {name} : -> ...`",
    ),
    "follow-unknown": Template(
        "`{name} = {follow}(...)`: `{follow}` is not a way to follow a learner",
        help="write `learner {name} = ema({followed}, 0.99)` (a moving average of "
             "`{followed}`) or `learner {name} = tied({followed})` (the same parameters)",
    ),
    "follow-not-learner": Template(
        "`{follow}(...)` declares a learner; `{name}` is declared `{kind}`",
        help="write `learner {name} = {follow}(...)`",
    ),
    "follow-undefined": Template(
        "`{name} = {follow}({followed})`: no learner `{followed}` is declared above",
        help="{help}",
    ),
    "follow-follower": Template(
        "`{name} = {follow}({followed})`: `{followed}` is itself `{other}({of})`",
        help="follow `{of}` directly: `learner {name} = {example}`",
    ),
    "ema-decay": Template(
        "`ema` needs a decay strictly between 0 and 1", found="{found}",
        help="write e.g. `learner {name} = ema({followed}, 0.99)`: "
             "each step keeps 99% of `{name}` and takes 1% of `{followed}`",
    ),
    "tied-decay": Template(
        "`tied({followed})` takes no number: `{name}` is `{followed}` under another name",
        help="write `learner {name} = tied({followed})`, or `ema({followed}, {found})` "
             "for a moving average",
    ),
    "trains-ema": Template(
        "`trains` names `{name}`, a moving average of `{followed}`: it is not trained by "
        "gradient",
        help="drop `{name}` from `trains` (it follows `{followed}` after each step), or "
             "declare it `learner {name} : ...` to train it",
    ),
    "const-value": Template(
        "constant `{name}` needs a value", help="write `const {name} : -> T = 0`"
    ),
    "misplaced-value": Template(
        "only a `const` takes `= value`; `{name}` is declared `{kind}`",
        help="drop the `= ...`, or declare `const {name} : -> ...`",
    ),
    "source-inputs": Template(
        "`{name}` is declared `{kind}`, a source, so it takes no inputs, but it declares {count}",
        help="write `{kind} {name} : -> ...`",
    ),
    "box-no-outputs": Template("box `{name}` must have at least one output"),
    "open-tail": Template("`...` is only allowed for a source parameter of a pattern"),
    # --------------------------------------------------------- diagrams
    "arity": Template(
        "`{name}` takes {wanted} input(s), but {count} {were} given",
        expected="{name} : {signature}",
        found="{count} argument(s)",
    ),
    "type-mismatch": Template(
        "wire type mismatch: {where}",
        expected="{expected}",
        found="{found}",
        help="{help}",
    ),
    "multi-output": Template(
        "`{name}` has {count} outputs, so `{outer}` gets {total} wires, but it takes {wanted}",
        expected="{outer} : {signature}",
        help="write `let {names} = {name}(...)` and pass the wires by name",
    ),
    "seq-mismatch": Template(
        "`>>` joins {left_count} output(s) to {right_count} input(s)",
        expected="{right}",
        found="{left}",
        help="{help}",
    ),
    "seq-reuse": Template(
        "`>>` would use the output of its left side twice",
        expected="{right}",
        found="{left}",
        help="copies are explicit in point-free form: `... >> copy[{type}] >> ...`",
    ),
    "unconnected-input": Template(
        "the input(s) of `{name}` are not connected to anything ({signature})",
        help="apply it to wires: `{name}(...)`",
    ),
    "generic-builtin": Template(
        "builtin `{name}` is generic; in point-free form give its wire type",
        help="write `{name}[T]`, e.g. `{name}[Real[32]]`",
    ),
    "box-args": Template("`{name}` takes {wanted}", found="{found}"),
    "def-param-type": Template(
        "parameter `{name}` of `{def_name}` needs a type", help="write `{name}: T`"
    ),
    "too-large": Template(
        "`{name}` is too large to check: it expands to more than {limit} {what}",
        help="each use of {used} copies it, so {used_plural} built from {used_plural} grow "
             "fast; use fewer levels, or raise the limit: {variable}=N",
    ),
    "recursive-def": Template(
        "`{name}` is defined in terms of itself: {cycle}",
        help="a def cannot use itself, directly or through other defs; write the diagram out",
    ),
    "target-count": Template(
        "{count} name(s) bound to {wires} wire(s)", expected="{wires} name(s)", found="{count}"
    ),
    "source-in-expr": Template(
        "source `{name}` can only be drawn with `<-`",
        help="draw it first, on a line of its own: `v <- {name}`, then use `v`",
    ),
    # ------------------------------------------------------------ tasks
    "side-types": Template(
        "the two sides of the equation have different output types",
        expected="{rhs} (right side)",
        found="{lhs} (left side)",
    ),
    "no-equation": Template(
        "task `{name}` has no equation", help="add a line `lhs = rhs`"
    ),
    "two-equations": Template(
        "task `{name}` has more than one equation",
        help="an atomic task is one equation; split it into two tasks and sum them in an objective",
    ),
    "trains-absent": Template(
        "`trains` names `{name}`, which does not occur in this equation",
        expected="one of: {present}",
        found="{name}",
        help="{help}",
    ),
    "trains-not-learner": Template(
        "`trains` names `{name}`, which is declared `{kind}`; only learners are trained"
    ),
    "vacuous": Template(
        "task `{name}` is vacuous: no learner occurs in its equation",
        help="a task constrains learners; use one on either side",
    ),
    "discarded-learner": Template(
        "the output of learner `{name}` is discarded: it reaches neither side",
        help="use the wire, or drop the application",
    ),
    "repeated-clause": Template("`{clause}` is given twice for this task"),
    "unknown-divergence": Template(
        "unknown divergence `{name}`", expected="one of: {allowed}", help="{help}"
    ),
    "divergence-type": Template(
        "divergence `{name}` does not compare wires of type `{type}`",
        expected="one of: {allowed}",
        found="{name}",
    ),
    "objective-cycle": Template("objective `{name}` contains itself: {cycle}"),
    "objective-weight": Template("weights must be positive", found="{weight}"),
    "weight-outside-pattern": Template(
        "a weight is a number here, not a name: `{name} * {task}`",
        help="write a number (`0.5 * {task}`), or sweep it with `--set weight.{task}=0.5` at "
             "`taskdsl train`; a name weighs a task only inside a pattern, as one of its "
             "`number` parameters (`pattern p(...; {name}: number)`)",
    ),
    "weight-not-number": Template(
        "`{name}` is a {kind} parameter of pattern `{pattern}`; a weight is a number",
        found="{name} * {task}",
        help="declare a number parameter after the `;` (`w: number = 1`) and write "
             "`w * {task}`; a divergence parameter goes in a `by` clause (`by {name}`)",
    ),
    "weight-undefined": Template(
        "pattern `{pattern}` has no number parameter `{name}` to weigh a task by",
        help="declare it after the pattern's `;`: `{name}: number` (or `{name}: number = 1`, "
             "a default){near}",
    ),
    "objective-sign": Template(
        "only a task compared `by wass` may be subtracted or given a negative weight",
        found="{weight} * {name} (by {divergences})",
        help="maximising {divergences} has no optimum; a linear critic (`by wass`) does",
    ),
    "by-count": Template(
        "`by` names {count} divergences for {wires} compared output wires",
        help="name one divergence for all outputs, or one per output, in order",
    ),
    "slope-side": Template(
        "divergence `slope` differentiates one learner in its one Real input: its left side "
        "must be that learner applied to a wire",
        expected="a learner of one Real input and one output, applied on the left",
        found="{found}",
        help="write the penalty as `critic(w) = 1 by slope`, with `w` drawn or bound by `let`",
    ),
    "divergence-param": Template(
        "divergence `{name}` {problem}",
        found="{found}",
        help="{help}",
    ),
    "literal-side": Template(
        "a number in an equation needs an output opposite it to take its type from",
        found="{found}",
        help="write the number opposite one output wire: `disc(x) = 1`",
    ),
    # -------------------------------------------------------- refinement
    "refine-not-learner": Template(
        "only a learner can be refined; `{name}` is declared `{kind}`"
    ),
    "refine-type": Template(
        "refinement of `{name}` does not have the learner's type",
        expected="{expected}",
        found="{found}",
    ),
    "refine-params": Template(
        "refinement of `{name}` binds {count} input(s), but `{name}` takes {wanted}",
        expected="{signature}",
    ),
    # ---------------------------------------------------------- patterns
    "pattern-arg-unknown": Template(
        "pattern `{pattern}` has no parameter `{name}`", expected="one of: {params}", help="{help}"
    ),
    "pattern-arg-missing": Template(
        "pattern `{pattern}` needs a value for `{name}`", help="add `{name} = ...`"
    ),
    "pattern-arg-type": Template(
        "pattern `{pattern}` instantiated with wrong types: `{name} = {value}`",
        expected="{expected}",
        found="{found}",
    ),
    "pattern-param-sig": Template(
        "parameter `{name}` of pattern `{pattern}` has no signature",
        help="add a line `{name} : A -> B` to the pattern's body",
    ),
    "pattern-type-kind": Template(
        "a pattern's type parameter is `type` or `dim`, found `{kind}`"
    ),
    "pattern-value-kind": Template(
        "a pattern's value parameter `{name}` is a `number` or a `divergence`, found `{kind}`",
        help="write `{name}: number` or `{name}: divergence` after the `;`",
    ),
    "pattern-value-default": Template(
        "the default of `{name}` is not a {kind}: `{value}`",
        expected="{expected}",
    ),
    # ------------------------------------------------------------ lints
    # Warnings (errors under `taskdsl check --strict`): see taskdsl/lints.py.
    "learner-on-right": Template(
        "learner `{name}` is only on the right of `=`, but `{divergence}` trains the left side "
        "toward the right",
        found="{found}",
        help="`{divergence}` scores the right side by the left's log-probabilities, so a learner "
             "alone on the right learns nothing sensible; swap the two sides: `{fix}`",
    ),
    "unused-learner": Template(
        "learner `{name}` is declared but no task uses it, so it is never trained",
        help="use `{name}` in a task, or delete its declaration",
    ),
    "unused-draw": Template(
        "`{name}` is drawn from `{source}` but never used",
        help="write `_` in its place to discard it (`{fix}`), or use it",
    ),
    # ------------------------------------------------ implementation
    "impl-unknown": Template("`impl` for `{name}`, which is not a learner or fixed box", help="{help}"),
    "impl-refined": Template(
        "`{name}` is refined into a diagram, so it has no implementation of its own",
        help="give `impl` lines for the learners of its refinement: {inner}",
    ),
    "impl-follower": Template(
        "`{name}` follows `{other}` (`ema` or `tied`), so it has `{other}`'s net and no "
        "implementation of its own",
        help="give the `impl` line to `{other}` and delete this one",
    ),
    "train-unknown": Template("`train` block for `{name}`, which is not a task or objective", help="{help}"),
    "train-data": Template("`data {name}` binds something that is not a data source", help="{help}"),
    # ----------------------------------------------------------- claims
    "claim-unbound": Template(
        "`{name}` in claim `{claim}` is drawn in no task",
        help="a claim's variable takes the source a task draws the same name from; "
             "use a name that a task in scope draws",
    ),
}


@dataclass(frozen=True)
class Wording:
    """A diagnostic's words, filled in: what :class:`taskdsl.diagnostics.Diagnostic` shows."""

    message: str
    expected: str | None = None
    found: str | None = None
    help: str | None = None


def fill(code: str, details: Mapping[str, object]) -> Wording:
    """Fill in the template for ``code``; a detail left out (or None) leaves its line out.

    Returns words, not a diagnostic, so this module depends on nothing: the
    diagnostics module imports it, never the other way round.
    """
    template = TEMPLATES[code]
    known = {k: v for k, v in details.items() if v is not None}

    def filled(text: str | None) -> str | None:
        if text is None:
            return None
        try:
            out = text.format(**known)
        except KeyError:
            return None
        return out or None

    return Wording(filled(template.message) or code, filled(template.expected),
                   filled(template.found), filled(template.help))


# ---------------------------------------------------------- backends
# What `taskdsl check` says about the checks that only a backend can make.
BACKEND_CHECKS = "impl lines, data bindings and train settings"
UNCHECKED = BACKEND_CHECKS + " were not checked: {reason}"
NO_BACKEND = "no backend installed (pip install 'taskdsl[jax]')"
BACKEND_CANNOT_RUN = "the `{name}` backend cannot run here: {reason}"
BACKEND_BROKEN = "the `{name}` backend could not be loaded: {error}"
# A backend's check that raised: a bug in the backend, reported like any diagnostic
# (code "backend-crash") so that one broken backend hides no other finding.
BACKEND_CRASH = "the `{name}` backend's check failed: {error}"
BACKEND_CRASH_HELP = "this is a bug in the backend, not in your file; please report it"

# ---------------------------------------------------------- command line
# A backend's command where the backend cannot run (its framework is not installed).
BACKEND_COMMAND_CANNOT_RUN = "`taskdsl {command}` needs the `{name}` backend, which cannot run here: {reason}"
# `render -o` and `compile -o`: never write over what the command reads, nor silently
# over anything else.
OUTPUT_IS_INPUT = ("`-o {out}` would overwrite {what}; nothing was written. "
                   "Choose another output file")
OUTPUT_IS_INPUT_FILE = "the input file `{path}`"
OUTPUT_IS_IMPORT = "`{path}`, which `{file}` imports"
OUTPUT_EXISTS = ("`-o {out}`: the file already exists; nothing was written. "
                 "Pass --force to overwrite it, or choose another output file")
