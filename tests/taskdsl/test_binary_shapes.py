"""The checker's side of ``Binary`` wires of any shape (issue 12, Bernoulli images): a
``Binary[28, 28, 1]`` image is a wire like ``Binary[40]``, compared by ``bce``/``mse``/
``l1`` with its own type and by ``nll`` with ``Real`` data of its shape, drawn ``~ uniform``
and ``sample``d into bits of its shape; mistakes stay located errors."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl import check_text
from taskdsl.ir import BoxKind
from taskdsl.types import KINDS, WireType

PRELUDE = """data pics : -> Real[4, 4, 1]
data flat : -> Real[16]
learner decode : Real[2] -> Binary[4, 4, 1]
learner code : Real[4, 4, 1] -> Real[2]
"""


def check(body: str):
    return check_text(PRELUDE + body, "t.task")


def errors(body: str) -> list[str]:
    return [d.code for d in check(body).diagnostics if d.severity == "error"]


def test_binary_takes_one_or_more_dimensions() -> None:
    assert KINDS["Binary"] == (1, None)
    assert WireType("Binary", (28, 28, 1)).value_shape == (28, 28, 1)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4))
def test_any_binary_shape_checks_and_keeps_its_shape(shape: list[int]) -> None:
    dims = ", ".join(map(str, shape))
    text = (f"data d : -> Real[{dims}]\nlearner f : Real[{dims}] -> Binary[{dims}]\n"
            f"task t:\n    x <- d\n    f(x) = x  by nll\n")
    result = check_text(text, "t.task")
    assert result.ok, result.render()
    out = result.program.declarations["f"].signature.outputs[0]
    assert (out.kind, out.shape) == ("Binary", tuple(shape))


def test_a_binary_image_is_compared_with_grey_data_of_its_shape_by_nll() -> None:
    result = check("task t:\n    x <- pics\n    decode(code(x)) = x  by nll\n")
    assert result.ok, result.render()
    # nll is the default for a Binary output against Real data.
    assert check("task t:\n    x <- pics\n    decode(code(x)) = x\n").ok


def test_a_flattened_picture_is_not_a_binary_image() -> None:
    assert errors("task t:\n    x <- pics\n    y <- flat\n    decode(code(x)) = y  by nll\n")


def test_bce_mse_and_l1_compare_two_binary_images() -> None:
    for name in ("bce", "mse", "l1"):
        result = check(f"task t:\n    x <- pics\n    decode(code(x)) = decode(code(x))  by {name}\n")
        assert result.ok, (name, result.render())


def test_bce_does_not_compare_a_binary_image_with_real_data() -> None:
    assert errors("task t:\n    x <- pics\n    decode(code(x)) = x  by bce\n")


def test_sample_of_a_binary_image_is_bits_of_its_shape() -> None:
    result = check("learner redo : Binary[4, 4, 1] -> Real[2]\n"
                   "task t:\n    x <- pics\n    code(x) = redo(sample(decode(code(x))))\n")
    assert result.ok, result.render()
    redo = result.program.declarations["redo"].signature.inputs[0]
    assert (redo.kind, redo.shape) == ("Binary", (4, 4, 1))


def test_sample_still_refuses_a_real_wire_and_says_what_it_takes() -> None:
    result = check("task t:\n    x <- pics\n    code(sample(x)) = code(x)\n")
    assert not result.ok
    assert "Binary" in result.render()


def test_a_binary_image_is_drawn_uniformly_and_only_so() -> None:
    ok = check("random noise : -> Binary[4, 4, 1] ~ uniform\n"
               "task t:\n    n <- noise\n    x <- pics\n    decode(code(x)) = n  by bce\n")
    assert ok.ok, ok.render()
    drawn = [b for b in ok.program.declarations.values() if b.kind is BoxKind.RANDOM]
    assert [tuple(d.signature.outputs[0].shape) for d in drawn] == [(4, 4, 1)]
    assert errors("random noise : -> Binary[4, 4, 1] ~ normal\n") == ["bad-distribution"]
