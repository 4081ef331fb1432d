"""The persistent compilation cache (``backends/jax/cache.py``): where it lives, how it is
turned off, and that a second run of the same objective compiles nothing new."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskdsl.backends.jax import cache

TINY = """
type Img = Real[8, 8, 3]
type Shape = Class[4]
data sprites : -> Img, Shape
learner get : Img -> Shape
task classify:
    x, s <- sprites
    get(x) = s
impl get = nets.mlp(width = 8, depth = 1)
train classify:
    data sprites = datasets.sprites(n = 64, size = 8)
    batch 8
    steps 3
"""


@pytest.mark.parametrize("word", ["off", "OFF", "0", "false", "no"])
def test_the_cache_is_turned_off_by_the_environment(word: str, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    monkeypatch.setenv(cache.ENV, word)
    assert cache.cache_folder() is None


def test_by_default_it_lives_in_the_users_own_cache_folder(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_folder() == tmp_path / "taskdsl" / "xla"
    assert (tmp_path / "taskdsl" / "xla").stat().st_mode & 0o777 == 0o700
    (tmp_path / "taskdsl").chmod(0o777)  # someone else could plant compiled code there
    assert cache.cache_folder() is None


def test_a_folder_named_in_the_environment_is_used(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV, str(tmp_path / "mine"))
    assert cache.cache_folder() == tmp_path / "mine"


def _train(task: Path, out: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "taskdsl.cli", "train", task.name, "--quiet",
                           "--set", "tensorboard=false", "-o", out],
                          cwd=task.parent, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_second_run_of_the_same_objective_compiles_nothing_new(tmp_path: Path) -> None:
    task = tmp_path / "tiny.task"
    task.write_text(TINY, encoding="utf-8")
    folder = tmp_path / "xla"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env[cache.ENV] = str(folder)
    # Every step cached, however fast it compiled: a step near the threshold would
    # otherwise be cached by one run and not the other.
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    _train(task, "first", env)
    entries = sorted(p.name for p in folder.iterdir())
    assert entries, "the first run cached no compiled step"
    _train(task, "second", env)
    assert sorted(p.name for p in folder.iterdir()) == entries
