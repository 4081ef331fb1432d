"""``explain --simplify``, what refinements turn tasks into, and where undecided goals got."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl.cli import main
from taskdsl.loader import check_file, check_text
from taskdsl.reasoning.analysis import analyse, render
from taskdsl.reasoning.claims import check_claims
from taskdsl.reasoning.egraph import Budget, Saturation
from taskdsl.reasoning.goals import read_goal
from taskdsl.reasoning.proving import Verdict, prove
from taskdsl.reasoning.proving import render as render_outcome
from taskdsl.reasoning.simplify import closest, normalise, shared, simplify_program
from taskdsl.reasoning.terms import App, Domain, Rule, Symbol, Term, Var, show, size

from .conftest import LENS

ROOT = Path(__file__).resolve().parents[3]

LAWS = """\
data xs : -> Real[2]
learner f : Real[2] -> Real[2]
learner g : Real[2] -> Real[2]

refine f(x) = neg(neg(g(scale[3](scale[2](x)))))

task swap:
    x <- xs
    f(add(x, g(x))) = x

task half:
    x <- xs
    g(x) = scale[0.5](scale[2](x))

task plain:
    x <- xs
    g(sub(x, x)) = x
"""


@pytest.fixture
def laws_file(tmp_path: Path) -> str:
    path = tmp_path / "laws.task"
    path.write_text(LAWS, encoding="utf-8")
    return str(path)


def simplified(path: str) -> dict[str, tuple[str, str, list[str], list[str]]]:
    found = simplify_program(check_file(path).program)
    return {s.name: (f"{show(s.before[0])} = {show(s.before[1])}",
                     f"{show(s.after[0])} = {show(s.after[1])}", s.fired, s.refinements)
            for s in found}


def test_simplify_applies_laws_and_names_them(laws_file: str) -> None:
    found = simplified(laws_file)
    assert found["half"] == ("g(x) = scale[0.5](scale[2](x))", "g(x) = x", ["scale-compose"], [])
    before, after, fired, refined = found["swap"]
    assert before == "neg(neg(g(scale[3](scale[2](add(x, g(x))))))) = x"
    assert after == "g(scale[6](add(x, g(x)))) = x"
    assert set(fired) == {"neg is an involution", "scale-compose"} and refined == ["f"]
    assert found["plain"][0] == found["plain"][1] and found["plain"][2] == []  # sub has no law


def test_explain_simplify_cli(laws_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--simplify", laws_file]) == 0
    out = capsys.readouterr().out
    section = out[out.index("Tasks simplified"):]
    assert "refines f: written f(add(x, g(x))) = x" in section
    assert "⇒ g(x) = x    by scale-compose" in section
    assert "(no law applies)" in section.split("plain:")[1]
    assert main(["explain", "--simplify", "--latex", laws_file]) == 0
    latex = capsys.readouterr().out
    assert "\\mathrm{g}(\\mathrm{scale}[6](\\mathrm{add}(x, \\mathrm{g}(x)))) = x" in latex
    assert main(["explain", laws_file]) == 0
    assert "Tasks simplified" not in capsys.readouterr().out


def test_explain_simplify_on_a_pattern_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--simplify", str(ROOT / "stdlib" / "lens.task")]) == 0
    out = capsys.readouterr().out
    assert "Pattern lens:" in out[out.index("Tasks simplified"):]


def latent_program() -> str:
    """The latent manipulator example, with an autoencoder on its enc and dec."""
    text = (ROOT / "examples" / "mnist_manipulator_latent.task").read_text(encoding="utf-8")
    return ("import autoencoder from stdlib\n" + text
            + "\nuse autoencoder(encoder = enc, decoder = dec, data = mnist)\n"
            + "objective latent = get_put + reconstruct\n")


def test_latent_refinement_row() -> None:
    """The issue's table: autoencoder dec(enc(x)) = x and the latent refinement of put."""
    result = check_text(latent_program(), "latent.task")
    assert result.ok, result.render()
    report = analyse(result.program, result.program.objectives["latent"])
    (becomes,) = report.refined
    assert becomes.task == "get_put" and becomes.refinements == ["put"]
    assert f"{show(becomes.written[0])} = {show(becomes.written[1])}" == "put(x, get(x)) = x"
    assert show(becomes.trained[0]) == "dec(add(enc(x), shift(get(x))))"
    assert becomes.given is not None and becomes.using == ["reconstruct"]
    assert (show(becomes.given[0]), show(becomes.given[1])) == (
        "dec(add(enc(x), shift(get(x))))", "dec(enc(x))")
    assert "given reconstruct, it becomes dec(add(enc(x), shift(get(x)))) = dec(enc(x))" \
        in render(report)


def test_analyse_shows_refinements_of_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyse", str(ROOT / "examples" / "mnist_manipulator_latent.task")]) == 0
    out = capsys.readouterr().out
    assert ("refined: get_put (refining put), written put(x, get(x)) = x, is trained as "
            "dec(add(enc(x), shift(get(x)))) = x") in out
    assert "given get_put, it becomes dec(add(enc(dec(add(enc(x), shift(a)))), shift(get(x))))" \
        " = dec(add(enc(x), shift(get(x))))" in out  # undo, given get_put


def lens_outcome(tmp_path: Path, goal: str, using: list[str], iterations: int):
    path = tmp_path / "lens.task"
    path.write_text(LENS + "const first : -> V = 0\n", encoding="utf-8")
    program = check_file(str(path)).program
    g = read_goal(program, goal, str(path))
    return prove(program, g, using, Budget(iterations, 5.0), model_seconds=1e-6), g


def test_undecided_reports_closest_forms(tmp_path: Path) -> None:
    # put_put alone: one step reaches get(put(x, b)), which only put_get would finish.
    outcome, goal = lens_outcome(tmp_path, "get(put(put(x, a), b)) = b", ["put_put"], 2)
    assert outcome.verdict is Verdict.UNDECIDED
    ((lhs, rhs),) = outcome.closest
    assert (show(lhs), show(rhs)) == ("get(put(x, b))", "b")
    out = render_outcome(outcome, goal)
    assert "closest forms reached: get(put(x, b)) = b" in out
    assert "outermost box" in out and "share nothing" not in out


def test_undecided_sides_that_share_nothing(tmp_path: Path) -> None:
    outcome, goal = lens_outcome(tmp_path, "get(put(x, a)) = first", ["put_put"], 2)
    assert outcome.verdict is Verdict.UNDECIDED
    assert "share nothing" in render_outcome(outcome, goal)


def test_undecided_claim_shows_closest_forms() -> None:
    program = check_text(LENS + "\nclaim slow: get(put(put(x, a), b)) = b by put_get, put_put\n",
                         "l.task").program
    (found,) = check_claims(program, seconds=1e-9)
    assert found.code == "claim-undecided"
    assert "closest forms reached: get(put(put(x, a), b)) = b" in found.message


def test_closest_prefers_shared_structure_within_the_bound() -> None:
    x = Var("x", Domain("R"))
    f = lambda *a: App("f", a)  # noqa: E731
    g = lambda *a: App("g", a)  # noqa: E731
    assert shared(f(g(x)), f(x)) == 1 and shared(f(x), f(x)) == 2
    assert closest([f(g(x))], [x, f(x)], bound=3) == (f(g(x)), f(x))
    assert closest([f(g(x))], [x, f(f(f(x)))], bound=3) == (f(g(x)), x)  # too big to choose


# Hypothesis: simplification keeps meaning.  An independent numpy evaluator computes a term
# over random vectors, before and after.
T = "Real[3]"
SYMBOLS = {name: Symbol(name, "builtin", (T,) * arity, T) for name, arity in
           (("add@Real[3]/Real[3]", 2), ("mul@Real[3]/Real[3]", 2), ("neg@Real[3]", 1),
            ("scale@Real[3]", 1), ("sub@Real[3]/Real[3]", 2))}
VARS = [Var(n, Domain(T)) for n in ("x", "y")]


def terms() -> st.SearchStrategy[Term]:
    def extend(inner: st.SearchStrategy[Term]) -> st.SearchStrategy[Term]:
        return st.one_of(
            st.builds(lambda a, b, op: App(op, (a, b)), inner, inner,
                      st.sampled_from(["add@Real[3]/Real[3]", "mul@Real[3]/Real[3]",
                                       "sub@Real[3]/Real[3]"])),
            st.builds(lambda a: App("neg@Real[3]", (a,)), inner),
            st.builds(lambda a, k: App("scale@Real[3]", (a,), (k,)), inner,
                      st.sampled_from([0.5, 1.0, 2.0, 3.0, -1.0])))
    return st.recursive(st.sampled_from(VARS), extend, max_leaves=5)


def evaluate(t: Term, env: dict[str, np.ndarray]) -> np.ndarray:
    if isinstance(t, Var):
        return env[t.name]
    args = [evaluate(a, env) for a in t.args]
    op = t.symbol.split("@")[0]
    if op == "scale":
        return t.params[0] * args[0]
    return {"add": np.add, "mul": np.multiply, "sub": np.subtract, "neg": np.negative}[op](*args)


def test_normalise_composes_scales_and_cancels_negations() -> None:
    x, y = VARS
    scaled = App("scale@Real[3]", (App("scale@Real[3]", (x,), (3.0,)),), (2.0,))
    twice = App("neg@Real[3]", (App("neg@Real[3]", (App("add@Real[3]/Real[3]", (x, y)),)),))
    kept = App("sub@Real[3]/Real[3]", (x, x))
    assert [show(t) for t in normalise([scaled, twice, kept], SYMBOLS)] == [
        "scale[6](x)", "add(x, y)", "sub(x, x)"]


@settings(max_examples=25, deadline=None)
@given(terms(), st.integers(0, 2**32 - 1))
def test_simplification_preserves_meaning(t: Term, seed: int) -> None:
    (simple,) = normalise([t], SYMBOLS, Budget(4, 0.2))
    assert size(simple) <= size(t)
    rng = np.random.default_rng(seed)
    env = {v.name: rng.normal(size=3) for v in VARS}
    np.testing.assert_allclose(evaluate(simple, env), evaluate(t, env), rtol=1e-9, atol=1e-9)


def test_egraph_keeps_constructors_apart_whose_names_prefix_each_other() -> None:
    """Regression: with 13 symbols egglog named them F0..F12, and a rewrite mentioning F1
    and F12 made it read `sub(v, v)` (F12) as `argmax(v)` (F1), so a task claimed from
    itself went unproved.  The symbols and rules are those of that failing example."""
    r, c = "Real[3]", "Class[3]"
    names = {"add": (r, r), "argmax": (r,), "f12#0": (r,), "f12#1": (r,), "f15": (r, r),
             "f6": (r, r), "f7#0": (r, r, r), "f7#1": (r, r, r), "mul": (r, r), "neg": (r,),
             "one_hot": (c,), "stop": (r,), "sub": (r, r)}
    symbols = {n: Symbol(n, "learner", args, r) for n, args in names.items()}
    v = Var("v", Domain(r, "r3", 0))
    hot = App("one_hot", (App("argmax", (v,)),))
    inner = App("mul", (App("neg", (hot,)), App("mul", (v, App("add", (
        App("sub", (v, v)), App("stop", (hot,))))))))
    rules = [Rule(f"t[{i}]", App(f"f12#{i}", (hot,)), App(f"f12#{i}", (inner,))) for i in (0, 1)]
    graph = Saturation(symbols, rules)
    lhs, rhs = rules[0].lhs, rules[0].rhs
    assert rhs in graph.forms(rhs)  # read back as added, `sub` and all
    assert graph.saturate(Budget(2, 5.0), [(lhs, rhs)])
