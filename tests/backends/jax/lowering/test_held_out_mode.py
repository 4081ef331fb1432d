"""Held-out values (``eval_every``, ``Mode.EVAL``) are inference values: ``drop`` is the
identity there, so they depend on the parameters and the batch, not on the dropout key."""

from __future__ import annotations

import jax

import taskdsl
from taskdsl.backends.jax.lowering.interpret import Mode
from taskdsl.backends.jax.lowering.lower import lower
from tests.backends.jax.compiled_modules import raw_batch, tiny_impls

DROPPED = """
data reals : -> Real[4], Real[4]
learner f : Real[4] -> Real[4]
task dropped:
    x, y <- reals
    f(drop[0.5](x)) = y
task plain:
    x, y <- reals
    f(x) = y
objective both = dropped + plain
"""


def test_held_out_values_drop_nothing_and_training_values_do() -> None:
    result = taskdsl.check_text(DROPPED, "dropped.task")
    assert result.ok, result.render()
    low = lower(result.program, "both", tiny_impls(result.program))
    params, batch = low.init(jax.random.key(0)), raw_batch(low, 16, seed=1)

    def value(key: int, mode: Mode) -> dict[str, float]:
        _, tasks = low.loss(params, batch, jax.random.key(key), 16, mode)
        return {name: float(v) for name, v in tasks.items()}

    held_out = value(0, Mode.EVAL)
    assert held_out == value(1, Mode.EVAL)
    trained = value(0, Mode.TRAIN), value(1, Mode.TRAIN)
    assert trained[0]["dropped"] != trained[1]["dropped"]
    assert trained[0]["plain"] == trained[1]["plain"] == held_out["plain"]
