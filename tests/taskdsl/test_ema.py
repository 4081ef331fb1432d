"""EMA and tied learners in the front end: ``learner target = ema(online, 0.99)`` and
``learner b = tied(a)``, their IR, the formatter, and the checker's located errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskdsl.fmt import format_text
from taskdsl.ir import BoxKind
from taskdsl.loader import check_text
from taskdsl.queries import ema_learners, not_trained, own_params

HEAD = """type Vec = Real[4]
learner online : Vec -> Vec
data xs : -> Vec
"""

GOOD = HEAD + """learner target = ema(online, 0.99)
learner twin = tied(online)

task t:
    x <- xs
    twin(online(x)) = stop(target(x))
"""


def test_an_ema_learner_has_the_followed_signature_and_decay() -> None:
    result = check_text(GOOD)
    assert result.ok, result.render()
    declarations = result.program.declarations
    target = declarations["target"]
    assert target.kind is BoxKind.LEARNER and target.follows == ("online", 0.99)
    assert target.signature == declarations["online"].signature


def test_a_tied_learner_is_the_followed_learners_boxes() -> None:
    program = check_text(GOOD).program
    assert program.declarations["twin"].tied_to == "online"
    names = [b.name for b in program.tasks["t"].lhs.boxes if b.kind is BoxKind.LEARNER]
    assert names == ["online", "online"]  # `twin(online(x))` is online applied twice


def test_queries_say_who_has_parameters_and_who_is_trained() -> None:
    program = check_text(GOOD).program
    objective = program.objective("t")
    assert ema_learners(program, objective) == {"target": ("online", 0.99)}
    assert own_params(program, objective) == ("online", "target")
    assert "target" in not_trained(program, objective)


@given(st.floats(0.01, 0.999).map(lambda d: round(d, 3)).filter(lambda d: 0 < d < 1))
def test_the_formatter_keeps_an_ema_declaration(decay: float) -> None:
    text = HEAD + f"learner target = ema(online, {decay})\nlearner twin = tied(online)\n"
    formatted = format_text(text)
    assert format_text(formatted) == formatted
    assert check_text(formatted).program.declarations["target"].follows == ("online", decay)
    assert "learner twin = tied(online)" in formatted


@pytest.mark.parametrize(("line", "code"), [
    ("learner target = ema(online, 1.5)", "ema-decay"),
    ("learner target = ema(online, 0)", "ema-decay"),
    ("learner target = ema(online)", "ema-decay"),
    ("learner target = ema(onlin, 0.9)", "follow-undefined"),
    ("learner target = ema(xs, 0.9)", "follow-undefined"),
    ("learner target = average(online, 0.9)", "follow-unknown"),
    ("fixed target = ema(online, 0.9)", "follow-not-learner"),
    ("learner target = tied(online, 0.9)", "tied-decay"),
])
def test_a_bad_follower_is_a_located_error(line: str, code: str) -> None:
    result = check_text(HEAD + line + "\n")
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == [code]
    assert errors[0].span.line == 4 and errors[0].help


def test_following_a_follower_is_an_error_naming_the_first() -> None:
    result = check_text(HEAD + "learner t1 = ema(online, 0.9)\nlearner t2 = tied(t1)\n")
    (error,) = [d for d in result.diagnostics if d.severity == "error"]
    assert error.code == "follow-follower" and "online" in error.help


def test_an_undefined_followed_learner_is_suggested() -> None:
    result = check_text(HEAD + "learner target = ema(onlne, 0.9)\n")
    (error,) = result.diagnostics
    assert "online" in (error.help or "")


def test_analyse_counts_a_used_tied_learner_as_the_learner_it_is() -> None:
    """`twin` is used (as `online`): not an unconstrained learner; an unused EMA learner is."""
    from taskdsl.reasoning.analysis import analyse

    program = check_text(HEAD + "learner twin = tied(online)\nlearner idle = ema(online, 0.9)\n"
                         "task t:\n    x <- xs\n    twin(x) = x\n").program
    assert analyse(program, program.objective("t")).unconstrained == ["idle"]


def test_a_trains_clause_naming_an_ema_learner_is_located_at_the_name() -> None:
    result = check_text(GOOD.replace("stop(target(x))", "stop(target(x))  trains online, target"))
    (error,) = [d for d in result.diagnostics if d.severity == "error"]
    assert error.code == "trains-ema" and error.span.line == 9
    assert error.span.column == GOOD.splitlines()[8].index("stop") + len(
        "stop(target(x))  trains online, ") + 1


def test_a_default_trains_leaves_the_ema_learner_out() -> None:
    assert check_text(GOOD).program.tasks["t"].trains == ("online",)
