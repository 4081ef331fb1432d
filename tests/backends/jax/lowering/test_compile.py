"""``compile_objective``: the standalone module computes what ``Lowered`` computes."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import jax
import numpy as np
import optax
import pytest

import taskdsl
from taskdsl.backends.jax.lowering.compile import compile_objective, write_module
from taskdsl.backends.jax.lowering.lower import Lowered, LowerError, lower, make_train_step
from taskdsl.builtins import BUILTINS
from taskdsl.ir import BoxKind, Call, Program
from tests.backends.jax.compiled_modules import learner_fns, module_of

B = 8
TINY = Call("nets.mlp", (), {"width": 8, "depth": 1})

# Every builtin (drop on numbers and on words too), every kind of source, every divergence,
# shared lets, several outputs.
EVERYTHING = """
type Image = Real[4]
data pairs : -> Image, Class[3]
random bits : -> Binary[2] ~ uniform
random unif : -> Real[4] ~ uniform
random noise : -> Real[2] ~ normal
random frac : -> Real[1] ~ uniform
random toks : -> Tokens[5, 3] ~ uniform
const half : -> Real[4] = 0.5
const prior : -> Gaussian[2] = 0
const first : -> Class[3] = 0
const on : -> Binary[2] = 1
learner enc : Image, Binary[2] -> Gaussian[2]
learner dec : Real[2] -> Image
learner cls : Image -> Class[3]
learner tag : Tokens[5, 3] -> Binary[2]
learner two : Real[8] -> Real[2, 2]
learner pair : Image -> Image, Class[3]

task vae:
    x, y <- pairs
    b <- bits
    let z = enc(x, b)
    dec(sample(z)), z = x, prior
task arith:
    u <- unif
    x, _ <- pairs
    flatten(two(concat(x, u))) = add(scale[0.5](sub(x, u)), mul(neg(x), half))  by l1
task robust:
    x, _ <- pairs
    n <- noise
    dec(drop[0.3](n)) = x       by huber
task agree:
    x, y <- pairs
    n <- noise
    cls(x) = cls(dec(n))        by kl
task tagged:
    t <- toks
    tag(drop[0.5](t)) = on      trains tag
task bits_first:
    t <- toks
    b <- bits
    b = tag(t)
task firsts:
    x, _ <- pairs
    cls(x) = first              by mse
task multi:
    x, y <- pairs
    pair(x) = x, y
task classify:
    x, y <- pairs
    cls(x) = y                  trains cls
task edit:
    _, y <- pairs
    n <- noise
    cls(dec(n)) = y             trains dec
task reduce:
    x, _ <- pairs
    n <- noise
    let d = dec(n)
    let h = two(concat(x, x))
    concat(concat(sum(d), mean(d)), norm(h)) = concat(concat(dot(x, stop(d)), cosine(x, d)), mean(x))
task classes:
    x, y <- pairs
    cls(x) = softmax(add(one_hot(y), one_hot(argmax(one_hot(cls(x))))))
task between:
    x, _ <- pairs
    n <- noise
    w <- frac
    dec(n) = mix(x, dec(n), w)  by mse

objective more = reduce + classes + between
objective everything = vae + 2 * arith + robust + 0.5 * agree + tagged + bits_first + firsts + multi + more
objective routed = classify + edit
"""


def program() -> Program:
    result = taskdsl.check_text(EVERYTHING)
    assert result.ok, result.render()
    return result.program


def random_batch(low: Lowered) -> dict[str, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(0)
    return {r.key: (rng.random((B, 4), dtype=np.float32), rng.integers(0, 3, B))
            for r in low.data_requests()}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Lowered, ModuleType]]:
    prog = program()
    impls = {n: TINY for n, d in prog.declarations.items() if d.kind is BoxKind.LEARNER}
    folder = tmp_path_factory.mktemp("compiled")
    return {name: (lower(prog, name, impls), module_of(compile_objective(prog, name),
                                                  folder / f"{name}.py"))
            for name in ("everything", "routed")}


@pytest.mark.parametrize("objective", ["everything", "routed"])
def test_compiled_loss_equals_the_lowered_loss(compiled: dict, objective: str) -> None:
    low, module = compiled[objective]
    params, batch, key = low.init(jax.random.key(0)), random_batch(low), jax.random.key(3)
    total, tasks = jax.jit(low.loss, static_argnums=3)(params, batch, key, B)
    apply = learner_fns(low)
    total_c, tasks_c = jax.jit(lambda *args: module.loss(apply, *args, B))(params, batch, key)
    assert list(tasks_c) == list(tasks)
    for name in tasks:
        np.testing.assert_allclose(tasks_c[name], tasks[name], rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(total_c, total, rtol=1e-5)
    assert all(np.isfinite(float(v)) and float(v) != 0 for v in tasks.values())


def test_compiled_train_step_routes_gradients_like_the_lowering(compiled: dict) -> None:
    """One step of each: the same metrics, the same new parameters."""
    low, module = compiled["routed"]
    batch, key = random_batch(low), jax.random.key(3)
    results = []
    for init_opt_state, step in (make_train_step(low, optax.adam(1e-2)),
                                 module.make_train_step(learner_fns(low), optax.adam(1e-2), B)):
        params = low.init(jax.random.key(0))
        results.append(step(params, init_opt_state(params), batch, key))
    (params_l, _, metrics_l), (params_c, _, metrics_c) = results
    assert set(metrics_c) == set(metrics_l)
    for name in metrics_l:
        np.testing.assert_allclose(metrics_c[name], metrics_l[name], rtol=1e-5, err_msg=name)
    for a, b in zip(jax.tree.leaves(params_l), jax.tree.leaves(params_c), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_the_program_above_uses_every_builtin() -> None:
    objective = program().objective("everything")
    used = {b.name for t in objective.terms for side in (t.equation.lhs, t.equation.rhs)
            for b in side.boxes if b.kind is BoxKind.BUILTIN}
    assert used == set(BUILTINS)


def test_the_module_imports_nothing_but_jax_optax_and_the_standard_library() -> None:
    tree = ast.parse(compile_objective(program(), "everything"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported == {"__future__", "collections", "typing", "jax", "optax"}


def test_the_module_has_one_function_per_task_named_after_it() -> None:
    source = compile_objective(program(), "routed")
    functions = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    assert {"task_classify", "task_edit", "loss", "make_train_step"} <= set(functions)
    assert "params = route(params, ('cls',))" in source  # classify trains only cls


def test_write_module_writes_the_source(tmp_path: Path) -> None:
    path = write_module(program(), tmp_path / "routed.py", "routed")
    assert path.read_text(encoding="utf-8") == compile_objective(program(), "routed")


def test_an_unknown_objective_is_a_lower_error() -> None:
    with pytest.raises(LowerError, match="no objective or task called `nope`"):
        compile_objective(program(), "nope")


TRAINED_AS_WRITTEN = """
data reals : -> Real[4], Real[4]
learner f : Real[4] -> Real[4]
task fit:
    x, y <- reals
    f(x) = y
task back:
    x, y <- reals
    f(y) = x
objective both = fit + back
impl f = nets.mlp(width = 8, depth = 1)
train both:
    weights each(back: 0.25)
    optimizer adam(lr = cosine(0.01, warmup = 5))
    steps 50
"""


def test_taskdsl_compile_writes_the_train_blocks_weights_and_optimizer(tmp_path: Path) -> None:
    """The command compiles what `taskdsl train` trains: a weight and a schedule set in the
    train block reach the module (its loss weights `back` by 0.25; its optimizer plan is
    the cosine schedule over the run's 50 steps)."""
    from taskdsl.cli import main

    task = tmp_path / "both.task"
    task.write_text(TRAINED_AS_WRITTEN, encoding="utf-8")
    assert main(["compile", str(task), "-o", str(tmp_path / "both.py")]) == 0
    module = module_of((tmp_path / "both.py").read_text(encoding="utf-8"),
                       tmp_path / "both_module.py")
    assert module.OPTIMIZER[0][2][:4] == ("cosine", 0.01, 5, 50)
    program = taskdsl.check_text(TRAINED_AS_WRITTEN, "both.task").program
    low = lower(program, "both")
    params = low.init(jax.random.key(0))
    batch = {r.key: (np.ones((4, 4), np.float32), np.zeros((4, 4), np.float32))
             for r in low.data_requests()}
    total, tasks = module.loss(learner_fns(low), params, batch, jax.random.key(1), 4)
    np.testing.assert_allclose(total, tasks["fit"] + 0.25 * tasks["back"], rtol=1e-6)
