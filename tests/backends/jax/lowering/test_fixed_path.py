"""A ``fixed`` box implemented by a user's pure JAX function by dotted path (issue 12,
part 3): ``impl edge = "mylib.fns:double"``.  Checked at ``taskdsl check`` by tracing it on
abstract batches of the declared wires, behind the same trust boundary as a user's
divergence; lowered, compiled and reopened as a frozen box with no parameters; recorded
among a run's ``imports``."""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskdsl
from taskdsl.backends.jax import trust
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.errors import LowerError
from taskdsl.backends.jax.lowering.lower import fixed_function_problems, lower
from taskdsl.backends.jax.nets import NETS
from taskdsl.backends.jax.training.settings import Settings, from_json
from taskdsl.ir import Name, Program
from taskdsl.queries import fixed_functions, is_function, user_function_paths
from taskdsl.types import Signature, WireType
from tests.backends.jax.compiled_modules import module_of, raw_batch, tiny_impls

FNS = '''
import jax.numpy as jnp
from pathlib import Path

Path(__file__).with_name("imported").write_text("yes")


def double(x):
    return 2.0 * x


def swap(x):
    return x[:, ::-1], x


def narrow(x):
    return x[:, :1]


def whole(x):
    return jnp.sum(x)


def ints(x):
    return x.astype(jnp.int32)


def boom(x):
    raise RuntimeError("no")


def cube(lhs, rhs):
    return jnp.mean(jnp.abs(lhs - rhs) ** 3, axis=1)
'''

TASK = """data pts : -> Real[2], Real[2]
learner f : Real[2] -> Real[2]
fixed g : Real[2] -> Real[2]

task fit:
    x, y <- pts
    g(f(x)) = y{by}

impl g = "{path}"
"""

REAL2 = WireType("Real", (2,))


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package ``mylib`` on ``sys.path`` (as an installed one would be), not allowed yet,
    forgotten afterwards; it leaves a file ``imported`` when imported."""
    root = tmp_path / "site" / "mylib"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("", encoding="utf-8")
    (root / "fns.py").write_text(FNS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delenv(trust.ENV, raising=False)
    yield root
    for name in [m for m in sys.modules if m.partition(".")[0] == "mylib"]:
        del sys.modules[name]


@pytest.fixture
def allowed(package: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(trust.ENV, "mylib")
    return package


def program_of(path: str = "mylib.fns:double", by: str = "") -> Program:
    result = taskdsl.check_text(TASK.format(path=path, by=by), "t.task")
    assert result.ok, result.render()
    return result.program


# ------------------------------------------------------------------ the queries
def test_a_function_path_is_told_from_a_net_and_a_load() -> None:
    assert is_function("mylib.fns:double") and is_function(Name("ownfns:f"))
    assert not any(map(is_function, ["nets.mlp", Name("load"), None, 3, "a:b'); evil('",
                                      "a.:b", ":b"]))
    program = program_of()
    objective = program.objective(None)
    assert fixed_functions(program, objective) == {"g": "mylib.fns:double"}
    assert fixed_functions(program, objective, {"g": Name("load")}) == {}
    assert user_function_paths(program_of(by="  by mylib.fns:cube")) == (
        "mylib.fns:cube", "mylib.fns:double")


# ------------------------------------------------------------------ the check
@pytest.mark.parametrize(("path", "code"), [
    ("mylib.fns:double", None),
    ("mylib.fns:swap", "fixed-function-signature"),  # two outputs for one wire
    ("mylib.fns:narrow", "fixed-function-signature"),  # Real[1], not Real[2]
    ("mylib.fns:whole", "fixed-function-signature"),  # no batch axis
    ("mylib.fns:ints", "fixed-function-signature"),  # not floats
    ("mylib.fns:boom", "fixed-function-signature"),  # raises while traced
    ("mylib.fns:absent", "user-function-missing"),
    ("mylib.nowhere:double", "user-function-import"),
])
def test_the_check_traces_the_function_on_the_declared_wires_at_the_impl_line(
        allowed: Path, path: str, code: str | None) -> None:
    program = program_of(path)
    found = check_program(program)
    assert [d.code for d in found] == ([code] if code else [])
    if code is not None:
        assert found[0].span.line == program.impl_spans["g"].line
        assert found[0].help


def test_a_wrong_signature_says_what_was_expected_and_found(allowed: Path) -> None:
    (found,) = fixed_function_problems("g", Signature((REAL2,), (REAL2,)), "mylib.fns:narrow")
    assert (found.expected, found.found) == ("float (3, 2)", "1 output(s): float32 (3, 1)")
    assert "Real[2]" in (found.help or "")


@settings(max_examples=8, deadline=None,  # the fixture only allows a module: safe to share
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(1, 4), outputs=st.integers(1, 3))
def test_the_check_accepts_exactly_the_declared_widths(allowed: Path, width: int,
                                                       outputs: int) -> None:
    """``double`` keeps its input's width: it fits ``Real[w] -> Real[w]`` and no other."""
    sig = Signature((WireType("Real", (width,)),), (WireType("Real", (outputs,)),))
    found = fixed_function_problems("g", sig, "mylib.fns:double")
    assert [p.code for p in found] == ([] if width == outputs else ["fixed-function-signature"])


def test_a_function_on_a_learner_and_a_net_on_a_fixed_box_are_explained(allowed: Path) -> None:
    text = TASK.format(path="mylib.fns:double", by="") + 'impl f = "mylib.fns:double"\n'
    program = taskdsl.check_text(text, "t.task").program
    (found,) = check_program(program)
    assert (found.code, found.span.line) == ("impl-function-learner", program.impl_spans["f"].line)
    assert "fixed f" in (found.help or "")
    with pytest.raises(LowerError) as caught:
        lower(program)
    assert caught.value.code == "impl-function-learner"
    program = taskdsl.check_text(TASK.format(path="x", by="").replace(
        'impl g = "x"', "impl g = nets.mlp()"), "t.task").program
    (found,) = check_program(program)
    assert found.code == "fixed-needs-load" and "mypkg.fns:function" in (found.help or "")


def test_an_untrusted_function_is_refused_everywhere_without_importing_it(package: Path) -> None:
    program = program_of()
    assert [d.code for d in check_program(program)] == ["user-function-not-allowed"]
    for make in (lambda: lower(program, impls=tiny_impls(program)),
                 lambda: compile_objective(program, impls=tiny_impls(program))):
        with pytest.raises(LowerError) as caught:
            make()
        assert caught.value.code == "user-function-not-allowed"
    assert not (package / "imported").exists()


# ------------------------------------------------------- lowering and compiling
def test_the_function_has_no_parameters_and_gradient_flows_through_it(allowed: Path) -> None:
    program = program_of()
    low = lower(program, impls=tiny_impls(program))
    params = low.init(jax.random.key(0))
    assert low.trained == ("f",) and jax.tree.leaves(params["g"]) == []
    batch = raw_batch(low, 4, seed=1)
    ((x, y),) = batch.values()
    _, tasks = low.loss(params, batch, jax.random.key(2), 4)
    (fx,) = low.apply("f", params, x)
    expected = np.mean((2 * np.asarray(fx) - y) ** 2)  # MSE: the mean over each number
    np.testing.assert_allclose(float(tasks["fit"]), expected, rtol=1e-5)
    grads = jax.jit(jax.grad(lambda p: low.loss(p, batch, jax.random.key(2), 4)[0]))(params)
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads["f"])) > 0


def test_the_compiled_module_imports_the_function_by_its_path_and_agrees(
        allowed: Path, tmp_path: Path) -> None:
    program = program_of()
    low = lower(program, impls=tiny_impls(program))
    params, batch, key = low.init(jax.random.key(0)), raw_batch(low, 4, seed=1), jax.random.key(2)
    _, tasks = low.loss(params, batch, key, 4)
    source = compile_objective(program, impls=tiny_impls(program))
    assert "importlib.import_module('mylib.fns'), 'double'" in source
    module = module_of(source, tmp_path / "compiled.py")
    assert module.LEARNERS == ("f",)  # the fixed function needs no apply, no params
    apply = {"f": lambda state, *xs: low.apply("f", {"f": state}, *xs)}
    _, compiled = module.loss(apply, {"f": params["f"]}, batch, key, 4)
    np.testing.assert_allclose(float(compiled["fit"]), float(tasks["fit"]), rtol=1e-6)
    ours = jax.grad(lambda p: low.loss({**params, "f": p}, batch, key, 4)[0])(params["f"])
    theirs = jax.grad(lambda p: module.loss(apply, {"f": p}, batch, key, 4)[0])(params["f"])
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    imported = {n.module if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import | ast.ImportFrom)
                for a in n.names}
    assert imported == {"__future__", "collections.abc", "typing", "jax", "jax.numpy", "optax",
                        "importlib"}  # the user's module only by its path, as a literal


# ------------------------------------------------------- runs: records and reopening
def test_a_runs_imports_list_its_functions_and_the_policy_reads_their_modules(
        package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = program_of("ownfns:double", by="  by mylib.fns:cube")
    named = trust.imports(program.impls, NETS, user_function_paths(program))
    assert named == ["mylib.fns:cube", "ownfns:double"]
    monkeypatch.setenv(trust.ENV, "ownfns")
    assert [p.found for p in trust.refusals(named)] == ["mylib.fns"]
    monkeypatch.setenv(trust.ENV, "ownfns,mylib.fns")
    assert trust.refusals(named) == []


@pytest.mark.parametrize("impl", ["mylib.fns:double", Name("mylib.fns:double")])
def test_a_function_impl_reads_back_from_a_runs_settings(impl: object) -> None:
    program = program_of()
    saved = json.loads(json.dumps(Settings(impls={"g": impl}).to_json()))
    assert saved["impls"] == {"g": "mylib.fns:double"} or saved["impls"] == {
        "g": '"mylib.fns:double"'}
    back = from_json(program, "fit", saved)
    assert fixed_functions(program, program.objective("fit"), back.impls) == {
        "g": "mylib.fns:double"}


@pytest.mark.slow  # a whole `taskdsl train` run: about 6 s on 2 busy cores
def test_a_run_records_the_functions_module_and_reopens_only_when_allowed(
        allowed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from taskdsl.backends.jax.evaluation.errors import EvalError
    from taskdsl.backends.jax.training.runs import load_run
    from taskdsl.backends.jax.training.train import train

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "pts.npz", x=rng.standard_normal((64, 2)).astype(np.float32),
             y=rng.standard_normal((64, 2)).astype(np.float32))
    text = TASK.format(path="mylib.fns:double", by="  by mylib.fns:cube") + """
impl f = nets.mlp(width = 8, depth = 1)

train fit:
    data pts = datasets.npz(path = "pts.npz", fields = ["x", "y"])
    steps 4
    batch 8
    tensorboard false
"""
    (tmp_path / "t.task").write_text(text, encoding="utf-8")
    result = taskdsl.check_file("t.task")
    assert result.ok, result.render()
    assert check_program(result.program) == []
    train(result.program, "fit", out="run", progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text(encoding="utf-8"))
    assert config["imports"] == ["mylib.fns:cube", "mylib.fns:double"]
    run = load_run("run")
    assert run.step == 4 and jax.tree.leaves(run.params["g"]) == []
    monkeypatch.delenv(trust.ENV)
    with pytest.raises(EvalError) as caught:
        load_run("run")
    assert caught.value.code == "user-function-not-allowed", str(caught.value)
    assert "mylib.fns" in str(caught.value)
