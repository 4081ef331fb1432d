"""Back-translation through the stdlib ``cyclegan`` on ``Tokens``: it checks, and the JAX
backend lowers it, with each cycle loss training both translators and nothing else.

(A front-end feature seen through the backend: the pattern's default divergence gave
way to ``ce`` on ``Tokens``, which the backend must be able to compute.)"""

from __future__ import annotations

import numpy as np
import pytest

from taskdsl import check_text
from taskdsl.ir import BoxKind, Call

jax = pytest.importorskip("jax")
lower_module = pytest.importorskip("taskdsl.backends.jax.lowering.lower")

VOCAB, LENGTH, B = 5, 3, 4
BACK_TRANSLATION = f"""
import cyclegan from stdlib

type German = Tokens[{VOCAB}, {LENGTH}]
type English = Tokens[{VOCAB}, {LENGTH}]
learner de_en : German -> English
learner en_de : English -> German
learner disc_de : German -> Binary[1]
learner disc_en : English -> Binary[1]
data german : -> German
data english : -> English

use cyclegan(to_b = de_en, to_a = en_de, disc_a = disc_de, disc_b = disc_en,
             data_a = german, data_b = english)
"""
TINY = Call("nets.mlp", (), {"width": 8, "depth": 1})


def test_back_translation_through_the_stdlib_cyclegan_lowers_and_trains_both_ways() -> None:
    result = check_text(BACK_TRANSLATION)
    assert result.ok, result.render()
    prog = result.program
    assert prog.tasks["cycle_a"].divergences == ("ce",)
    impls = {n: TINY for n, d in prog.declarations.items() if d.kind is BoxKind.LEARNER}
    low = lower_module.lower(prog, "translate", impls)
    rng = np.random.default_rng(0)
    batch = {r.key: (rng.integers(0, VOCAB, (B, LENGTH)),) for r in low.data_requests()}
    params = low.init(jax.random.key(0))

    def cycle(p: dict) -> jax.Array:
        return low.loss(p, batch, jax.random.key(1), B)[1]["cycle_a"]

    value, grads = jax.jit(jax.value_and_grad(cycle))(params)
    # Cross-entropy of a sentence against itself through two untrained nets: positive,
    # finite, about log(vocabulary) per position.
    assert 0 < float(value) < 3 * np.log(VOCAB)
    moved = {name: any(float(np.abs(leaf).max()) > 0 for leaf in jax.tree.leaves(grads[name]))
             for name in low.learner_names}
    assert moved == {"de_en": True, "en_de": True, "disc_de": False, "disc_en": False}
