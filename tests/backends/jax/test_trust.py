"""``trust``: which modules an ``impl`` line may make taskdsl import (issue #17, part 2)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskdsl.backends.jax import trust
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.evaluation.errors import EvalError
from taskdsl.backends.jax.nets import registry
from taskdsl.backends.jax.nets.errors import NetError
from taskdsl.backends.jax.training import runs
from taskdsl.cli import main
from taskdsl.commands.check import ALLOW_IMPORT_ENV
from taskdsl.ir import Call, Name
from taskdsl.loader import check_text
from taskdsl.types import WireType

REAL = WireType("Real", (4,))

# Importing this module leaves a file behind: the proof that its code ran.
PLANTED = '''
from pathlib import Path
Path({marker!r}).write_text("imported")

from flax import nnx


class Net(nnx.Module):
    def __init__(self, inputs, outputs, *, rngs):
        pass

    def __call__(self, x):
        return (x,)
'''


def plant(folder: Path, package: str) -> Path:
    """A package ``package`` in ``folder`` whose import writes ``folder/<package>.ran``."""
    marker = folder / f"{package}.ran"
    (folder / package).mkdir(parents=True)
    (folder / package / "__init__.py").write_text("")
    (folder / package / "models.py").write_text(PLANTED.format(marker=str(marker)))
    return marker


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No module allowed, no config file, no entry points: only taskdsl is trusted."""
    monkeypatch.delenv(trust.ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(trust, "net_entry_points", dict)
    return tmp_path


NAME = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


@given(root=NAME, module=st.lists(NAME, min_size=1, max_size=3).map(".".join))
def test_a_root_permits_itself_and_its_submodules_only(root: str, module: str) -> None:
    policy = trust.Policy(allowed=(root,))
    inside = module == root or module.startswith(root + ".") or module == "taskdsl" \
        or module.startswith("taskdsl.")
    assert policy.permits(module) == inside
    assert policy.permits(f"{root}.sub") and not policy.permits(f"{root}x.sub")


def test_the_policy_gathers_the_flag_the_environment_and_the_config_file(
        clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(trust.ENV, "fromenv, other")
    config = trust.config_file()
    config.parent.mkdir(parents=True)
    config.write_text('allow_import = ["fromconfig"]\n', encoding="utf-8")
    monkeypatch.setattr(trust, "net_entry_points", lambda: {"fancy": "declared.nets:Fancy"})
    policy = trust.current(["fromflag"])
    assert policy.allowed == ("fromflag", "fromenv", "other", "fromconfig")
    assert policy.permits("declared.nets") and not policy.permits("declared")
    assert not policy.permits("torch")


@pytest.mark.parametrize("text", ['allow_import = "pkg"\n', "allow_import = [\n", "\xff"])
def test_a_broken_config_file_allows_nothing_and_says_why(clean: Path, text: str) -> None:
    config = trust.config_file()
    config.parent.mkdir(parents=True)
    config.write_text(text, encoding="latin-1")
    policy = trust.current()
    assert policy.allowed == () and str(config) in policy.config_problem
    assert str(config) in (policy.refusal("pkg.Net").help or "")


def test_an_untrusted_module_is_refused_without_importing_it(clean: Path, monkeypatch) -> None:
    marker = plant(clean / "elsewhere", "evilnets")
    monkeypatch.syspath_prepend(str(clean / "elsewhere"))
    found = registry.problems("evilnets.models.Net", (REAL,), (REAL,), {})
    assert [p.code for p in found] == ["net-import-not-allowed"]
    assert "--allow-import evilnets" in found[0].help and trust.ENV in found[0].help
    assert not marker.exists()
    with pytest.raises(NetError) as caught:
        registry.build("evilnets.models.Net", (REAL,), (REAL,), {}, rngs=None)
    assert caught.value.code == "net-import-not-allowed" and not marker.exists()


def test_an_allowed_module_is_imported(clean: Path, monkeypatch) -> None:
    marker = plant(clean / "site", "goodnets")
    monkeypatch.syspath_prepend(str(clean / "site"))
    monkeypatch.setenv(trust.ENV, "goodnets")
    assert registry.problems("goodnets.models.Net", (REAL,), (REAL,), {}) == []
    assert marker.exists()


def test_an_allowed_name_is_never_imported_from_the_current_folder(
        clean: Path, monkeypatch) -> None:
    """A ``herenets/`` beside the task file, and `''` on sys.path (``python -m``)."""
    marker = plant(clean / "work", "herenets")
    monkeypatch.chdir(clean / "work")
    monkeypatch.syspath_prepend("")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv(trust.ENV, "herenets")
    found = registry.problems("herenets.models.Net", (REAL,), (REAL,), {})
    assert [p.code for p in found] == ["net-user-import"] and "herenets" in found[0].message
    assert not marker.exists()


def test_an_entry_point_names_a_net_and_trusts_its_module(clean: Path, monkeypatch) -> None:
    marker = plant(clean / "site", "declarednets")
    monkeypatch.syspath_prepend(str(clean / "site"))
    monkeypatch.setattr(trust, "net_entry_points",
                        lambda: {"fancy": "declarednets.models:Net"})
    assert registry.problems("nets.fancy", (REAL,), (REAL,), {}) == []
    assert marker.exists()


def program_text(net: str) -> str:
    return textwrap.dedent(f"""\
        data xs : -> Real[4]
        learner f : Real[4] -> Real[4]
        task same:
            x <- xs
            f(x) = x
        impl f = {net}
        """)


def test_taskdsl_check_reports_it_at_the_impl_line_and_the_flag_allows_it(
        clean: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    marker = plant(clean / "site", "flagnets")
    monkeypatch.syspath_prepend(str(clean / "site"))
    task = clean / "t.task"
    task.write_text(program_text("flagnets.models.Net()"), encoding="utf-8")
    monkeypatch.setenv(ALLOW_IMPORT_ENV, "")  # restored after the flag sets it
    assert trust.ENV == ALLOW_IMPORT_ENV  # the front end's flag sets what the backend reads
    assert main(["check", str(task)]) == 1
    out = capsys.readouterr()
    assert "t.task:6:" in out.out + out.err and "net-import-not-allowed" in out.out + out.err
    assert not marker.exists()
    assert main(["check", str(task), "--allow-import", "flagnets"]) == 0
    assert marker.exists()


def test_load_run_refuses_a_run_whose_nets_are_not_allowed(clean: Path, monkeypatch) -> None:
    marker = plant(clean / "site", "runnets")
    monkeypatch.syspath_prepend(str(clean / "site"))
    source = program_text("runnets.models.Net()") + "\ntrain same:\n    batch 2\n    steps 1\n"
    assert check_text(source, "r.task").ok
    run = clean / "run"
    run.mkdir()
    config = {"objective": "same", "file": "r.task", "source": source, "overrides": []}
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(EvalError) as caught:
        runs.load_run(run)
    assert caught.value.code == "net-import-not-allowed"
    assert "--allow-import runnets" in str(caught.value)
    assert not marker.exists()


def test_load_run_refuses_the_imports_a_run_records(clean: Path) -> None:
    source = program_text("nets.mlp(width = 4)") + "\ntrain same:\n    batch 2\n    steps 1\n"
    run = clean / "run"
    run.mkdir()
    config = {"objective": "same", "file": "r.task", "source": source, "overrides": [],
              "imports": ["recorded.models.Net"]}
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(EvalError) as caught:
        runs.load_run(run)
    assert caught.value.code == "net-import-not-allowed" and "recorded" in str(caught.value)


def test_imports_are_the_dotted_nets_but_the_builtin_ones_and_load() -> None:
    impls = {"a": Call("mypkg.models.Net"), "b": Call("nets.mlp"), "c": Name("other.X"),
             "d": Call("load", ("run",)), "e": Call("nets.mypkg.Y"), "f": 3}
    assert trust.imports(impls, {"mlp"}) == ["mypkg.Y", "mypkg.models.Net", "other.X"]


def test_the_check_finds_it_through_the_backend(clean: Path) -> None:
    result = check_text(program_text("nowherenets.models.Net()"), "c.task")
    found = check_program(result.program)
    assert [(d.code, d.span.line) for d in found] == [("net-import-not-allowed", 6)]
