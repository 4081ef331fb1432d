"""A user's Python loader by dotted path (issue 12): ``data pts = ownloader.data.load(n = 64)``,
imported only through the trust boundary, its fields checked at ``check`` when it can
describe itself and when a run loads them otherwise."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from taskdsl import cli
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.data import DataError, describe, load, problems
from taskdsl.loader import check_text

LOADER = '''\
import numpy as np
from pathlib import Path

Path(__file__).with_name("imported").write_text("yes")


def load(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype(np.float64)
    return {"x": x, "label": (x[:, 0] > x[:, 1]).astype(np.int64)}


def described(n=64, seed=0):
    return load(n, seed)


described.describe = lambda n=64, seed=0: {"x": ((2,), "float32"), "label": ((), "int32", 2)}


def ragged():
    return {"x": np.zeros((3, 2)), "label": np.zeros(4, int)}


def boom():
    raise RuntimeError("no such experiment")
'''
TASK = """\
type Point = Real[2]
type Label = Class[{classes}]
data pts : -> Point, Label
learner get : Point -> Label

task classify:
    x, y <- pts
    get(x) = y

train classify:
    data pts = {call}
    steps 40
    batch 16
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package ``ownloader`` on ``sys.path`` (as an installed one would be), forgotten
    after the test so each test imports it afresh."""
    root = tmp_path / "site" / "ownloader"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("", encoding="utf-8")
    (root / "data.py").write_text(LOADER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in sys.modules if m.partition(".")[0] == "ownloader"]:
        monkeypatch.delitem(sys.modules, name)
    yield root
    for name in [m for m in sys.modules if m.partition(".")[0] == "ownloader"]:
        del sys.modules[name]


@pytest.fixture
def allowed(package: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TASKDSL_ALLOW_IMPORT", "ownloader")
    return package


def test_a_loader_not_allowed_is_refused_without_importing_it(package: Path) -> None:
    found = problems("ownloader.data.load", {})
    assert [p.code for p in found] == ["data-import-not-allowed"]
    assert "--allow-import ownloader" in (found[0].help or "")
    with pytest.raises(DataError, match="does not trust"):
        load("ownloader.data.load")
    assert not (package / "imported").exists()


def test_an_allowed_loader_gives_its_arrays_as_fields(allowed: Path) -> None:
    dataset = load("ownloader.data.load", n=10)
    assert dataset.fields["x"].dtype == np.float32 and dataset.fields["x"].shape == (10, 2)
    assert dataset.fields["label"].dtype == np.int32
    assert dataset.classes["label"] == int(dataset.fields["label"].max()) + 1
    assert describe("ownloader.data.load", {}) is None  # no `describe`: known at load
    spec = describe("ownloader.data.described", {"n": 5})
    assert spec is not None and spec["x"].shape == (2,) and spec["label"].classes == 2


@pytest.mark.parametrize(("path", "options", "code"), [
    ("ownloader.data.load", {"m": 3}, "data-option"),
    ("ownloader.data.nothing", {}, "data-loader-missing"),
    ("ownloader.missing.load", {}, "data-loader-missing"),
])
def test_a_bad_path_or_option_is_a_problem(allowed: Path, path: str, options: dict,
                                          code: str) -> None:
    assert [p.code for p in problems(path, options)] == [code]


@pytest.mark.parametrize(("path", "message"), [
    ("ownloader.data.ragged", "different lengths"), ("ownloader.data.boom", "no such experiment")])
def test_a_bad_result_is_a_data_error(allowed: Path, path: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as raised:
        load(path)
    assert raised.value.code == "data-loader-result"


def checked(text: str) -> list[tuple[str, int | None]]:
    result = check_text(text, "t.task")
    assert result.ok, result.render()
    return [(d.code, d.span.line if d.span else None)
            for d in check_program(result.program, training=True)]


def test_check_compares_a_described_loader_with_the_wires(allowed: Path) -> None:
    call = "ownloader.data.described(n = 64)"
    assert checked(TASK.format(classes=2, call=call)) == []
    assert checked(TASK.format(classes=3, call=call)) == [("data-field-classes", 11)]


def test_check_refuses_an_untrusted_loader_at_the_data_line(package: Path) -> None:
    assert checked(TASK.format(classes=2, call="ownloader.data.load()")) == \
        [("data-import-not-allowed", 11)]


def train(task: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["train", str(task), "--quiet", "--set", "log_every=5", "--out",
                     str(task.parent / "run"), *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_training_on_an_allowed_loader_lowers_the_loss(
        package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKDSL_ALLOW_IMPORT")
    task = tmp_path / "t.task"
    task.write_text(TASK.format(classes=2, call="ownloader.data.load(n = 128)"),
                    encoding="utf-8")
    code, err = train(task, capsys)
    assert code != 0 and "data-import-not-allowed" in err
    code, err = train(task, capsys, "--allow-import", "ownloader")
    assert code == 0, err
    lines = (tmp_path / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    losses = [json.loads(line)["loss"] for line in lines]
    assert losses[-1] < 0.7 * losses[0]


def test_an_undescribed_loader_is_checked_when_a_run_loads_it(
        allowed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = tmp_path / "t.task"
    task.write_text(TASK.format(classes=5, call="ownloader.data.load()"), encoding="utf-8")
    assert checked(task.read_text(encoding="utf-8")) == []  # nothing known before loading
    code, err = train(task, capsys)
    assert code != 0 and "data-field-classes" in err
    assert "source `pts`" in err and "2 classes, but the wire has 5" in err
