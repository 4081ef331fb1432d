"""A fixed box's own function is named by a bare ``module.path:function`` (or the same
path quoted): the two spellings mean the same, in a file and in ``--set``, and ``fmt``
keeps what was written."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taskdsl.fmt import format_text
from taskdsl.loader import check_text, config_value
from taskdsl.queries import function_path

NAME = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in {"in", "by", "as", "from", "import", "trains", "task", "data", "impl",
                        "learner", "fixed", "random", "const", "train", "objective",
                        "pattern", "use", "claim", "def", "type", "schedule"})


def program(path_text: str) -> str:
    return f"fixed edge : Real[3] -> Real[3]\nimpl edge = {path_text}\n"


@given(st.lists(NAME, min_size=1, max_size=3), NAME)
def test_bare_and_quoted_paths_are_the_same_impl(modules: list[str], function: str) -> None:
    path = ".".join(modules) + ":" + function
    bare = check_text(program(path), "bare.task").program
    quoted = check_text(program(f'"{path}"'), "quoted.task").program
    assert function_path(bare.impls["edge"]) == function_path(quoted.impls["edge"]) == path


def test_fmt_keeps_a_bare_path() -> None:
    text = program("mypkg.fns:edge")
    assert format_text(text, "f.task") == text


def test_set_takes_a_bare_path() -> None:
    bare, quoted = config_value("mypkg.fns:edge"), config_value('"mypkg.fns:edge"')
    assert function_path(bare) == function_path(quoted) == "mypkg.fns:edge"
