"""`taskdsl explain`: each task as the loss formula it lowers to, in text and LaTeX."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl import check_text, load
from taskdsl.cli import main
from taskdsl.explain import (
    Notation,
    equation_formula,
    explain,
    objective_formula,
    pattern_heading,
)
from taskdsl.ir import Objective, Program, Term

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "mnist_manipulator.task"
GOLDEN = Path(__file__).parent / "golden" / "errors"
PYTHON = sys.executable

TASKS = {
    "classify": "E[(x, y)~mnist] CE(get(x), y)   trains: get",
    "put_get": "E[x~mnist; a~digit] CE(get(put(x, a)), a)   trains: put",
    "get_put": "E[x~mnist] MSE(put(x, get(x)), x)   trains: put",
    "undo": "E[x~mnist; a~digit] MSE(put(put(x, a), get(x)), x)   trains: put",
}


@pytest.fixture(scope="module")
def text() -> str:
    return explain(load(EXAMPLE))


def test_each_task_formula(text: str) -> None:
    for name, formula in TASKS.items():
        assert f"  {name}: {formula}" in text.splitlines()


def test_objective_total(text: str) -> None:
    lines = text.splitlines()
    head = lines.index("Objective manipulate = put_get + 10 · get_put + undo:")
    assert lines[head + 1:head + 4] == [
        "  loss = E[x~mnist; a~digit] CE(get(put(x, a)), a)   trains: put",
        "       + 10 · E[x~mnist] MSE(put(x, get(x)), x)   trains: put",
        "       + E[x~mnist; a~digit] MSE(put(put(x, a), get(x)), x)   trains: put",
    ]
    assert "10 · E[x~mnist] MSE(put(x, get(x)), x)   trains: put" in text


def test_boxes_table(text: str) -> None:
    lines = text.splitlines()
    assert lines[0] == "Boxes:"
    assert "  random   digit : -> Digit ~ uniform" in lines
    assert "  learner  put   : Image, Digit -> Image" in lines


def test_weights_multiply_through_nested_objectives() -> None:
    program = load_text("""
data d : -> Real[4], Real[4]
learner f : Real[4] -> Real[4]
task fit:
    x, y <- d
    f(x) = y      by l1
objective inner = 3 * fit
objective outer = 2 * inner
""")
    outer = program.objectives["outer"]
    assert [t.weight for t in outer.terms] == [6.0]
    assert objective_formula(outer, Notation()) == "outer = 6 · fit"
    assert equation_formula(outer.terms[0].equation, Notation(), 6.0) == \
        "6 · E[(x, y)~d] L1(f(x), y)"


def load_text(source: str):
    result = check_text(source, "t.task")
    assert result.ok, result.render()
    return result.program


def test_latex() -> None:
    text = explain(load(EXAMPLE), latex=True)
    assert "\\mathbb{E}" in text
    assert ("get_put: \\mathbb{E}_{x \\sim \\mathrm{mnist}}\\,\\mathrm{MSE}"
            "(\\mathrm{put}(x, \\mathrm{get}(x)), x)   trains: put") in text
    assert "10 \\cdot \\mathbb{E}_{x \\sim \\mathrm{mnist}}" in text
    assert "\\mathrm{put\\_get}" in text  # underscores escaped
    assert "·" not in text and "E[" not in text


def test_cli_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "get_put: E[x~mnist] MSE(put(x, get(x)), x)   trains: put" in out
    assert main(["explain", "--latex", str(EXAMPLE)]) == 0
    assert "\\mathbb{E}" in capsys.readouterr().out


def test_cli_explain_with_errors_exits_1(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    assert main(["explain", "side_types.task"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith((GOLDEN / "side_types.expected").read_text())


def test_cli_explain_subprocess(tmp_path: Path) -> None:
    missing = subprocess.run([PYTHON, "-m", "taskdsl", "explain", "nope.task"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert "cannot read `nope.task`: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    usage = subprocess.run([PYTHON, "-m", "taskdsl", "explain"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr


# Each pattern example's equations, as the literature writes its loss.
TEXTBOOK = {
    "mnist_classifier": ["classify: E[(x, y)~mnist] CE(classifier(x), y)"],
    "sprites_regression": ["regress: E[(x, y)~sprites] MSE(locate(x), y)",
                           "regress_robust: E[(x, y)~sprites] Huber(locate(x), y)"],
    "mnist_autoencoder": ["reconstruct: E[x~mnist] MSE(dec(enc(x)), x)"],
    "mnist_vae": ["E[x~mnist] MSE(dec(sample(enc(x))), x)   trains: enc, dec",
                  "+ 0.001 · E[x~mnist] KL(enc(x), prior)   trains: enc"],
    "digits_gan": ["E[x~digits] BCE(disc(x), is_real)   trains: disc",
                   "+ E[z~z] BCE(disc(gen(z)), is_fake)   trains: disc",
                   "+ E[z~z] BCE(disc(gen(z)), is_real)   trains: gen"],
    "sprites_cyclegan": ["+ E[a~red] BCE(disc_blue(to_blue(a)), is_real)   trains: to_blue",
                         "+ 10 · E[a~red] L1(to_red(to_blue(a)), a)   trains: to_blue, to_red"],
    "sprites_lens": ["E[s~sprites; v~colour] CE(colour_of(recolour(s, v)), v)",
                     "10 · E[s~sprites] MSE(recolour(s, colour_of(s)), s)",
                     "MSE(recolour(recolour(s, v), w), recolour(s, w))   trains: recolour"],
    "mnist_cvae": ["E[(x, y)~mnist] MSE(dec(sample(enc(x, y)), y), x)   trains: enc, dec",
                   "+ 0.001 · E[(x, y)~mnist] KL(enc(x, y), prior)   trains: enc"],
}


@pytest.mark.parametrize("example", TEXTBOOK)
def test_each_pattern_example_reads_as_its_textbook_loss(example: str) -> None:
    lines = [line.strip() for line in explain(load(ROOT / "examples" / f"{example}.task"))
             .splitlines()]
    for formula in TEXTBOOK[example]:
        assert any(formula in line for line in lines), formula


# ------------------------------------------------------------ multi-output calls
MULTI = """
data d : -> Real[4]
learner h : Real[4] -> Real[4], Real[4]

task named:
    x <- d
    let a, b = h(x)
    a, b = x, x

task unnamed:
    x <- d
    h(x) = x, x

task dropped:
    x <- d
    let a, _ = h(x)
    a = x

task nested:
    x <- d
    let a, b = h(x)
    let c, e = h(a)
    c, e = b, x

task clash:
    h1 <- d
    h(h1) = h1, h1
"""
LETS = {
    "named": "E[x~d] let (a, b) = h(x) in [MSE(a, x) + MSE(b, x)]",
    "unnamed": "E[x~d] let (h1, h2) = h(x) in [MSE(h1, x) + MSE(h2, x)]",
    "dropped": "E[x~d] let (a, _) = h(x) in MSE(a, x)",
    # b is used only on the right: the left side's discard of it does not hide it.
    "nested": "E[x~d] let (a, b) = h(x) in let (c, e) = h(a) in [MSE(c, b) + MSE(e, x)]",
    "clash": "E[h1~d] let (h1', h2) = h(h1) in [MSE(h1', h1) + MSE(h2, h1)]",
}


@pytest.mark.parametrize("task", LETS)
def test_a_multi_output_call_is_written_once(task: str) -> None:
    formula = equation_formula(load_text(MULTI).tasks[task], Notation())
    assert formula == LETS[task]


def test_multi_output_let_in_latex() -> None:
    formula = equation_formula(load_text(MULTI).tasks["dropped"], Notation(latex=True))
    assert formula == ("\\mathbb{E}_{x \\sim \\mathrm{d}}\\,\\mathrm{let}\\ (a, \\_) = "
                       "\\mathrm{h}(x)\\ \\mathrm{in}\\ \\mathrm{MSE}(a, x)")


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.task")), ids=lambda p: p.stem)
def test_no_example_indexes_a_call(path: Path) -> None:
    """No formula repeats a call per output (`h(x)[0]`): each is bound once by a `let`."""
    result = check_text(path.read_text(), str(path))
    if not result.ok:
        pytest.skip("needs an import beside it")
    text = explain(result.program)
    assert not re.search(r"\)\[\d+\]", text)
    for call in re.findall(r"let \([^)]*\) = (.+?) in ", text):
        line = next(line for line in text.splitlines() if call in line)
        assert line.count(call) == 1, line


# ------------------------------------------------------------ patterns
STDLIB = sorted((ROOT / "stdlib").glob("*.task"))


@pytest.mark.parametrize("path", STDLIB, ids=lambda p: p.stem)
def test_a_file_of_patterns_explains_each_pattern_task(path: Path) -> None:
    program = load(path)
    assert program.generic and not program.tasks
    lines = explain(program).splitlines()
    for name, generic in program.generic.items():
        head = lines.index(f"Pattern {pattern_heading(name, generic, program)}:")
        for task, equation in generic.tasks.items():
            line = f"  {task}: {equation_formula(equation, Notation())}   trains: " \
                   f"{', '.join(equation.trains)}"
            assert line in lines[head:]
    assert "Tasks:" not in lines or path.stem in {"gan", "cyclegan"}  # those declare consts


def test_pattern_heading_names_type_parameters_and_only_the_pattern_s_boxes() -> None:
    vae, gan = load(ROOT / "stdlib" / "vae.task"), load(ROOT / "stdlib" / "gan.task")
    assert pattern_heading("vae", vae.generic["vae"], vae) == \
        "vae[X, d: dim](encoder, decoder, data, prior)"
    # gan.task's constants is_real and is_fake are the file's, not parameters.
    assert pattern_heading("gan", gan.generic["gan"], gan) == \
        "gan[Z, X](generator, discriminator, data, noise; game: divergence = bce)"


def test_vae_pattern_reads_as_its_textbook_loss() -> None:
    text = explain(load(ROOT / "stdlib" / "vae.task"))
    assert "  reconstruct: E[x~data] D(decoder(sample(encoder(x))), x)   trains: encoder, decoder" \
        in text.splitlines()
    assert "  learner  encoder : X -> Gaussian[d]" in text.splitlines()


# ------------------------------------------------- the newer constructs, as textbooks write them
GAME = """
data pts : -> Real[2], Real[1]
random noise : -> Real[2] ~ normal
learner gen : Real[2] -> Real[2]
learner critic : Real[2] -> Real[1]

task real:
    x, _ <- pts
    critic(x) = 0  by wass

task fake:
    z <- noise
    critic(gen(z)) = 0  by wass  trains critic

task fool:
    z <- noise
    critic(gen(z)) = 0  by wass  trains gen

task hinge_real:
    x, _ <- pts
    critic(x) = 1  by hinge

task hinge_fake:
    z <- noise
    critic(gen(z)) = -1  by hinge  trains critic

task hinge_labelled:
    x, y <- pts
    critic(x) = y  by hinge

task shifted:
    x, y <- pts
    critic(x) = y  by wass

objective wgan = fake - real - fool
objective critic_only = - real + 2 * fake
"""


@pytest.fixture(scope="module")
def game() -> Program:
    return load_text(GAME)


def formulas(program: Program, latex: bool = False) -> dict[str, str]:
    n = Notation(latex)
    return {name: equation_formula(eq, n) for name, eq in program.tasks.items()}


def test_wass_is_the_critic_s_score_and_subtracted_terms_read_with_a_minus(game: Program) -> None:
    text = formulas(game)
    assert text["real"] == "E[x~pts] critic(x)"
    assert text["fake"] == "E[z~noise] critic(gen(z))"
    assert text["shifted"] == "E[(x, y)~pts] (critic(x) - y)"
    lines = explain(game).splitlines()
    head = lines.index("Objective wgan = fake - real - fool:")
    assert lines[head + 1:head + 4] == [
        "  loss = E[z~noise] critic(gen(z))   trains: critic",
        "       - E[x~pts] critic(x)   trains: critic",
        "       - E[z~noise] critic(gen(z))   trains: gen",
    ]
    assert objective_formula(game.objectives["critic_only"], Notation()) == \
        "critic_only = - real + 2 · fake"
    assert "+ -" not in explain(game) and "-1 ·" not in explain(game)
    latex = objective_formula(game.objectives["wgan"], Notation(latex=True))
    assert latex == "\\mathrm{wgan} = \\mathrm{fake} - \\mathrm{real} - \\mathrm{fool}"


def test_hinge_on_scores_is_max_0_1_minus_y_s(game: Program) -> None:
    text, latex = formulas(game), formulas(game, latex=True)
    assert text["hinge_real"] == "E[x~pts] max(0, 1 - critic(x))"
    assert text["hinge_fake"] == "E[z~noise] max(0, 1 + critic(gen(z)))"
    assert text["hinge_labelled"] == "E[(x, y)~pts] max(0, 1 - y · critic(x))"
    assert latex["hinge_real"] == ("\\mathbb{E}_{x \\sim \\mathrm{pts}}\\,"
                                   "\\max(0, 1 - \\mathrm{critic}(x))")


def test_hinge_on_classes_is_the_multiclass_hinge() -> None:
    program = load_text("""
data d : -> Real[4], Class[3]
learner f : Real[4] -> Class[3]
task fit:
    x, y <- d
    f(x) = y  by hinge
""")
    assert formulas(program)["fit"] == "E[(x, y)~d] Hinge(f(x), y)"


LIKELIHOODS = """
data pts : -> Real[2], Real[3]
learner locate : Real[2] -> Gaussian[3]
learner decode : Real[2] -> Binary[3]
learner student : Real[2] -> Class[4]
learner teacher : Real[2] -> Class[4]
learner enc : Real[2] -> Gaussian[3]

task gauss:
    x, y <- pts
    locate(x) = y  by nll

task bern:
    x, y <- pts
    decode(x) = y  by nll

task soft:
    x, _ <- pts
    student(x) = teacher(x)  by kl[2]  trains student

task prior:
    x, _ <- pts
    enc(x) = 0  by kl

task two:
    x, y <- pts
    student(x), locate(x) = teacher(x), y  by kl[3], nll
"""


def test_nll_reads_as_a_negative_log_likelihood_and_kl_t_as_kl_with_its_temperature() -> None:
    program = load_text(LIKELIHOODS)
    text, latex = formulas(program), formulas(program, latex=True)
    assert text["gauss"] == "E[(x, y)~pts] -log N(y; locate(x))"
    assert text["bern"] == "E[(x, y)~pts] -log Bern(y; decode(x))"
    assert text["soft"] == "E[x~pts] KL_2(student(x), teacher(x))"
    assert text["prior"] == "E[x~pts] KL(enc(x), N(0, I))"
    # One divergence per output wire, a negative log-likelihood subtracted rather than added.
    assert text["two"] == "E[(x, y)~pts] [KL_3(student(x), teacher(x)) - log N(y; locate(x))]"
    assert latex["gauss"].endswith("\\,-\\log \\mathcal{N}(y;\\, \\mathrm{locate}(x))")
    assert latex["bern"].endswith("\\,-\\log \\mathrm{Bern}(y;\\, \\mathrm{decode}(x))")
    assert latex["soft"].endswith("\\,\\mathrm{KL}_{2}(\\mathrm{student}(x), \\mathrm{teacher}(x))")
    assert latex["prior"].endswith("\\mathrm{KL}(\\mathrm{enc}(x), \\mathcal{N}(0, I))")


def test_numbers_read_as_numbers_and_stop_as_sg() -> None:
    program = load_text("""
const is_real : -> Real[1] = 1
data d : -> Real[4], Class[3]
learner f : Real[4] -> Real[1]
learner g : Real[4] -> Class[3]
learner h : Real[4] -> Real[4]
task one:
    x, _ <- d
    f(x) = 1
task two:
    x, _ <- d
    g(x) = 2
task named:
    x, _ <- d
    f(x) = is_real
task still:
    x, _ <- d
    h(x) = stop(h(x))  by l1
task pair:
    x, c <- d
    f(x), g(x) = 0.5, c  by l1, ce
""")
    text, latex = formulas(program), formulas(program, latex=True)
    assert text["one"] == "E[x~d] MSE(f(x), 1)"
    assert text["two"] == "E[x~d] CE(g(x), 2)"
    assert text["named"] == "E[x~d] MSE(f(x), is_real)"
    assert text["still"] == "E[x~d] L1(h(x), sg(h(x)))"
    assert text["pair"] == "E[(x, c)~d] [L1(f(x), 0.5) + CE(g(x), c)]"
    assert latex["still"].endswith("\\mathrm{L1}(\\mathrm{h}(x), \\mathrm{sg}(\\mathrm{h}(x)))")
    assert ":" not in "".join(text.values())


def test_reductions_and_class_builtins_read_as_calls() -> None:
    program = load_text("""
data d : -> Real[4]
learner f : Real[4] -> Real[4]
learner g : Real[4] -> Class[4]
task sizes:
    x <- d
    norm(f(x)) = sum(x)
task angle:
    x <- d
    cosine(f(x), x) = dot(f(x), x)
task classes:
    x <- d
    g(x) = softmax(stop(f(x)))
""")
    text = formulas(program)
    assert text["sizes"] == "E[x~d] MSE(norm(f(x)), sum(x))"
    assert text["angle"] == "E[x~d] MSE(cosine(f(x), x), dot(f(x), x))"
    assert text["classes"] == "E[x~d] CE(g(x), softmax(sg(f(x))))"


weights = st.lists(
    st.one_of(st.integers(-9, 9).filter(bool), st.sampled_from([-2.5, -0.5, 0.25, 1.5])),
    min_size=1, max_size=6)


@given(weights)
@settings(max_examples=60, deadline=None)
def test_every_signed_objective_prints_signs_matching_its_weights(ws: list[float]) -> None:
    """Whatever the weights, each term's printed sign and size are its weight's, in the
    objective's formula and in its loss lines."""
    game = load_game()
    objective = Objective("o", tuple(Term(float(w), game.tasks["real"]) for w in ws))
    expected = [("-" if w < 0 else "+", abs(w)) for w in ws]
    formula = objective_formula(objective, Notation()).removeprefix("o = ")
    assert "+ -" not in formula and "- -" not in formula
    assert signed_terms(formula, "real") == expected
    lines = explain(replace(game, objectives={"o": objective})).splitlines()
    loss = lines[lines.index(f"Objective o = {formula}:") + 1:][:len(ws)]
    assert [signed_terms(line.removeprefix("  loss ="), r"E\[")[0] for line in loss] == expected


def signed_terms(text: str, term: str) -> list[tuple[str, float]]:
    """Each ``[+-] [size ·] term`` in ``text``: its sign (``+`` where none) and size."""
    found = re.findall(r"(?:^|\s)(?:([+-]) )?(?:([\d.]+) · )?" + term, text)
    return [(sign or "+", float(size or 1)) for sign, size in found]


_GAME: list[Program] = []


def load_game() -> Program:
    """The game program, loaded once (a Hypothesis test cannot take a fixture)."""
    if not _GAME:
        _GAME.append(load_text(GAME))
    return _GAME[0]


# ----------------------------------------------------- patterns with value parameters
VALUED = """
pattern dae[n: dim](enc, dec, data; sigma: number, keep: number = 0.9, fit: divergence = l1):
    enc : Real[n] -> Real[2]
    dec : Real[2] -> Real[n]
    data : -> Real[n]

    task denoise:
        x <- data
        dec(enc(scale[sigma](x))) = x  by fit

    task both:
        x <- data
        dec(enc(drop[keep](x))), enc(x) = x, enc(drop[0.1](x))  by fit, mse
"""


def test_a_pattern_heading_shows_its_value_parameters_and_its_tasks_name_them() -> None:
    program = load_text(VALUED)
    heading = pattern_heading("dae", program.generic["dae"], program)
    assert heading == ("dae[n: dim](enc, dec, data; sigma: number, keep: number = 0.9, "
                       "fit: divergence = l1)")
    lines = explain(program).splitlines()
    assert "  denoise: E[x~data] D_fit(dec(enc(scale[sigma](x))), x)   trains: enc, dec" in lines
    assert ("  both: E[x~data] [D_fit(dec(enc(drop[keep](x))), x) "
            "+ MSE(enc(x), enc(drop[0.1](x)))]   trains: enc, dec") in lines
    assert "[0]" not in "\n".join(lines)  # never the placeholder a number stands for
    latex = explain(program, latex=True)
    assert "\\mathrm{D}_{\\mathrm{fit}}(" in latex


def test_cyclegan_heading_shows_its_divergence_parameters() -> None:
    program = load(ROOT / "stdlib" / "cyclegan.task")
    lines = explain(program).splitlines()
    assert ("Pattern cyclegan[A, B](to_b, to_a, disc_a, disc_b, data_a, data_b; "
            "cycle: divergence = l1, game: divergence = bce, lam: number = 10):") in lines
    assert "  cycle_a: E[a~data_a] D_cycle(to_a(to_b(a)), a)   trains: to_b, to_a" in lines
    assert "  real_a: E[a~data_a] D_game(disc_a(a), is_real)   trains: disc_a" in lines


def test_cli_explains_the_new_constructs_in_latex(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "game.task"
    path.write_text(GAME)
    assert main(["explain", "--latex", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Objective \\mathrm{wgan} = \\mathrm{fake} - \\mathrm{real} - \\mathrm{fool}:" in out
    assert "\\max(0, 1 + \\mathrm{critic}(\\mathrm{gen}(z)))" in out
