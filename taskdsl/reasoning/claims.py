"""Checking a file's claims (``claim NAME: GOAL [by ...]``) with ``prove``.

``taskdsl check`` calls :func:`check_claims` once a file checks clean: each
top-level claim is proved from the file's tasks, each claim written inside a
pattern from the pattern's generic reading (``Program.generic``: its source
parameters range over their whole types).  A claim in an imported file is
not checked again by the importer: it was checked where it is written.  A
proved claim says nothing; a refuted one is an error with the countermodel;
one decided neither way within the budget is an error that says how to raise
the budget (or to ask ``taskdsl prove`` for the whole story).
"""

from __future__ import annotations

from collections.abc import Iterator

from taskdsl.diagnostics import Diagnostic, position
from taskdsl.ir import Claim, Program
from taskdsl.loader import Result
from taskdsl.reasoning import messages
from taskdsl.reasoning.egraph import Budget
from taskdsl.reasoning.goals import Goal
from taskdsl.reasoning.proving import MAX_MODEL_SIZE, Outcome, Verdict, countermodel, prove, reached
from taskdsl.reasoning.terms import distributional

DEFAULT_SECONDS = 2.0
"""The default budget per claim: the e-graph's, and again the countermodel search's."""
ITERATIONS = 30


def claims(program: Program) -> Iterator[tuple[Program, Claim, str | None]]:
    """Every claim to check, with the program it is read in and its pattern (if any)."""
    for claim in program.claims.values():
        yield program, claim, None
    for pattern, generic in program.generic.items():
        for claim in generic.claims.values():
            yield generic, claim, pattern


def check_claim(program: Program, claim: Claim, seconds: float = DEFAULT_SECONDS,
                pattern: str | None = None) -> Diagnostic | None:
    """None when ``claim`` is proved within ``seconds``; else the diagnostic to report."""
    goal = Goal(claim.text, claim.goal, claim.task)
    using = list(claim.using) if claim.using is not None else None
    outcome = prove(program, goal, using, Budget(ITERATIONS, seconds), model_seconds=seconds)
    name = f"{pattern}.{claim.name}" if pattern else claim.name
    if outcome.verdict is Verdict.PROVED:
        return None
    if outcome.verdict is Verdict.REFUTED:
        lines = countermodel(outcome)
        witness = next((line.strip() for line in lines if line.strip().startswith("the goal")), None)
        model = "\n".join("    " + line for line in lines if line.strip() != witness)
        return Diagnostic("claim-refuted", messages.CLAIM_REFUTED.format(
            name=name, goal=claim.text, using=_names(outcome)), claim.span, found=witness,
            help=messages.CLAIM_COUNTERMODEL.format(model=model))
    why, help_ = _undecided(outcome, claim, seconds)
    return Diagnostic("claim-undecided", messages.CLAIM_UNDECIDED.format(name=name, why=why),
                      claim.span, help=help_)


def _names(outcome: Outcome) -> str:
    return ", ".join(outcome.assumed) or "no tasks"


def _undecided(outcome: Outcome, claim: Claim, seconds: float) -> tuple[str, str]:
    """Why a claim was left undecided, and what to do about it."""
    if not claim.goal.is_equality:
        return messages.CLAIM_UNEQUAL.format(goal=claim.text), messages.CLAIM_UNEQUAL_HELP
    if distributional(claim.goal):
        return (messages.CLAIM_DISTRIBUTIONAL.format(goal=claim.text),
                messages.CLAIM_DISTRIBUTIONAL_HELP)
    why = messages.CLAIM_BUDGET.format(goal=claim.text, names=_names(outcome),
                                       iterations=outcome.iterations, seconds=f"{seconds:g}",
                                       max_size=MAX_MODEL_SIZE)
    got = reached(outcome)
    if got:
        why += messages.CLAIM_REACHED.format(reached="\n".join(line.strip() for line in got))
    command = f"taskdsl prove FILE '{claim.text}'"
    if claim.using:
        command += f" --using {','.join(claim.using)}"
    return why, messages.CLAIM_BUDGET_HELP.format(more=f"{seconds * 5:g}", command=command)


def check_claims(program: Program, seconds: float = DEFAULT_SECONDS) -> list[Diagnostic]:
    """The diagnostics of every claim of ``program`` not proved within ``seconds`` each."""
    found = [check_claim(p, claim, seconds, pattern) for p, claim, pattern in claims(program)]
    return [d for d in found if d is not None]


def with_claims(result: Result, seconds: float = DEFAULT_SECONDS) -> Result:
    """``result`` with its claims checked, when it has claims and no errors."""
    if not result.ok or seconds <= 0 or not any(True for _ in claims(result.program)):
        return result
    diagnostics = sorted([*result.diagnostics, *check_claims(result.program, seconds)],
                         key=position)
    return Result(result.program, diagnostics, result.sources, list(result.unchecked))
