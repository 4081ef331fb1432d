"""TensorBoard's event files are never opened through a symbolic link (docs/security.md):
a ``tb`` folder or an entry in it planted as a link is refused, and the target is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskdsl.backends.jax.training import watch
from taskdsl.backends.jax.training.errors import RunFileError


def _board(run: Path) -> watch.Board:
    return watch.Board(run, ("classify",), 0, 1e-3)


def test_a_plain_tb_folder_gets_one_plain_event_file(tmp_path: Path) -> None:
    board = _board(tmp_path)
    board.scalars({"step": 1, "loss": 0.5, "classify": 0.5})
    board.close()
    files = list((tmp_path / watch.TB_FOLDER).iterdir())
    assert len(files) == 1 and "tfevents" in files[0].name
    assert files[0].is_file() and not files[0].is_symlink() and files[0].stat().st_size > 0
    again = _board(tmp_path)  # a resumed run: earlier event files are plain, kept
    again.close()
    assert len(list((tmp_path / watch.TB_FOLDER).iterdir())) == 2


def test_a_symlinked_tb_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    (run / watch.TB_FOLDER).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(RunFileError) as caught:
        _board(run)
    assert caught.value.code == "run-file-symlink"
    assert str(run / watch.TB_FOLDER) in str(caught.value)
    assert list(elsewhere.iterdir()) == []  # nothing written through the link


def test_a_link_planted_inside_tb_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    folder = tmp_path / "run" / watch.TB_FOLDER
    folder.mkdir(parents=True)
    (folder / "events.out.tfevents.planted").symlink_to(victim)
    with pytest.raises(RunFileError, match="symbolic link"):
        _board(tmp_path / "run")
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert [p.name for p in folder.iterdir()] == ["events.out.tfevents.planted"]
