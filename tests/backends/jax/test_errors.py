"""One coded error type for the JAX backend: every error has a code, an exit code and
templated words; one ``suggest``/``listed``; one guard that prints them for every command."""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import string
from pathlib import Path
from types import ModuleType

import pytest

from taskdsl.backends.jax import messages
from taskdsl.backends.jax.commands import compile as compile_cli
from taskdsl.backends.jax.commands import evaluate as eval_cli
from taskdsl.backends.jax.commands import train as train_cli
from taskdsl.backends.jax.commands.guard import guarded
from taskdsl.backends.jax.errors import BackendError
from taskdsl.backends.jax.evaluation import errors as eval_errors
from taskdsl.backends.jax.lowering import errors as lower_errors
from taskdsl.backends.jax.lowering import values
from taskdsl.backends.jax.messages import ERRORS, NOTES, PHRASES, TEMPLATES, Problem
from taskdsl.backends.jax.nets import NetError
from taskdsl.backends.jax.training import errors as train_errors
from taskdsl.ir import Call
from taskdsl.source import Span
from taskdsl.types import Signature, WireType

ROOT = Path(__file__).resolve().parents[3]
REAL, CLASS = WireType("Real", (4,)), WireType("Class", (3,))
CONSTRUCTOR_MODULES = (lower_errors, train_errors, eval_errors, values)
# Codes no constructor builds: the kinds' fallbacks for words given without a code, and the
# guard's own (an OSError, a DataError without a problem).
FALLBACKS = {"backend-failed", "lower-failed", "train-failed", "eval-failed", "net-failed",
             "output-unwritable", "data-load"}


def sample(name: str, annotation: str) -> object:
    """A value of the annotated type for a constructor's parameter."""
    if "Signature" in annotation:
        return Signature((REAL,), (CLASS,))
    if "WireType" in annotation:
        return CLASS
    if "Call" in annotation:
        return Call("nets.mlp", (8,))
    if "Path" in annotation:
        return Path("runs/sample")
    if "Iterable" in annotation or "Sequence" in annotation:
        return ["classify", "sample", "other"]
    if "tuple[int" in annotation:
        return (2, 3)
    if annotation.startswith("int"):
        return 7
    if annotation.startswith("float"):
        return 0.25
    return "classifi" if name in {"name", "learner"} else f"<{name}>"


def constructors() -> list[tuple[str, object]]:
    """Every error constructor of the backend, called with sample arguments."""
    found = []
    for module in CONSTRUCTOR_MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            annotation = inspect.signature(function).return_annotation
            if "Error" not in str(annotation):
                continue  # a note (str) or a value helper
            parameters = inspect.signature(function).parameters.values()
            arguments = [sample(p.name, str(p.annotation)) for p in parameters
                         if p.default is inspect.Parameter.empty]
            found.append((f"{module.__name__.rpartition('.')[2]}.{name}", function(*arguments)))
    return found


CONSTRUCTED = constructors()


def literal_parts(template: str) -> list[str]:
    """The words of a template between its ``{fields}``."""
    return [text for text, _, _, _ in string.Formatter().parse(template) if text.strip()]


@pytest.mark.parametrize(("name", "error"), CONSTRUCTED, ids=[n for n, _ in CONSTRUCTED])
def test_every_constructor_gives_a_coded_templated_error(name: str, error: object) -> None:
    assert isinstance(error, BackendError), name
    assert error.code in ERRORS or error.code in TEMPLATES, (name, error.code)
    template = ERRORS.get(error.code) or TEMPLATES[error.code]
    assert error.exit_code in {messages.PROGRAM, messages.USAGE, messages.DIVERGED}
    if error.code in ERRORS:
        assert error.exit_code == template.exit_code
    for words in literal_parts(template.message):
        assert words in error.message, (name, words, error.message)
    assert str(error).startswith(error.message)
    shown = error.diagnostic()
    assert (shown.code, shown.message, shown.severity) == (error.code, error.message, "error")


def test_every_run_time_template_has_a_constructor() -> None:
    built = {error.code for _, error in CONSTRUCTED}
    assert set(ERRORS) - FALLBACKS <= built, sorted(set(ERRORS) - FALLBACKS - built)


def test_run_time_codes_are_not_the_checks() -> None:
    """One code, one template: a run that meets a check's problem raises the check's code."""
    assert not set(ERRORS) & set(TEMPLATES)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", code) for code in ERRORS)


def test_every_template_fills_from_its_own_fields() -> None:
    for table in (NOTES, PHRASES):
        for key, text in table.items():
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            assert text.format(**{f: 1 for f in fields}), key
    for code, template in ERRORS.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(template.message) if f}
        error = BackendError.of(code, **{f: 1 for f in fields})
        assert error.code == code and error.exit_code == template.exit_code


def test_an_error_built_from_a_check_problem_keeps_its_code_place_and_usage() -> None:
    span = Span("--set", 1, 1, 1, 5)
    found = messages.problem("setting-unknown", key="stepz", valid="`steps`").at(span)
    error = train_errors.TrainError(Problem(**{**found.__dict__, "usage": True}))
    assert (error.code, error.span, error.exit_code) == ("setting-unknown", span, messages.USAGE)
    assert error.problem is not None and error.diagnostic().help is None
    net = NetError(messages.problem("net-option", net="cnn", option="w", valid="`width`",
                                    suggestion=None))
    assert (net.code, net.exit_code) == ("net-option", messages.PROGRAM)
    assert isinstance(net, ValueError)


def test_a_wrapped_error_keeps_its_code() -> None:
    lowered = lower_errors.fixed_needs_load("judge", Signature((REAL,), (CLASS,)))
    wrapped = train_errors.TrainError.carrying(lowered)
    assert isinstance(wrapped, train_errors.TrainError)
    assert (wrapped.code, str(wrapped), wrapped.exit_code) == (
        "fixed-needs-load", str(lowered), lowered.exit_code)


def test_unknown_codes_are_refused() -> None:
    with pytest.raises(KeyError, match="no-such-code"):
        BackendError.of("no-such-code")


# ------------------------------------------------------------------ docs/errors.md


def test_the_docs_list_every_run_time_code_with_its_exit_code() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    section = text[text.index("## The JAX backend's run-time errors"):]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| .* \| (\d+) \|$", section, re.MULTILINE))
    assert {code: int(exit_code) for code, exit_code in rows.items()} == {
        code: template.exit_code for code, template in ERRORS.items()}


# ------------------------------------------------------------------ one suggest, one listed

BANNED = {"_listed", "listed", "_did_you_mean", "suggest", "edit_distance", "_edit_distance"}


def test_no_backend_module_words_its_own_suggestions_or_lists() -> None:
    """``taskdsl.suggest`` is the one ``suggest``/``listed``; the backend imports them."""
    offenders = []
    for path in sorted((ROOT / "backends").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in BANNED:
                offenders.append(f"{path.relative_to(ROOT)}: def {node.name}")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if "difflib" in names:
                    offenders.append(f"{path.relative_to(ROOT)}: imports difflib")
    assert offenders == []


def test_the_shared_helpers() -> None:
    from taskdsl import scope, suggest

    assert scope.suggest is suggest.suggest
    assert suggest.suggest("stpes", ["steps", "batch"]) == "did you mean `steps`?"
    assert suggest.suggest("zzz", ["steps"]) is None
    assert suggest.listed(["b", "a"]) == "`b`, `a`"
    assert suggest.listed(["b", "a"], sort=True) == "`a`, `b`"
    assert suggest.listed([]) == "none"
    assert messages.suggestion("stpes", ["steps"]) == "did you mean `steps`?; "


# ------------------------------------------------------------------ the guard


def test_the_guard_prints_a_backend_error_as_a_diagnostic(capsys: pytest.CaptureFixture) -> None:
    def body() -> int:
        raise train_errors.run_dir_is_file(Path("out"))

    assert guarded(body) == messages.USAGE
    err = capsys.readouterr().err
    assert err.startswith("error[run-dir-is-file]: out is a file, not a run folder")


def test_the_guard_handles_data_errors_writes_and_ctrl_c(capsys: pytest.CaptureFixture) -> None:
    from taskdsl.backends.jax.data import DataError

    def raising(error: BaseException) -> int:
        raise error

    assert guarded(lambda: raising(DataError("x.npz is corrupt"))) == messages.PROGRAM
    assert "error[data-load]: x.npz is corrupt" in capsys.readouterr().err
    found = messages.problem("data-unknown", name="datasets.mnst", known="`datasets.mnist`")
    assert guarded(lambda: raising(DataError(found))) == messages.PROGRAM
    assert "error[data-unknown]: unknown data set `datasets.mnst`" in capsys.readouterr().err
    denied = PermissionError(13, "Permission denied", "out.py")
    assert guarded(lambda: raising(denied)) == messages.PROGRAM
    assert ("error[output-unwritable]: cannot write out.py: Permission denied"
            in capsys.readouterr().err)
    assert guarded(lambda: raising(KeyboardInterrupt()), interrupted="stopped") == 130
    assert capsys.readouterr().err == "stopped\n"
    with pytest.raises(ZeroDivisionError):  # a bug is not a message
        guarded(lambda: 1 // 0)


# ------------------------------------------------------------------ the commands

SPRITES = """
type Img = Real[8, 8, 3]
type Shape = Class[4]
data sprites : -> Img, Shape
learner get : Img -> Shape
fixed judge : Img -> Shape

task classify:
    x, s <- sprites
    get(x) = s                  trains get

task judged:
    x, _ <- sprites
    judge(x) = get(x)           trains get

train classify:
    data sprites = datasets.sprites(n = 64, size = 8)
    batch 16
    steps 2
"""


def run(module: ModuleType, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "sprites.task"
    path.write_text(SPRITES, encoding="utf-8")
    return path


def test_a_lowering_error_is_a_coded_message(task_file: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    assert run(compile_cli, "compile", str(task_file), "--objective", "judged") == messages.PROGRAM
    err = capsys.readouterr().err
    assert err.startswith("error[fixed-needs-load]: fixed box `judge`")
    assert "Traceback" not in err
    assert run(compile_cli, "compile", str(task_file), "--objective", "clasify") == messages.USAGE
    err = capsys.readouterr().err
    assert err.startswith("error[objective-unknown]: no objective or task called `clasify` "
                          "(did you mean `classify`?)")


def test_a_training_error_is_a_coded_message(task_file: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    (task_file.parent / "taken").write_text("not a folder")
    code = run(train_cli, "train", str(task_file), "--objective", "classify", "--out",
               str(task_file.parent / "taken"), "--quiet")
    err = capsys.readouterr().err
    assert code == messages.USAGE, err
    assert "error[run-dir-is-file]: " in err and "Traceback" not in err


def test_an_eval_error_is_a_coded_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(eval_cli, "eval", str(tmp_path / "nowhere")) == messages.PROGRAM
    err = capsys.readouterr().err
    assert err.startswith(f"error[run-missing]: no run folder {tmp_path / 'nowhere'}")
    assert "Traceback" not in err
