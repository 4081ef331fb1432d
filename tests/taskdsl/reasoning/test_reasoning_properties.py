"""Properties: whatever prove answers about random lens goals, its evidence checks."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskdsl.loader import check_file
from taskdsl.reasoning.check import check
from taskdsl.reasoning.goals import read_goal
from taskdsl.reasoning.models import find, holds
from taskdsl.reasoning.proving import Verdict, prove

TASKS = ["put_get", "get_put", "put_put"]



def states(depth: int) -> st.SearchStrategy[str]:
    """Expressions of type S over x: x, put(s, v)."""
    if depth == 0:
        return st.just("x")
    return st.one_of(st.just("x"), st.builds(lambda s, v: f"put({s}, {v})", states(depth - 1),
                                             views(depth - 1)))


def views(depth: int) -> st.SearchStrategy[str]:
    """Expressions of type V over a, b: a, b, get(s)."""
    leaves = st.sampled_from(["a", "b"])
    if depth == 0:
        return leaves
    return st.one_of(leaves, states(depth - 1).map(lambda s: f"get({s})"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lhs=states(3), rhs=states(2), using=st.sets(st.sampled_from(TASKS), min_size=1))
def test_every_verdict_carries_checked_evidence(lens_file: str, lhs: str, rhs: str,
                                                 using: set[str]) -> None:
    program = check_file(lens_file).program
    goal = read_goal(program, f"x <- states; a <- views; b <- views; {lhs} = {rhs}", lens_file)
    outcome = prove(program, goal, sorted(using), model_seconds=2.0)
    if outcome.verdict is Verdict.PROVED:
        for rule, steps in zip(outcome.goal, outcome.derivations, strict=True):
            if steps is not None:
                check(rule.lhs, rule.rhs, steps, outcome.rules)
        # The e-graph and z3 read the tasks independently: no model may refute a proof.
        assert find(outcome.rules, outcome.goal, outcome.symbols, outcome.sources,
                    max_size=2, seconds=5.0) is None
    elif outcome.verdict is Verdict.REFUTED:
        assert outcome.model is not None
        assert all(holds(r, outcome.model) is None for r in outcome.rules)
        assert any(holds(r, outcome.model) is not None for r in outcome.goal)
    if lhs == rhs:
        assert outcome.verdict is Verdict.PROVED
