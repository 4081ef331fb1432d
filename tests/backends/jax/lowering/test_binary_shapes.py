"""The JAX side of ``Binary`` wires of any shape (issue 12, Bernoulli images): nets give
image-shaped Bernoulli logits, the value layer squashes them per pixel, ``nll``/``bce``
read them, ``sample`` and ``~ uniform`` draw bits of the wire's shape, the lowering and
``compile`` agree, MNIST can be binarised, and a picture shows the probabilities."""

from __future__ import annotations

import struct
from pathlib import Path
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

import taskdsl
from taskdsl.backends.jax.data import DataError, load_mnist
from taskdsl.backends.jax.evaluation.pictures import is_drawable, learner_picture
from taskdsl.backends.jax.lowering import builtins as backend
from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.divergences import divergence
from taskdsl.backends.jax.lowering.lower import Lowered, lower
from taskdsl.backends.jax.lowering.values import Value
from taskdsl.backends.jax.nets import build
from taskdsl.types import WireType
from tests.backends.jax.compiled_modules import learner_fns, module_of, raw_batch, tiny_impls

IMAGE = WireType("Binary", (8, 8, 1))
GREY = WireType("Real", (8, 8, 1))
CODE = WireType("Real", (4,))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ------------------------------------------------------------------------- nets
@pytest.mark.parametrize("net", ["conv_decoder", "mlp"])
def test_a_decoder_gives_logits_of_a_binary_image(net: str) -> None:
    """The Binary output is the same numbers a linear Real image output would be: logits,
    never squashed twice (the value layer applies the one sigmoid)."""
    options = {"width": 4} if net == "conv_decoder" else {"width": 8, "depth": 1}
    z = jax.random.normal(jax.random.key(1), (3, 4))
    binary = build(net, [CODE], [IMAGE], options, nnx.Rngs(0))
    linear = {**options, "activation": "linear"} if net == "conv_decoder" else options
    real = build(net, [CODE], [GREY], linear, nnx.Rngs(0))
    (bits,), (reals,) = binary(z), real(z)
    assert bits.shape == (3, 8, 8, 1)
    np.testing.assert_allclose(bits, reals, rtol=1e-6)


@pytest.mark.slow  # about 7 s on 2 busy cores: two U-Nets and an encoder, eagerly
def test_image_nets_read_and_write_binary_images() -> None:
    image = (jax.random.uniform(jax.random.key(2), (2, 8, 8, 1)) > 0.5).astype(jnp.float32)
    encoder = build("conv_encoder", [IMAGE], [CODE], {"width": 4}, nnx.Rngs(0))
    (code,) = encoder(image)
    assert code.shape == (2, 4)
    bits = build("unet", [IMAGE], [IMAGE], {"width": 4, "depth": 1}, nnx.Rngs(0))
    reals = build("unet", [GREY], [GREY], {"width": 4, "depth": 1, "activation": "linear"},
                  nnx.Rngs(0))
    (edited,), (linear,) = bits(image), reals(image)
    np.testing.assert_allclose(edited, linear, rtol=1e-6)


# ----------------------------------------------------------------- values and losses
@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(0, 2**16))
def test_bernoulli_nll_of_any_shape_is_the_sum_over_pixels(shape: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    wire = WireType("Binary", tuple(shape))
    logits = rng.normal(0, 3, (2, *shape)).astype(np.float32)
    grey = rng.random((2, *shape)).astype(np.float32)
    out = Value.from_learner(logits, wire)
    np.testing.assert_allclose(out.array, sigmoid(logits), rtol=1e-5, atol=1e-6)
    p = sigmoid(logits.astype(np.float64))
    per_pixel = -(grey * np.log(p) + (1 - grey) * np.log(1 - p))
    nll = divergence("nll")(out, Value.from_data(grey, WireType("Real", tuple(shape))))
    np.testing.assert_allclose(nll, per_pixel.reshape(2, -1).sum(1), rtol=1e-4)
    bits = (grey > 0.5).astype(np.float32)
    bce = divergence("bce")(out, Value.from_data(bits, wire))
    expected = -(bits * np.log(p) + (1 - bits) * np.log(1 - p))
    np.testing.assert_allclose(bce, expected.reshape(2, -1).mean(1), rtol=1e-4)


def test_nll_refuses_data_of_another_shape() -> None:
    out = Value.from_learner(np.zeros((2, 8, 8, 1), np.float32), IMAGE)
    flat = Value.from_data(np.zeros((2, 64), np.float32), WireType("Real", (64,)))
    with pytest.raises(ValueError, match="nll"):
        divergence("nll")(out, flat)


def test_sample_draws_bits_of_the_wires_shape_at_its_probabilities() -> None:
    p = jnp.broadcast_to(jnp.linspace(0.05, 0.95, 8)[:, None, None], (8, 8, 1))
    probs = Value.from_data(jnp.broadcast_to(p, (4000, 8, 8, 1)), IMAGE)
    (drawn,) = backend.BUILTINS["sample"]((probs,), (), jax.random.key(3), (IMAGE,))
    assert drawn.array.shape == (4000, 8, 8, 1)
    assert set(np.unique(drawn.array)) <= {0.0, 1.0}
    np.testing.assert_allclose(drawn.array.mean(axis=0), p, atol=0.03)


def test_uniform_bits_fill_a_binary_image() -> None:
    (drawn,) = backend.BUILTINS["uniform"]((), (), jax.random.key(4), (IMAGE,), batch=500)
    assert drawn.array.shape == (500, 8, 8, 1)
    assert set(np.unique(drawn.array)) == {0.0, 1.0}
    assert abs(float(drawn.array.mean()) - 0.5) < 0.02


# ------------------------------------------------------------ lowering and compile
PROGRAM = """data pics : -> Real[4, 4, 1]
learner encode : Real[4, 4, 1] -> Gaussian[2]
learner decode : Real[2] -> Binary[4, 4, 1]
learner redo : Binary[4, 4, 1] -> Binary[4, 4, 1]
random coins : -> Binary[4, 4, 1] ~ uniform

task reconstruct:
    x <- pics
    decode(sample(encode(x))) = x  by nll

task regularise:
    x <- pics
    encode(x) = 0

task resample:
    x <- pics
    redo(sample(decode(sample(encode(x))))) = decode(sample(encode(x)))  by bce

task noise:
    c <- coins
    redo(c) = c  by l1

objective all = reconstruct + regularise + resample + noise
"""


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lowered, ModuleType, dict, dict]:
    result = taskdsl.check_text(PROGRAM, "bits.task")
    assert result.ok, result.render()
    program = result.program
    low = lower(program, "all", tiny_impls(program))
    module = module_of(compile_objective(program, "all", phases=()),
                       tmp_path_factory.mktemp("bits") / "bits.py")
    batch = {k: (np.random.default_rng(0).random(v[0].shape).astype(np.float32),)
             for k, v in raw_batch(low, 5).items()}
    return low, module, low.init(jax.random.key(0)), batch


def test_the_lowering_and_compile_agree_on_binary_images(both: tuple) -> None:
    low, module, params, batch = both
    key, apply = jax.random.key(7), learner_fns(low)
    fast = {"xla_backend_optimization_level": 0}
    (_, tasks), grads = jax.jit(jax.value_and_grad(low.loss, has_aux=True), static_argnums=3,
                                compiler_options=fast)(params, batch, key, 5)
    (_, tasks_c), grads_c = jax.jit(jax.value_and_grad(
        lambda p: module.loss(apply, p, batch, key, 5), has_aux=True),
        compiler_options=fast)(params)
    assert set(tasks) == {"reconstruct", "regularise", "resample", "noise"}
    for name, value in tasks.items():
        assert np.isfinite(float(value)), name
        np.testing.assert_allclose(tasks_c[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    for a, b in zip(jax.tree.leaves(grads_c), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_no_gradient_flows_through_drawn_bits() -> None:
    """A Bernoulli draw is not reparameterisable: its gradient in the probabilities is 0,
    where a Gaussian draw's gradient in its mean is 1 per element."""
    p = jnp.full((3, 2, 2, 1), 0.5)
    bits = jax.grad(lambda q: backend.sample(jax.random.key(0), q, bits=True).sum())(p)
    assert not np.any(bits)
    stack = jnp.zeros((3, 2, 2, 2, 1))
    reals = jax.grad(lambda q: backend.sample(jax.random.key(0), q).sum())(stack)
    np.testing.assert_allclose(reals[:, 0], 1.0)


# ---------------------------------------------------------------- data and pictures
def write_idx(path: Path, array: np.ndarray) -> None:
    header = b"\0\0\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_binarised_at_a_threshold(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (6, 28, 28))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(6))
    grey = load_mnist("test", path=tmp_path).fields["image"]
    bits = load_mnist("test", path=tmp_path, binarize=0.3).fields["image"]
    assert bits.shape == grey.shape == (6, 28, 28, 1) and bits.dtype == np.float32
    np.testing.assert_array_equal(bits, (grey > 0.3).astype(np.float32))
    with pytest.raises(DataError, match="binarize"):
        load_mnist("test", path=tmp_path, binarize=1.5)


def test_a_binary_image_is_drawn_as_its_probabilities() -> None:
    logits = np.array([[-50.0, 0.0], [2.0, 50.0]], np.float32)[..., None]
    picture = learner_picture(logits, WireType("Binary", (2, 2, 1)))
    np.testing.assert_allclose(picture, sigmoid(logits.astype(np.float64)), atol=1e-6)
    np.testing.assert_array_equal(learner_picture(logits, WireType("Real", (2, 2, 1))), logits)
    assert is_drawable(IMAGE) and is_drawable(GREY)
    assert not is_drawable(WireType("Binary", (64,)))
