"""``training.files``: run-folder files written whole, never through a link, and a
config.json that can only name files inside its run (issue #17, part 3)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskdsl.backends.jax.errors import BackendError
from taskdsl.backends.jax.evaluation.errors import EvalError
from taskdsl.backends.jax.training import runs
from taskdsl.backends.jax.training.files import RunFileError, append_text, inside, write_text


def test_write_text_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_text("old", encoding="utf-8")
    write_text(target, "new ✓\n")
    assert target.read_text(encoding="utf-8") == "new ✓\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_write_text_refuses_a_planted_link_and_leaves_its_target_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep", encoding="utf-8")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").symlink_to(victim)
    with pytest.raises(RunFileError) as caught:
        write_text(run / "config.json", "overwritten")
    assert caught.value.code == "run-file-symlink" and "symbolic link" in str(caught.value)
    assert victim.read_text(encoding="utf-8") == "keep"
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "config.json"
    target.write_text("old", encoding="utf-8")

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_append_text_appends_and_refuses_a_link(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    append_text(log, "a\n")
    append_text(log, "b\n")
    assert log.read_text(encoding="utf-8") == "a\nb\n"
    victim = tmp_path / "victim"
    victim.write_text("keep", encoding="utf-8")
    link = tmp_path / "linked.jsonl"
    link.symlink_to(victim)
    with pytest.raises(RunFileError):
        append_text(link, "x\n")
    assert victim.read_text(encoding="utf-8") == "keep"


PARTS = st.lists(st.sampled_from(["a", "b", "..", ".", "sub"]), min_size=1, max_size=5)


@given(parts=PARTS)
def test_inside_accepts_exactly_the_names_that_stay_in_the_folder(
        tmp_path_factory: pytest.TempPathFactory, parts: list[str]) -> None:
    run = tmp_path_factory.mktemp("run")
    (run / "sub").mkdir()
    name = "/".join(parts)
    stays = ".." not in parts
    if stays:
        assert inside(run, name) == run / name
    else:
        with pytest.raises(BackendError) as caught:
            inside(run, name)
        assert caught.value.code == "run-file-outside" and "`..`" in str(caught.value)


def test_inside_refuses_absolute_paths_and_links_out(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "secret.task").write_text("x", encoding="utf-8")
    (run / "out").symlink_to(tmp_path)
    (run / "in").symlink_to(run / "out" / "..")  # leads out too
    (run / "ok").mkdir()
    (run / "fine").symlink_to(run / "ok")
    for name, why in [(str(tmp_path / "secret.task"), "absolute"),
                      ("out/secret.task", "symbolic link"), ("in/secret.task", "symbolic link")]:
        with pytest.raises(BackendError) as caught:
            inside(run, name)
        assert why in str(caught.value) and name in str(caught.value)
    assert inside(run, "fine/x.task") == run / "fine" / "x.task"


def _old_run(folder: Path, file: str) -> Path:
    """A run folder from before runs recorded their source: config.json names the file."""
    folder.mkdir()
    config = {"objective": "o", "file": file, "overrides": []}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.mark.parametrize("escape", ["absolute", "dotdot", "symlink"])
def test_load_run_refuses_a_config_naming_a_file_outside_the_run(
        tmp_path: Path, escape: str) -> None:
    secret = tmp_path / "secret.task"
    secret.write_text("learner f : Real[2] -> Real[2]\n", encoding="utf-8")
    run = tmp_path / "run"
    name = {"absolute": str(secret), "dotdot": "../secret.task", "symlink": "link.task"}[escape]
    _old_run(run, name)
    if escape == "symlink":
        (run / "link.task").symlink_to(secret)
    with pytest.raises(EvalError) as caught:
        runs.load_run(run)
    assert caught.value.code == "run-file-outside" and name in str(caught.value)


def test_load_run_reads_a_file_inside_the_run(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    run = _old_run(tmp_path / "run", "prog/x.task")
    (run / "prog").mkdir()
    (run / "prog" / "x.task").write_text("# the program\n", encoding="utf-8")
    seen = []

    class Stop(Exception):
        pass

    def check_text(source: str, path: str, imported: object = None) -> None:
        seen.append((source, path, imported))
        raise Stop

    monkeypatch.setattr(runs, "check_text", check_text)
    with pytest.raises(Stop):
        runs.load_run(run)
    assert seen == [("# the program\n", "prog/x.task", {})]  # no recorded imports: the disk
