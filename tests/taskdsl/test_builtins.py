"""The checker's typing of builtins, on `drop`: the kinds and the parameter it takes."""

from __future__ import annotations

import pytest

from taskdsl import check_text
from taskdsl.loader import Result

TEXT = """\
data   texts : -> Tokens[50, 6], Real[4], Class[3]
learner read : Tokens[50, 6], Real[4] -> Class[3]
task t:
    w, r, y <- texts
    read({words}, {reals}) = y
"""


def checked(words: str, reals: str = "r") -> Result:
    return check_text(TEXT.format(words=words, reals=reals), "t.task")


@pytest.mark.parametrize(("words", "reals"), [("drop[0.1](w)", "r"), ("drop[0](w)", "r"),
                                              ("w", "drop[0.3](r)")])
def test_drop_keeps_a_real_or_tokens_wire_type(words: str, reals: str) -> None:
    result = checked(words, reals)
    assert result.ok, result.render()
    assert "drop" in {box.name for box in result.program.tasks["t"].lhs.boxes}


@pytest.mark.parametrize(("words", "message"), [
    ("drop[1](w)", "takes a probability 0 <= p < 1 in brackets: drop[0.1], not 1"),
    ("drop[-0.1](w)", "not -0.1"),
    ("drop[0.1](read(w, r))", "takes a Real or Tokens wire, found `Class[3]`"),
])
def test_drop_refuses_other_kinds_and_probabilities(words: str, message: str) -> None:
    result = checked(words)
    assert not result.ok
    assert message in result.render()


# ------------------------------------------------------------ stop, reductions, classes
SHAPES = """\
data d : -> Real[2, 3], Real[2, 3], Real[4], Class[4], Gaussian[2]
learner f : Real[2, 3] -> Real[2, 3]
learner take : {input} -> {output}
task t:
    m, n, v, c, g <- d
    take({expr}) = take({expr})
"""


@pytest.mark.parametrize(("expr", "wire"), [
    ("stop(m)", "Real[2, 3]"), ("stop(c)", "Class[4]"), ("stop(g)", "Gaussian[2]"),
    ("sum(m)", "Real[1]"), ("mean(v)", "Real[1]"), ("norm(m)", "Real[1]"),
    ("dot(m, n)", "Real[1]"), ("cosine(f(m), n)", "Real[1]"),
    ("softmax(v)", "Class[4]"), ("argmax(v)", "Class[4]"), ("one_hot(c)", "Real[4]"),
])
def test_each_builtin_gives_its_wire_type(expr: str, wire: str) -> None:
    """A learner that takes exactly the type the rule says accepts the builtin's output."""
    result = check_text(SHAPES.format(input=wire, output="Real[4]", expr=expr), "t.task")
    assert result.ok, result.render()
    name = expr.split("(")[0]
    (box,) = {b for b in result.program.tasks["t"].lhs.boxes if b.name == name}
    assert str(result.program.tasks["t"].lhs.wires[box.outputs[0]].type) == wire


@pytest.mark.parametrize(("expr", "column", "message"), [
    ("argmax(c)", 10, "`argmax` takes Real wires, found `Class[4]`"),
    ("softmax(m)", 10, "`softmax` takes a Real[n] wire (one axis, the classes), found "
                       "`Real[2, 3]`"),
    ("one_hot(v)", 10, "`one_hot` takes a Class wire, found `Real[4]`"),
    ("sum(c)", 10, "`sum` takes Real wires, found `Class[4]`"),
    ("dot(m, v)", 10, "both inputs must have the same type, found `Real[2, 3]` and `Real[4]`"),
    ("cosine(g, g)", 10, "`cosine` takes Real wires, found `Gaussian[2]`"),
])
def test_a_builtin_on_the_wrong_wire_is_a_located_type_error(expr: str, column: int,
                                                             message: str) -> None:
    result = check_text(SHAPES.format(input="Real[1]", output="Real[4]", expr=expr), "t.task")
    assert not result.ok
    errors = [d for d in result.diagnostics if d.code == "type-mismatch"]
    assert errors and all(d.span.line == 6 for d in errors)
    assert errors[0].span.column == column
    assert message in errors[0].message


def test_stop_is_generic_in_point_free_form_too() -> None:
    text = SHAPES.format(input="Class[4]", output="Real[4]", expr="c").replace(
        "take(c) = take(c)", "(stop[Class[4]] >> take)(c) = take(c)")
    result = check_text(text, "t.task")
    assert result.ok, result.render()
    assert "stop" in {b.name for b in result.program.tasks["t"].lhs.boxes}
