"""A run folder is self-contained: ``load_run`` reloads the program exactly as it was
trained, from any working directory, whatever has become of the files its source imports.

One tiny run of a file that imports a sibling is trained through the command line from
the project folder, with relative paths (as ``cd exp && taskdsl train main.task --out run``);
each test then reloads it from elsewhere, after changing the sibling as it needs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from taskdsl import cli
from taskdsl.backends.jax.evaluation.errors import EvalError
from taskdsl.backends.jax.training import lock
from taskdsl.backends.jax.training.runs import CONFIG, Run, load_run

# The sibling: types, data, learners and tasks.  The main file only combines and trains.
LIB = """type Img = Real[8, 8, 3]
type Shape = Class[4]
data sprites : -> Img, Shape
random shape : -> Shape ~ uniform
learner get : Img -> Shape
learner put : Img, Shape -> Img

task classify:
    x, s <- sprites
    get(x) = s  trains get

task put_get:
    x, _ <- sprites
    a <- shape
    get(put(x, a)) = a  trains put
"""

MAIN = """import lib

objective both = classify + 0.5 * put_get

impl get = nets.mlp(width = 8, depth = 1)
impl put = nets.mlp(width = 8, depth = 1)

train both:
    data sprites = datasets.sprites(n = 32, size = 8)
    batch 8
    steps 2
    log_every 1
    checkpoint_every 2
"""

# What the sibling may have become since: other shapes, so reading it would change the run.
EDITED = LIB.replace("Real[8, 8, 3]", "Real[4, 4, 1]").replace("Class[4]", "Class[3]")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project folder, holding main.task, lib.task and the run ``run`` trained there."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "lib.task").write_text(LIB, encoding="utf-8")
    (folder / "main.task").write_text(MAIN, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        assert cli.main(["train", "main.task", "--quiet", "--out", "run"]) == 0
    return folder


@pytest.fixture
def elsewhere(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with nothing of the project in it; lib.task as trained."""
    (project / "lib.task").write_text(LIB, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def copy(project: Path, to: Path) -> Path:
    out = to / "run"
    shutil.copytree(project / "run", out, ignore=shutil.ignore_patterns(lock.LOCK))
    return out


def assert_as_trained(run: Run) -> None:
    """The program the run trained: the sibling's types, not whatever is on disk now."""
    assert run.lowered.learner_names == ("get", "put")
    get = run.signature("get")
    assert [t.shape for t in get.inputs] == [(8, 8, 3)]
    assert get.outputs[0].kind == "Class"
    images = np.random.default_rng(0).random((5, 8, 8, 3), dtype=np.float32)
    (probabilities,) = run.call("get", images)
    assert probabilities.shape == (5, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_config_records_the_file_absolutely_and_what_it_imports(project: Path) -> None:
    config = json.loads((project / "run" / CONFIG).read_text(encoding="utf-8"))
    assert config["file"] == str((project / "main.task").resolve())
    assert config["source"] == MAIN
    assert config["imported"] == {str((project / "lib.task").resolve()): LIB}


def test_a_run_reloads_from_another_directory_whatever_became_of_its_import(
        project: Path, elsewhere: Path) -> None:
    run_dir = project / "run"
    first = load_run(run_dir)
    assert_as_trained(first)
    (project / "lib.task").write_text(EDITED, encoding="utf-8")
    edited = load_run(run_dir)
    assert_as_trained(edited)
    (project / "lib.task").unlink()
    gone = load_run(run_dir)
    assert_as_trained(gone)
    for run in (edited, gone):
        assert run.step == first.step
        assert run.program.declarations == first.program.declarations


def test_a_copied_run_folder_reloads_with_the_project_gone(project: Path, elsewhere: Path
                                                           ) -> None:
    copy(project, elsewhere)
    (project / "lib.task").unlink()
    assert_as_trained(load_run("run"))


def test_a_run_recorded_before_imports_were_loads_as_before(project: Path, elsewhere: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """No ``imported`` and a relative ``file``: the imports are read from the disk, relative
    to the working directory, as then."""
    run_dir = copy(project, elsewhere)
    config = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
    del config["imported"]
    config["file"] = "main.task"
    (run_dir / CONFIG).write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(EvalError) as broken:  # from elsewhere, lib.task is not beside it
        load_run(run_dir)
    assert broken.value.code == "run-source-broken"
    monkeypatch.chdir(project)
    assert_as_trained(load_run(run_dir))


@pytest.mark.parametrize("imported", [[], "lib", {"/lib.task": 3}, {"/lib.task": None}])
def test_a_malformed_imported_record_is_not_a_run(project: Path, elsewhere: Path,
                                                  imported: object) -> None:
    run_dir = copy(project, elsewhere)
    config = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
    config["imported"] = imported
    (run_dir / CONFIG).write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(EvalError) as refused:
        load_run(run_dir)
    assert refused.value.code == "not-a-run"
    assert "imported" in str(refused.value)


def test_the_report_and_load_read_the_recorded_imports_too(project: Path, elsewhere: Path
                                                           ) -> None:
    """``taskdsl report`` draws the run's program, and ``load(...)`` compares signatures
    with it, with the project gone: both read the same record as ``load_run``."""
    from taskdsl.backends.jax.check import _run_signature
    from taskdsl.backends.jax.messages import phrase

    run_dir = copy(project, elsewhere)
    (project / "lib.task").unlink()
    assert cli.main(["report", str(run_dir), "-o", "page.html"]) == 0
    page = (elsewhere / "page.html").read_text(encoding="utf-8")
    assert phrase("report-source-broken") not in page
    assert "<svg" in page
    config = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
    assert [t.shape for t in _run_signature(config, "get").inputs] == [(8, 8, 3)]
    del config["imported"]  # as before the record: lib.task is nowhere to be read
    assert _run_signature(config, "get") is None
