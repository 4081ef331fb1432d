"""Backends through the front end: discovery, the checks ``taskdsl check`` asks of them.

Most tests use a fake backend (discovery monkeypatched, or the backends passed
in), so they say what the front end does with any backend; the last ones check
that the real JAX backend is registered and, once it has checks, that they run.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskdsl import backend, messages
from taskdsl.backend import Backend, Unloadable, installed, run_checks
from taskdsl.cli import build_parser, main
from taskdsl.diagnostics import Diagnostic, position
from taskdsl.ir import Program
from taskdsl.loader import check_text, load
from taskdsl.source import SET_FILE, Span

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "mnist_manipulator.task"

CLEAN = """type V = Real[4]
learner f : V -> V
data points : -> V, V
task fit:
    x, y <- points
    f(x) = y
impl f = nets.mlp(width = 8)
train fit:
    data points = datasets.toy()
    steps 10
"""
BROKEN = CLEAN.replace("f(x) = y", "g(x) = y")
NO_BACKEND_NOTE = messages.UNCHECKED.format(reason=messages.NO_BACKEND)


@dataclass
class Fake:
    """A backend that reports one error at the ``impl`` line and records what it saw."""

    name: str = "fake"
    commands: tuple[str, ...] = ()
    reason: str | None = None
    seen: list[tuple[Program, tuple[str, ...]]] = field(default_factory=list)

    def missing(self) -> str | None:
        return self.reason

    def check(self, program: Program, overrides: Sequence[str] = ()) -> list[Diagnostic]:
        self.seen.append((program, tuple(overrides)))
        span = program.impl_spans["f"]
        return [Diagnostic("fake-impl", "no such net", span, help="try nets.cnn")]


class Crashing(Fake):
    def check(self, program: Program, overrides: Sequence[str] = ()) -> list[Diagnostic]:
        raise RuntimeError("boom")


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> list[Backend]:
    """The backends discovery finds: this list, filled in by each test."""
    found: list[Backend] = []
    monkeypatch.setattr(backend, "installed", lambda: found)
    return found


# ---------------------------------------------------------------- protocol
def test_fakes_and_the_jax_backend_follow_the_protocol() -> None:
    assert isinstance(Fake(), Backend)
    assert isinstance(Unloadable("x", "gone"), Backend)
    assert not isinstance(object(), Backend)


def test_backend_findings_merge_with_the_front_ends_in_position_order() -> None:
    fake = Fake()
    text = CLEAN.replace("learner f : V -> V", "learner f : V -> V\nlearner unused : V -> V")
    text = text.replace("f(x) = y", "f(x) = y\n    let _ = unused(x)")
    result = check_text(text, "t.task", backends=[fake], overrides=["steps=5"])
    assert [d.code for d in result.diagnostics] == ["discarded-learner", "fake-impl"]
    assert result.diagnostics == sorted(result.diagnostics, key=position)
    assert not result.ok  # the backend's error counts like the front end's
    assert fake.seen[0][1] == ("steps=5",)
    assert result.unchecked == []
    rendered = result.render()
    assert "t.task:9:1: error[fake-impl]: no such net" in rendered
    assert " 9 | impl f = nets.mlp(width = 8)" in rendered  # quoted like any diagnostic
    assert "help: try nets.cnn" in rendered


class AboutOverrides(Fake):
    """Reports one problem in the second ``--set`` override and one in the file."""

    def check(self, program: Program, overrides: Sequence[str] = ()) -> list[Diagnostic]:
        return [Diagnostic("fake-set", "not a number", Span(SET_FILE, 2, 7, 2, 10)),
                Diagnostic("fake-impl", "no such net", program.impl_spans["f"])]


def test_findings_about_overrides_come_last_and_quote_the_override() -> None:
    result = check_text(CLEAN, "t.task", backends=[AboutOverrides()],
                        overrides=["seed=1", "steps=ten"])
    assert [d.code for d in result.diagnostics] == ["fake-impl", "fake-set"]
    rendered = result.render()
    assert "--set:2:7: error[fake-set]: not a number" in rendered
    assert " 2 | steps=ten\n   |       ^^^" in rendered
    assert check_text(CLEAN, "t.task", backends=[AboutOverrides()]).sources.keys() == {"t.task"}


def test_a_program_with_front_end_errors_is_not_sent_to_the_backends() -> None:
    fake = Fake()
    result = check_text(BROKEN, "t.task", backends=[fake])
    assert fake.seen == []
    assert [d.code for d in result.diagnostics] == ["undefined"]
    assert result.unchecked == []  # the errors come first; nothing to say about backends


def test_backends_are_asked_only_when_asked() -> None:
    fake = Fake()
    assert check_text(CLEAN, "t.task").unchecked == []
    assert check_text(CLEAN, "t.task", backends=False).diagnostics == []
    assert fake.seen == []


def test_without_backends_a_note_says_what_was_not_checked() -> None:
    result = check_text(CLEAN, "t.task", backends=[])
    assert result.ok
    assert result.unchecked == [NO_BACKEND_NOTE]
    assert NO_BACKEND_NOTE.startswith("impl lines, data bindings and train settings were not checked")


def test_a_backend_that_cannot_run_says_why() -> None:
    fake = Fake(reason="jax is not installed")
    result = check_text(CLEAN, "t.task", backends=[fake])
    assert fake.seen == []
    assert result.unchecked == [messages.UNCHECKED.format(
        reason="the `fake` backend cannot run here: jax is not installed")]


def test_one_runnable_backend_is_enough() -> None:
    result = check_text(CLEAN, "t.task", backends=[Fake(reason="no"), Fake(name="other")])
    assert result.unchecked == []
    assert [d.code for d in result.diagnostics] == ["fake-impl"]


def test_a_crashing_backend_is_a_diagnostic_and_hides_no_other() -> None:
    result = check_text(CLEAN, "t.task", backends=[Crashing(name="bad"), Fake()])
    assert sorted(d.code for d in result.diagnostics) == ["backend-crash", "fake-impl"]
    crash = next(d for d in result.diagnostics if d.code == "backend-crash")
    assert crash.message == "the `bad` backend's check failed: RuntimeError: boom"
    assert crash.severity == "error"


def test_load_raises_with_the_backends_errors() -> None:
    from taskdsl.diagnostics import TaskError

    with pytest.raises(TaskError) as raised:
        load(EXAMPLE, backends=[_AtFirstImpl()])
    assert [d.code for d in raised.value.diagnostics] == ["fake-impl"]
    assert load(EXAMPLE, backends=[]).objectives  # a note is no error


class _AtFirstImpl(Fake):
    def check(self, program: Program, overrides: Sequence[str] = ()) -> list[Diagnostic]:
        span = next(iter(program.impl_spans.values()))
        return [Diagnostic("fake-impl", "no such net", span)]


@given(st.lists(st.tuples(st.integers(1, 9), st.integers(1, 40)), max_size=12))
def test_merged_findings_are_all_kept_and_sorted(places: list[tuple[int, int]]) -> None:
    found = [Diagnostic("fake", f"at {line}:{column}", Span("t.task", line, column, line, column + 1))
             for line, column in places]

    @dataclass
    class Reporter(Fake):
        def check(self, program: Program, overrides: Sequence[str] = ()) -> list[Diagnostic]:
            return list(reversed(found))

    result = check_text(CLEAN, "t.task", backends=[Reporter()])
    assert sorted(result.diagnostics, key=repr) == sorted(found, key=repr)
    keys = [position(d) for d in result.diagnostics]
    assert keys == sorted(keys)


# --------------------------------------------------------------- discovery
def test_the_jax_backend_is_registered_by_entry_point() -> None:
    names = {b.name: b for b in installed()}
    assert "jax" in names, "reinstall: pip install -e . (the entry point is in pyproject.toml)"
    jax = names["jax"]
    assert jax.commands == ("taskdsl.backends.jax.commands.train",
                            "taskdsl.backends.jax.commands.compile",
                            "taskdsl.backends.jax.commands.evaluate",
                            "taskdsl.backends.jax.commands.data",
                            "taskdsl.backends.jax.commands.report",
                            "taskdsl.backends.jax.commands.predict")


def test_the_jax_backend_says_when_jax_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import taskdsl.backends.jax as jax

    real = importlib.util.find_spec
    monkeypatch.setattr(jax, "find_spec",
                        lambda name, *a: None if name in ("jax", "optax") else real(name, *a))
    assert jax.BACKEND.missing() == "jax, optax are not installed (pip install 'taskdsl[jax]')"


def test_a_broken_entry_point_is_unloadable_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [EntryPoint("gone", "no_such_module_anywhere:BACKEND", backend.GROUP),
              EntryPoint("odd", "builtins:len", backend.GROUP)]
    monkeypatch.setattr(backend, "entry_points", lambda group: points if group == backend.GROUP else [])
    found = installed()
    assert [b.name for b in found] == ["gone", "odd"]
    assert all(isinstance(b, Unloadable) for b in found)
    assert "ModuleNotFoundError" in found[0].missing()
    assert found[1].missing() == messages.BACKEND_BROKEN.format(
        name="odd", error="builtins:len is not a taskdsl backend")
    report = run_checks(check_text(CLEAN).program)
    assert report.unchecked == [messages.UNCHECKED.format(reason=b.missing()) for b in found]


# --------------------------------------------------------------- the CLI
def test_check_command_reports_backend_findings(fakes: list[Backend], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.task").write_text(CLEAN)
    fake = Fake()
    fakes.append(fake)
    assert main(["check", "t.task", "--set", "steps=3"]) == 1
    err = capsys.readouterr().err
    assert "t.task:7:1: error[fake-impl]: no such net" in err
    assert "1 of 1 file(s) have errors" in err
    assert "note:" not in err
    assert fake.seen[0][1] == ("steps=3",)


def test_check_command_notes_skipped_checks_once(fakes: list[Backend], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.task").write_text(CLEAN)
    (tmp_path / "b.task").write_text(CLEAN)
    assert main(["check", "a.task", "b.task"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["a.task: ok", "b.task: ok"]
    assert err.splitlines() == [f"note: {NO_BACKEND_NOTE}"]


def test_backend_commands_join_the_cli(fakes: list[Backend], monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    command = types.ModuleType("fake_backend_command")

    def register(subparsers) -> None:
        parser = subparsers.add_parser("frob", help="a fake backend's command")
        parser.set_defaults(handler=lambda args: 7)

    command.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_backend_command", command)
    fakes.append(Fake(commands=("fake_backend_command", "fake_backend_not_installed")))
    assert "frob" in build_parser().format_help()
    assert main(["frob"]) == 7
    fakes.clear()
    with pytest.raises(SystemExit):
        main(["frob"])
    assert "invalid choice: 'frob'" in capsys.readouterr().err


# ------------------------------------------------------ the real backend
def _jax_checks() -> Backend:
    """The JAX backend, skipping the test until it has checks of its own and can run."""
    if importlib.util.find_spec("taskdsl.backends.jax.check") is None:
        pytest.skip("the JAX backend has no checks yet (backends/jax/check.py)")
    jax = next(b for b in installed() if b.name == "jax")
    if jax.missing():
        pytest.skip(jax.missing())
    return jax


def test_the_jax_backends_checks_run_on_the_examples() -> None:
    jax = _jax_checks()
    for path in sorted((ROOT / "examples").glob("*.task")):
        result = check_text(path.read_text(), str(path), backends=[jax])
        assert result.unchecked == []
        assert not [d for d in result.diagnostics if d.code == "backend-crash"], result.render()


def test_the_jax_backend_locates_an_unknown_net() -> None:
    jax = _jax_checks()
    text = CLEAN.replace("nets.mlp(width = 8)", "nets.no_such_net()")
    result = check_text(text, "t.task", backends=[jax])
    assert not result.ok
    assert any(d.span is not None and d.span.line == 7 for d in result.diagnostics), result.render()
