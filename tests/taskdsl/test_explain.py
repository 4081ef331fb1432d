"""`taskdsl explain`: each task as the loss formula it lowers to, in text and LaTeX."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from taskdsl import check_text, load
from taskdsl.cli import main
from taskdsl.explain import (
    Notation,
    equation_formula,
    explain,
    objective_formula,
    pattern_heading,
)

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
        "gan[Z, X](generator, discriminator, data, noise)"


def test_vae_pattern_reads_as_its_textbook_loss() -> None:
    text = explain(load(ROOT / "stdlib" / "vae.task"))
    assert "  reconstruct: E[x~data] D(decoder(sample(encoder(x))), x)   trains: encoder, decoder" \
        in text.splitlines()
    assert "  learner  encoder : X -> Gaussian[d]" in text.splitlines()
