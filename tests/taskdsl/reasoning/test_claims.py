"""Claims in files: elaborated into the IR, proved by `taskdsl check`, reported at the claim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from taskdsl.cli import main
from taskdsl.loader import check_file, check_text
from taskdsl.reasoning.claims import check_claims, claims
from taskdsl.reasoning.rewrite import usable
from taskdsl.reasoning.theory import build
from tests.taskdsl.strategies import programs

from .conftest import LENS

ROOT = Path(__file__).resolve().parents[3]


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def write(tmp_path: Path, text: str, name: str = "f.task") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_claims_are_elaborated_with_their_goal_and_assumptions() -> None:
    program = check_text(LENS + "\nclaim a: undo by put_put, get_put\n"
                         "claim b: get(put(put(x, a), b)) = b\n", "l.task").program
    a, b = program.claims["a"], program.claims["b"]
    assert (a.task, a.using, a.goal) == ("undo", ("put_put", "get_put"), program.tasks["undo"])
    assert (b.task, b.using, b.text) == (None, None, "get(put(put(x, a), b)) = b")
    # Each variable is drawn from the source a task draws it from: x from states, a, b views.
    assert sorted(d.source for d in b.goal.draws) == ["states", "views", "views"]


def test_a_true_claim_checks_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, LENS + "\nclaim undo_follows: undo by put_put, get_put\n")
    code, out = run_check(capsys, path)
    assert code == 0, out
    assert "[claim-" not in out and out.strip().endswith(": ok")


def test_a_false_claim_is_an_error_with_its_countermodel(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = LENS + "\nclaim wrong: put_put by put_get, get_put\n"
    path = write(tmp_path, text)
    code, out = run_check(capsys, path)
    line = text.splitlines().index("claim wrong: put_put by put_get, get_put") + 1
    assert code == 1
    assert f"f.task:{line}:1: error[claim-refuted]: claim `wrong` is false" in out
    assert "countermodel" in out and "the goal fails at" in out
    assert "put(" in out  # the tables of the countermodel


def test_a_claim_only_in_distribution_is_undecided(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, LENS + "\nclaim odd: get(x) = a by put_get\n")
    code, out = run_check(capsys, path)
    assert code == 1
    assert "error[claim-undecided]" in out and "only in distribution" in out


def test_an_undecided_claim_says_how_to_raise_the_budget(tmp_path: Path) -> None:
    # With no time at all the e-graph runs no iteration and no countermodel is searched.
    program = check_text(LENS + "\nclaim slow: get(put(put(x, a), b)) = b by put_get, put_put\n",
                         "l.task").program
    (found,) = check_claims(program, seconds=1e-9)
    assert found.code == "claim-undecided"
    assert "--claim-seconds" in (found.help or "")


def test_claim_seconds_zero_skips_claims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, LENS + "\nclaim wrong: put_put by put_get, get_put\n")
    assert run_check(capsys, "--claim-seconds", "0", path)[0] == 0


def test_claims_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, LENS + "\nclaim wrong: put_put by put_get, get_put\n")
    assert main(["check", "--format", "json", path]) == 1
    (entry,) = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in entry["diagnostics"]] == ["claim-refuted"]


@pytest.mark.parametrize(("claim", "code", "column"), [
    ("claim c: nope by put_put", "undefined", 10),
    ("claim c: undo by put_put, nope", "undefined", 27),
    ("claim c: get(q) = q", "claim-unbound", 14),
])
def test_bad_claims_are_located_errors(claim: str, code: str, column: int) -> None:
    result = check_text(LENS + claim + "\n", "l.task")
    (error,) = [d for d in result.diagnostics if d.severity == "error"]
    assert error.code == code
    assert (error.span.line, error.span.column) == (LENS.count("\n") + 1, column)
    assert "c" not in result.program.claims


def test_a_claim_name_twice_is_a_duplicate() -> None:
    result = check_text(LENS + "claim c: undo\nclaim c: undo\n", "l.task")
    assert [d.code for d in result.diagnostics if d.severity == "error"] == ["duplicate"]


PATTERN = """\
pattern lens[S, V](get, put, states, views):
    get : S -> V
    put : S, V -> S
    states : -> S, ...
    views : -> V

    task put_get:
        s <- states
        v <- views
        get(put(s, v)) = v

    task get_put:
        s <- states
        put(s, get(s)) = s

    task put_put:
        s <- states
        v <- views
        w <- views
        put(put(s, v), w) = put(s, w)

    claim wrong: put_put by put_get, get_put
"""


def test_a_patterns_claims_are_checked_generically_where_it_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pattern = write(tmp_path, PATTERN, "mylens.task")
    program = check_file(pattern).program
    generic = program.generic["lens"]
    # Drawn parameters range over their whole types; the others stay learners.
    assert generic.declarations["views"].kind.value == "random"
    assert generic.declarations["put"].kind.value == "learner"
    code, out = run_check(capsys, pattern)
    assert code == 1 and "claim `lens.wrong` is false" in out
    # A file that uses the pattern does not check its claims again.
    user = write(tmp_path, "import mylens\ntype S = Real[4]\ntype V = Class[3]\n"
                           "data states : -> S\nrandom views : -> V ~ uniform\n"
                           "learner get : S -> V\nlearner put : S, V -> S\n"
                           "use lens(get = get, put = put, states = states, views = views)\n",
                 "user.task")
    used = check_file(user).program
    assert not used.claims and not used.generic
    assert run_check(capsys, user)[0] == 0


@pytest.mark.parametrize("name", ["lens", "manipulation"])
def test_the_stdlib_states_its_consequences_and_they_hold(name: str) -> None:
    program = check_file(ROOT / "stdlib" / f"{name}.task").program
    stated = list(claims(program))
    assert len(stated) >= 2
    assert check_claims(program) == []


def test_claims_about_a_used_pattern_name_its_tasks_by_their_last_part(tmp_path: Path) -> None:
    """`undo` is `lens.undo`; `s` is drawn as the pattern's tasks draw it, from a data
    source with a second output (the colour) that the claim does not use."""
    text = (ROOT / "examples" / "sprites_lens.task").read_text(encoding="utf-8")
    text += ("\nclaim u: undo by put_put, get_put\n"
             "claim r: colour_of(recolour(recolour(s, v), w)) = w by put_get, put_put\n")
    result = check_text(text, str(tmp_path / "sprites.task"))
    assert result.ok, result.render()
    u, r = result.program.claims["u"], result.program.claims["r"]
    assert (u.task, u.using) == ("lens.undo", ("lens.put_put", "lens.get_put"))
    assert sorted(d.source for d in r.goal.draws) == ["colour", "colour", "sprites"]
    assert check_claims(result.program) == []


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_a_task_claimed_from_itself_is_proved_where_it_is_a_rewrite(text: str) -> None:
    """Unless the task holds only in distribution, or one of its equations cannot be used as a
    rewrite either way (`v = k(x)` with `v` a draw of its own: docs/reasoning.md, "Limits")."""
    tasks = list(check_text(text, "p.task").program.tasks)
    claimed = text + "".join(f"\nclaim self_{t}: {t} by {t}\n" for t in tasks)
    program = check_text(claimed, "p.task").program
    assert set(program.claims) == {f"self_{t}" for t in tasks}
    found = {d.message.split("`")[1]: d.code for d in check_claims(program, seconds=0.3)}
    theory = build(program)
    for t in tasks:
        rewrites = t in theory.tasks and all(
            r.lhs == r.rhs or usable(r, True) or usable(r, False) for r in theory.tasks[t])
        expected = None if rewrites else "claim-undecided"
        assert found.get(f"self_{t}") == expected, t
