"""The shipped .task files and the language reference's programs all check clean.

- every ``stdlib/*.task`` and ``examples/*.task`` checks without errors;
- every ```task block of ``docs/language.md`` whose first line is ``# complete``
  checks without errors, so the reference cannot drift from the checker;
- ``taskdsl explain`` on the GAN example routes the generator loss to the
  generator alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from taskdsl import check_file, check_text
from taskdsl.cli import main

ROOT = Path(__file__).resolve().parents[2]
STDLIB = sorted((ROOT / "stdlib").glob("*.task"))
EXAMPLES = sorted((ROOT / "examples").glob("*.task"))
LANGUAGE = ROOT / "docs" / "language.md"

# What the project promises to ship; a file going missing fails here rather than
# silently shrinking the parametrized tests below.
STDLIB_NAMES = {
    "autoencoder", "classification", "cvae", "cyclegan", "gan", "lens", "manipulation",
    "regression", "vae",
}
EXAMPLE_NAMES = {
    "digits_gan", "mnist_autoencoder", "mnist_classifier", "mnist_classifier_robust",
    "mnist_cvae", "mnist_manipulator",
    "mnist_cgan", "mnist_manipulator_frozen", "mnist_manipulator_latent",
    "mnist_manipulator_prior", "mnist_manipulator_realism", "mnist_vae",
    "sentiment_manipulator", "sprites_cyclegan", "sprites_lens", "sprites_manipulator",
    "sprites_manipulator_prior", "sprites_regression",
}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _errors(result) -> list:
    return [d for d in result.diagnostics if d.severity == "error"]


def test_the_promised_files_exist():
    assert not STDLIB_NAMES - {p.stem for p in STDLIB}
    assert not EXAMPLE_NAMES - {p.stem for p in EXAMPLES}


@pytest.mark.parametrize("path", STDLIB + EXAMPLES, ids=_rel)
def test_file_checks_clean(path: Path):
    result = check_file(path)
    assert not _errors(result), result.render()
    assert result.ok


@pytest.mark.parametrize("path", STDLIB + EXAMPLES, ids=_rel)
def test_file_starts_with_a_comment(path: Path):
    first = path.read_text(encoding="utf-8").lstrip().splitlines()[0]
    assert first.startswith("#"), f"{_rel(path)} should open with a comment saying what it is"


@pytest.mark.parametrize("path", STDLIB, ids=_rel)
def test_stdlib_file_defines_its_pattern(path: Path):
    assert re.search(rf"^pattern {re.escape(path.stem)}\b", path.read_text(), re.MULTILINE)


@pytest.mark.parametrize("path", EXAMPLES, ids=_rel)
def test_example_says_how_to_train_it(path: Path):
    result = check_file(path)
    program = result.program
    assert program.trainings, f"{_rel(path)} has no `train` block"
    learners = {n for n, d in program.declarations.items() if d.kind.value == "learner"}
    refined = set(program.refinements)
    assert set(program.impls) <= learners
    for name, spec in program.trainings.items():
        assert name in program.objectives or name in program.tasks
        assert spec.data, f"`train {name}` binds no data set"
        trained = _learners_of(program, name)
        missing = trained - set(program.impls) - refined
        assert not missing, f"`train {name}` trains {sorted(missing)} without an `impl`"


def _learners_of(program, name: str) -> set[str]:
    if name in program.tasks:
        equations = [program.tasks[name]]
    else:
        equations = [t.equation for t in program.objectives[name].terms]
    found: set[str] = set()
    for eq in equations:
        found |= set(eq.lhs.learners()) | set(eq.rhs.learners())
    return found


def test_train_blocks_configure_what_train_runs_by_default():
    """`taskdsl train FILE` trains the file's last objective; its `train` block must be that one."""
    for path in EXAMPLES:
        program = check_file(path).program
        assert program.objective(None).name in program.trainings, _rel(path)


def test_a_broken_example_is_caught():
    """The checks above can fail: one wrong wire in a good file is an error."""
    good = (ROOT / "examples" / "mnist_manipulator.task").read_text()
    bad = good.replace("get(put(x, a)) = a", "get(put(x, a)) = x")
    assert bad != good
    result = check_text(bad, "mnist_manipulator_broken.task")
    assert not result.ok
    assert any(d.code == "side-types" for d in result.diagnostics)


# ------------------------------------------------------------------ the docs
FENCE = re.compile(r"^```task[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _doc_blocks() -> list[tuple[int, str]]:
    text = LANGUAGE.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in FENCE.finditer(text)]


def _complete_blocks() -> list[tuple[int, str]]:
    return [(line, body) for line, body in _doc_blocks()
            if body.lstrip().startswith("# complete")]


def test_the_reference_has_complete_programs():
    assert len(_doc_blocks()) >= 20
    assert len(_complete_blocks()) >= 15


@pytest.mark.parametrize(("line", "body"), _complete_blocks(),
                         ids=[f"language.md:{line}" for line, _ in _complete_blocks()])
def test_doc_program_checks_clean(line: int, body: str):
    """Clean means no lint either: the reference shows programs as they should be written."""
    result = check_text(body, str(LANGUAGE.parent / f"language.md:{line}"))
    assert not result.diagnostics, f"docs/language.md, block at line {line}:\n{result.render()}"


ERROR_HEADER = re.compile(r"#\s*error\[([a-z-]+)\]")


ERROR_AND_OUTPUT = re.compile(
    r"^```task[ \t]*\n(#\s*error\[[a-z-]+\]\n.*?)^```[ \t]*\n\s*^```text\n(.*?)^```",
    re.MULTILINE | re.DOTALL,
)


def _error_blocks() -> list[tuple[int, str, str]]:
    found = []
    for line, body in _doc_blocks():
        match = ERROR_HEADER.match(body.lstrip())
        if match:
            found.append((line, match.group(1), body))
    return found


def test_doc_error_messages_are_the_checkers():
    """The message shown under each error example is the one the checker prints."""
    pairs = ERROR_AND_OUTPUT.findall(LANGUAGE.read_text(encoding="utf-8"))
    assert len(pairs) == len(_error_blocks())
    for body, shown in pairs:
        result = check_text(body)
        first = _errors(result)[0].render(result.sources)
        assert shown.splitlines()[0] == first.splitlines()[0]


def test_the_reference_shows_errors():
    assert len(_error_blocks()) >= 5


@pytest.mark.parametrize(("line", "code", "body"), _error_blocks(),
                         ids=[f"language.md:{line}" for line, _, _ in _error_blocks()])
def test_doc_error_example_fails_as_shown(line: int, code: str, body: str):
    result = check_text(body, str(LANGUAGE.parent / f"language.md:{line}"))
    codes = {d.code for d in _errors(result)}
    assert codes == {code}, f"docs/language.md, block at line {line}: expected only " \
                            f"error[{code}], found:\n{result.render()}"


# ------------------------------------------------------------- gradient routing
def _explain(path: Path, capsys) -> list[str]:
    assert main(["explain", str(path)]) == 0
    return [line.strip() for line in capsys.readouterr().out.splitlines()]


def _task_line(lines: list[str], task: str) -> str:
    found = [line for line in lines if line.startswith(f"{task}:")]
    assert len(found) == 1, f"expected one `{task}:` line in:\n" + "\n".join(lines)
    return found[0]


def test_gan_generator_loss_trains_the_generator_only(capsys):
    lines = _explain(ROOT / "examples" / "digits_gan.task", capsys)
    fool = _task_line(lines, "fool")
    assert fool.endswith("trains: gen"), fool
    assert "disc(gen(z))" in fool
    for task in ("real", "fake"):
        assert _task_line(lines, task).endswith("trains: disc")


def test_manipulation_trains_the_editor_through_the_refinement(capsys):
    lines = _explain(ROOT / "examples" / "mnist_manipulator_latent.task", capsys)
    put_get = _task_line(lines, "put_get")
    assert "get(dec(add(enc(x), shift(a))))" in put_get
    assert put_get.endswith("trains: enc, shift, dec")
    assert _task_line(lines, "classify").endswith("trains: get")
