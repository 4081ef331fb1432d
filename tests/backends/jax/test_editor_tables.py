"""The language server completes from tables of its own (it never imports the backend):
they must name every setting, net and data set the JAX backend knows, or an editor
would not offer what training accepts."""

from __future__ import annotations

from taskdsl import lsp
from taskdsl.backends.jax.data import LOADERS, PREFIX
from taskdsl.backends.jax.nets.registry import NETS
from taskdsl.backends.jax.training.settings import SCALAR_KEYS


def test_the_editor_completes_every_setting() -> None:
    assert set(SCALAR_KEYS) <= set(lsp.SETTINGS)


def test_the_editor_completes_every_net_and_data_set() -> None:
    assert {f"nets.{name}" for name in NETS} <= set(lsp.NETS)
    assert {f"{PREFIX}{name}" for name in LOADERS} == set(lsp.DATASETS)
