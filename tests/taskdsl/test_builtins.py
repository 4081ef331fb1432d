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
