"""The canonical formatter: its style, its comments, and ``taskdsl fmt`` on the command line.

Every case checks the formatter's promise as well as its output: the formatted
text parses to the same syntax tree (numbers keep their type), and formatting
it again changes nothing.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from taskdsl import fmt as formatter
from taskdsl import syntax as ast
from taskdsl.cli import main
from taskdsl.fmt import FormatError, SyntaxErrors, format_module, format_text
from taskdsl.loader import check_text
from taskdsl.parser import parse
from tests.taskdsl.strategies import claimed_programs

ROOT = Path(__file__).parents[2]
REPOSITORY_FILES = sorted([*ROOT.glob("stdlib/*.task"), *ROOT.glob("examples/*.task")])


def formats_to(source: str, expected: str) -> None:
    """``source`` formats to ``expected``, which means the same and is a fixed point."""
    source, expected = textwrap.dedent(source), textwrap.dedent(expected)
    out = format_text(source)
    assert out == expected
    assert repr(parse(out).statements) == repr(parse(source).statements)
    assert format_text(out) == out


# ------------------------------------------------------------------ style
def test_canonical_style() -> None:
    formats_to(
        """\
        import   manipulation   from stdlib
        type Image=Real[ 28,28 ,1]
        data   mnist :->Image,Class[10]
        random digit:->Class[10]~uniform
        const  zero : -> Real[4] = 0
        learner put :Image ,Class[10]->Image
        fixed  oracle : Image -> Class[10]
        def twice(x :Image, a) = put(x,oracle(x)),x
        def ae = oracle>>( put @id[ Image ] )
        refine put( x , a ) = put(x,a)
        task edit :
          x,y<-mnist
          let h=oracle( x )
          put( x,h )=x    trains put by mse
        task apart:
                trains put
                x , _ <- mnist
                oracle( put(x ,y) )=y
        objective o=edit+10*apart
        use manipulation(S=Image,V=Class[10],put=put)as m
        impl put=nets.unet( width=32 , depth:2 , "x")
        train o :
           data mnist=datasets.mnist(split="train")
           flags [true,false,  0.5]
        """,
        """\
        import manipulation from stdlib
        type Image = Real[28, 28, 1]
        data mnist : -> Image, Class[10]
        random digit : -> Class[10] ~ uniform
        const zero : -> Real[4] = 0
        learner put : Image, Class[10] -> Image
        fixed oracle : Image -> Class[10]
        def twice(x: Image, a) = put(x, oracle(x)), x
        def ae = oracle >> put @ id[Image]
        refine put(x, a) = put(x, a)

        task edit:
            x, y <- mnist
            let h = oracle(x)
            put(x, h) = x  trains put  by mse

        task apart:
            trains put
            x, _ <- mnist
            oracle(put(x, y)) = y

        objective o = edit + 10 * apart
        use manipulation(S = Image, V = Class[10], put = put) as m
        impl put = nets.unet("x", width = 32, depth = 2)

        train o:
            data mnist = datasets.mnist(split = "train")
            flags [true, false, 0.5]
        """,
    )


def test_patterns_keep_their_type_parameters_and_open_tails() -> None:
    formats_to(
        """\
        pattern p[ S , d:dim ]( get,states ):
          get:S->Real[ d ]
          states : -> S,...
          task t :
              x<-states
              get(x)=get(x)
          objective all=t
        pattern q():
            objective none = t
        """,
        """\
        pattern p[S, d: dim](get, states):
            get : S -> Real[d]
            states : -> S, ...

            task t:
                x <- states
                get(x) = get(x)

            objective all = t

        pattern q():
            objective none = t
        """,
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def p = (f >> g) @ h", "def p = (f >> g) @ h"),  # `>>` binds looser than `@`
        ("def p = f >> (g @ h)", "def p = f >> g @ h"),
        ("def p = f >> g @ h >> k", "def p = f >> g @ h >> k"),
        ("def p = (f @ g) @ h", "def p = (f @ g) @ h"),  # a different tree: kept
        ("def p = f >> (g >> h)", "def p = f >> (g >> h)"),
        ("def p = ((f))", "def p = f"),
        ("def p(x: A) = (f >> g)(x)", "def p(x: A) = (f >> g)(x)"),
        ("def p(x: A) = (f)((x))", "def p(x: A) = f(x)"),
        ("def p(x: A) = (f(x))", "def p(x: A) = f(x)"),
        ("def p() = f(scale[0.5](x), copy[Real[2, 3]] >> swap[A, B])",
         "def p() = f(scale[0.5](x), copy[Real[2, 3]] >> swap[A, B])"),
    ],
)
def test_parentheses_only_where_precedence_needs_them(source: str, expected: str) -> None:
    formats_to(source + "\n", expected + "\n")


def test_blank_lines() -> None:
    formats_to(
        """\


        type A = Real[4]
        type B = Real[4]



        learner f : A -> B
        task t:
            x <- s


            f(x) = x
        task u:
            x <- s
            f(x) = x
        impl f = mlp


        """,
        """\
        type A = Real[4]
        type B = Real[4]

        learner f : A -> B

        task t:
            x <- s

            f(x) = x

        task u:
            x <- s
            f(x) = x

        impl f = mlp
        """,
    )


# --------------------------------------------------------------- comments
def test_comments_stay_where_they_were() -> None:
    formats_to(
        """\
        # The file's header.

        # About A.
        type A=Real[4]   # trailing
           # indented, about f
        learner f:A->A
        impl f = nets.mlp(   # inside a call: moves before the statement
            width = 2)  # the call's end

        task t:   # on the header
          # before the draw
          x<-s  # after the draw
          f(x) = x
          # the end of the block

        # before u
        task u:
            x <- s
            f(x) = x
        # the end of the file
        """,
        """\
        # The file's header.

        # About A.
        type A = Real[4]  # trailing
        # indented, about f
        learner f : A -> A
        # inside a call: moves before the statement
        impl f = nets.mlp(width = 2)  # the call's end

        task t:  # on the header
            # before the draw
            x <- s  # after the draw
            f(x) = x
            # the end of the block

        # before u
        task u:
            x <- s
            f(x) = x
        # the end of the file
        """,
    )


def test_a_file_of_comments_only() -> None:
    formats_to("# one\n\n\n   # two\n", "# one\n\n# two\n")
    formats_to("", "")


def test_hash_inside_a_string_is_not_a_comment() -> None:
    formats_to('impl f = load("a\\"b # c")   # real\n', 'impl f = load("a\\"b # c")  # real\n')


# ----------------------------------------------------------------- values
def test_numbers_keep_their_value_and_type() -> None:
    formats_to(
        """\
        const c : -> Real[04] = 007
        objective o = 1e3 * t + 0.0010 * t + 2.50 * t + 1E-7 * t
        impl f = g(a = 1E2, b = 10, c = -0.5, d = 123456789012345678901234567890)
        """,
        """\
        const c : -> Real[4] = 7
        objective o = 1000.0 * t + 1e-3 * t + 2.5 * t + 1e-7 * t
        impl f = g(a = 100.0, b = 10, c = -0.5, d = 123456789012345678901234567890)
        """,
    )
    (objective,) = [s for s in parse(format_text("objective o = 1e3 * t\n")).statements]
    assert type(objective.terms[0].weight) is float


def test_strings_read_back_as_the_same_value() -> None:
    source = 'impl f = g("a\\"b", "café 中", "tab\\there", "\\x", "\\u00e9\\\\", "\\x01")\n'
    out = format_text(source)
    assert out == 'impl f = g("a\\"b", "café 中", "tab\\there", "\\\\x", "é\\\\", "\\x01")\n'
    values = [a.value for a in parse(out).statements[0].value.args]
    assert values == ['a"b', "café 中", "tab\there", "\\x", "é\\", "\x01"]


# ------------------------------------------------------------ the library
@pytest.mark.parametrize("path", REPOSITORY_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_repository_files_format_stably(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    out = format_text(text, str(path))
    assert format_text(out, str(path)) == out
    assert check_text(out, str(path)).program == check_text(text, str(path)).program
    comments = [sorted(c.text for c in parse(t).comments) for t in (out, text)]
    assert comments[0] == comments[1]


def test_format_module_writes_a_tree_built_by_hand() -> None:
    image = ast.TypeExpr("Real", (28, 28, 1))
    module = ast.Module("<built>", (
        ast.BoxDecl("learner", "f", ast.SigExpr((image,), (image,))),
        ast.Task("t", (
            ast.Draw((ast.Ref("x"),), "s"),
            ast.EquationStmt((ast.Call(ast.Ref("f"), (ast.Ref("x"),)),), (ast.Ref("x"),),
                             (ast.Trains((ast.Ref("f"),)), ast.By("l1"))),
        )),
        ast.Objective("o", (ast.Term(0.5, "t"),)),
    ))
    text = format_module(module)
    assert text == textwrap.dedent("""\
        learner f : Real[28, 28, 1] -> Real[28, 28, 1]

        task t:
            x <- s
            f(x) = x  trains f  by l1

        objective o = 0.5 * t
        """)
    assert parse(text).statements == module.statements


def test_syntax_errors_raise_with_every_diagnostic() -> None:
    with pytest.raises(SyntaxErrors) as caught:
        format_text("task t:\n    x <- \ntype = Real[2]\n", "bad.task")
    assert [str(d.span) for d in caught.value.diagnostics] == ["bad.task:2:10", "bad.task:3:6"]


def test_a_change_of_meaning_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The formatter checks its own output: a bug that changed a program is an error."""
    monkeypatch.setattr(formatter, "_number", lambda value: "0")
    with pytest.raises(FormatError, match="changed the syntax tree"):
        format_text("objective o = 2 * t\n")


# ------------------------------------------------------- the command line
MESSY = "type A=Real[4]\n"
CANONICAL = "type A = Real[4]\n"


def test_check_lists_files_that_would_change_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy, clean = tmp_path / "messy.task", tmp_path / "clean.task"
    messy.write_text(MESSY)
    clean.write_text(CANONICAL)
    assert main(["fmt", "--check", str(messy), str(clean)]) == 1
    out = capsys.readouterr().out
    assert f"would reformat {messy}" in out
    assert str(clean) not in out
    assert messy.read_text() == MESSY
    assert main(["fmt", "--check", str(clean)]) == 0


def test_rewrites_in_place_keeping_permissions(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.task"
    path.write_text(MESSY)
    path.chmod(0o640)
    assert main(["fmt", str(path)]) == 0
    assert path.read_text() == CANONICAL
    assert path.stat().st_mode & 0o777 == 0o640
    assert f"reformatted {path}" in capsys.readouterr().err
    assert main(["fmt", str(path)]) == 0
    assert "reformatted" not in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["a.task"]  # no temporary file left


def test_rewrites_through_a_symbolic_link(tmp_path: Path) -> None:
    target, link = tmp_path / "a.task", tmp_path / "link.task"
    target.write_text(MESSY)
    link.symlink_to(target)
    assert main(["fmt", str(link)]) == 0
    assert link.is_symlink()
    assert target.read_text() == CANONICAL


def test_windows_line_ends_become_unix_ones(tmp_path: Path) -> None:
    path = tmp_path / "a.task"
    path.write_bytes(CANONICAL.replace("\n", "\r\n").encode())
    assert main(["fmt", "--check", str(path)]) == 1
    assert main(["fmt", str(path)]) == 0
    assert path.read_bytes() == CANONICAL.encode()


def test_stdout_prints_and_writes_nothing(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.task"
    path.write_text(MESSY)
    assert main(["fmt", "--stdout", str(path)]) == 0
    assert capsys.readouterr().out == CANONICAL
    assert path.read_text() == MESSY


def test_a_file_with_syntax_errors_is_never_rewritten(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad, good = tmp_path / "bad.task", tmp_path / "good.task"
    bad.write_text("type A=Real[4]\ntask t:\n    x <- \n")
    good.write_text(MESSY)
    assert main(["fmt", str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3:10: error[syntax]" in err
    assert f"{bad}: not formatted: it has syntax errors" in err
    assert bad.read_text() == "type A=Real[4]\ntask t:\n    x <- \n"
    assert good.read_text() == CANONICAL  # the other file is still formatted


@pytest.mark.parametrize("kind", ["missing", "folder", "not-utf8"])
def test_unreadable_files_are_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        kind: str) -> None:
    path = tmp_path / "x.task"
    if kind == "folder":
        path.mkdir()
    elif kind == "not-utf8":
        path.write_bytes(b"type A = Real[4] \xff\n")
    reason = {"missing": "no such file", "folder": "it is a folder",
              "not-utf8": "it is not UTF-8 text"}[kind]
    assert main(["fmt", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}: cannot read: {reason}" in err
    assert "Traceback" not in err


def test_a_failed_write_leaves_the_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.task"
    path.write_text(MESSY)

    def fail(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    assert main(["fmt", str(path)]) == 1
    assert f"{path}: cannot write: No space left on device" in capsys.readouterr().err
    assert path.read_text() == MESSY
    assert [p.name for p in tmp_path.iterdir()] == ["a.task"]


def test_a_formatter_bug_is_reported_and_nothing_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.task"
    path.write_text("objective o = 2 * t\n")
    monkeypatch.setattr(formatter, "_number", lambda value: "0")
    assert main(["fmt", str(path)]) == 1
    assert "a bug in taskdsl fmt" in capsys.readouterr().err
    assert path.read_text() == "objective o = 2 * t\n"


def test_comments_after_code_on_consecutive_lines_share_a_column() -> None:
    source = textwrap.dedent("""\
        data points : -> Real[2]  # where
        learner f : Real[2] -> Real[2]     # what

        learner g : Real[2] -> Real[2] # alone
        """)
    assert format_text(source) == textwrap.dedent("""\
        data points : -> Real[2]        # where
        learner f : Real[2] -> Real[2]  # what

        learner g : Real[2] -> Real[2]  # alone
        """)


@pytest.mark.parametrize("path", sorted(ROOT.glob("[ebs]*/*.task")),  # examples, benchmarks, stdlib
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_task_file_is_in_canonical_form(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text, str(path)) == text, f"run `taskdsl fmt {path.relative_to(ROOT)}`"


# ------------------------------------------------------------------ claims
def test_claims_in_canonical_style() -> None:
    formats_to(
        """\
        claim   a :undo  by put_put ,get_put
        claim b: get( put(x,a) )=a
        pattern p(f):
            f : -> Real[1]
            claim c:t
        """,
        """\
        claim a: undo by put_put, get_put
        claim b: get(put(x, a)) = a

        pattern p(f):
            f : -> Real[1]
            claim c: t
        """,
    )


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(claimed_programs())
def test_claims_round_trip_through_the_formatter(text: str) -> None:
    out = format_text(text, "p.task")
    before, after = parse(text, "p.task"), parse(out, "p.task")
    assert repr(after.statements) == repr(before.statements)
    claims = [s for s in before.statements if isinstance(s, ast.Claim)]
    assert claims and all(f"claim {c.name}: " in out for c in claims)
    assert format_text(out, "p.task") == out
    program = check_text(out, "p.task").program
    assert program == check_text(text, "p.task").program
    # A claim that names a task means that task's equation.
    for c in claims:
        if c.task is not None and c.name in program.claims:
            assert program.claims[c.name].goal == program.tasks[c.task.name]
