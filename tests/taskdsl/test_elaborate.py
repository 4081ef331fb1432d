"""The IR that elaboration builds: sharing, copies, discards, refinement, patterns."""

from __future__ import annotations

import textwrap

from taskdsl import check_text
from taskdsl.ir import BoxKind, Equation

HEADER = """\
type Image = Real[4]
type Digit = Class[3]
data mnist : -> Image, Digit
random digit : -> Digit ~ uniform
learner get : Image -> Digit
learner put : Image, Digit -> Image
"""


def program(body: str):
    result = check_text(HEADER + textwrap.dedent(body), "t.task")
    assert result.ok, result.render()
    return result.program


def kinds(eq: Equation, side: str) -> list[str]:
    return [b.kind.value for b in getattr(eq, side).boxes]


def test_a_draw_used_on_both_sides_is_one_box_with_one_id():
    eq = program("""
        task get_put:
            x, _ <- mnist
            put(x, get(x)) = x
    """).tasks["get_put"]
    lhs_source = next(b for b in eq.lhs.boxes if b.kind is BoxKind.DATA)
    rhs_source = next(b for b in eq.rhs.boxes if b.kind is BoxKind.DATA)
    assert lhs_source.id == rhs_source.id
    assert eq.draws[0].box == lhs_source.id
    assert eq.draws[0].names == ("x", "_")


def test_copies_and_discards_are_explicit_per_side():
    eq = program("""
        task get_put:
            x, _ <- mnist
            put(x, get(x)) = x
    """).tasks["get_put"]
    # lhs uses x twice (copy) and drops the label (discard); rhs only drops the label.
    assert kinds(eq, "lhs").count("copy") == 1
    assert kinds(eq, "lhs").count("discard") == 1
    assert kinds(eq, "rhs") == ["data", "discard"]
    copy = next(b for b in eq.lhs.boxes if b.kind is BoxKind.COPY)
    assert len(copy.outputs) == 2
    # every wire of a side is consumed exactly once: by a box or as the output
    for side in (eq.lhs, eq.rhs):
        consumed = [w for b in side.boxes for w in b.inputs] + list(side.outputs)
        assert len(consumed) == len(set(consumed))
        produced = [w for b in side.boxes for w in b.outputs]
        assert sorted(consumed) == sorted(produced)


def test_default_trains_and_divergence_by_type():
    eq = program("""
        task classify:
            x, y <- mnist
            get(x) = y
    """).tasks["classify"]
    assert eq.trains == ("get",)
    assert eq.divergences == ("ce",)


def test_refinement_inlines_and_trains_means_the_inner_learners():
    p = program("""
        learner enc : Image -> Real[2]
        learner dec : Real[2] -> Image
        learner shift : Digit -> Real[2]
        refine put(x, a) = dec(add(enc(x), shift(a)))
        task get_put:
            x, _ <- mnist
            put(x, get(x)) = x    trains put
    """)
    eq = p.tasks["get_put"]
    assert set(eq.trains) == {"enc", "dec", "shift"}
    names = [b.name for b in eq.lhs.boxes if b.kind is BoxKind.LEARNER]
    assert "put" not in names and {"enc", "dec", "shift", "get"} <= set(names)
    grouped = [b for b in eq.lhs.boxes if b.group == ("put",)]
    assert {b.name for b in grouped} == {"enc", "dec", "shift", "add"}
    assert p.refinements["put"].signature == p.declarations["put"].signature


def test_a_refined_learner_passed_to_a_pattern_under_another_name_trains_its_inner_ones():
    p = program("""
        learner edit : Image, Digit -> Image
        learner delta : Image, Digit -> Image
        refine edit(x, a) = add(x, delta(x, a))
        pattern laws(g, q, states):
            g : Image -> Digit
            q : Image, Digit -> Image
            states : -> Image, ...
            task round:
                x <- states
                q(x, g(x)) = x  trains q
        use laws(g = get, q = edit, states = mnist)
    """)
    assert p.tasks["round"].trains == ("delta",)


def test_point_free_and_pointed_defs_give_the_same_diagram():
    p = program("""
        learner enc : Image -> Real[2]
        learner dec : Real[2] -> Image
        def ae = enc >> dec
        def ae2(x: Image) = dec(enc(x))
        task a:
            x, _ <- mnist
            ae(x) = x
        task b:
            x, _ <- mnist
            ae2(x) = x
    """)
    strip = [(b.kind, b.name) for b in p.tasks["a"].lhs.boxes]
    assert strip == [(b.kind, b.name) for b in p.tasks["b"].lhs.boxes]
    assert p.defs["ae"].signature == p.defs["ae2"].signature


def test_objective_weights_flatten_nested_objectives():
    p = program("""
        task c:
            x, y <- mnist
            get(x) = y
        task g:
            x, _ <- mnist
            put(x, get(x)) = x
        objective inner = c + 2 * g
        objective outer = 3 * inner + g
    """)
    weights = [(t.weight, t.equation.name) for t in p.objectives["outer"].terms]
    assert weights == [(3.0, "c"), (6.0, "g"), (1.0, "g")]


def test_pattern_use_infers_types_and_names_tasks_with_the_alias():
    p = program("""
        pattern laws[S, V](g, p, states, attrs):
            g : S -> V
            p : S, V -> S
            states : -> S, ...
            attrs : -> V
            task put_get:
                x <- states
                a <- attrs
                g(p(x, a)) = a    trains p
            objective all = put_get
        use laws(g = get, p = put, states = mnist, attrs = digit) as m
    """)
    eq = p.tasks["m.put_get"]
    assert eq.trains == ("put",)
    assert {b.name for b in eq.lhs.boxes if b.kind is BoxKind.LEARNER} == {"get", "put"}
    assert p.objectives["m.all"].terms[0].equation is eq


def test_same_program_written_twice_gives_equal_ir():
    text = HEADER + "task t:\n    x, y <- mnist\n    get(x) = y\n"
    spaced = text.replace("get(x) = y", "get( x )   =   y   # same\n")
    assert check_text(text, "a").program.tasks == check_text(spaced, "b").program.tasks
