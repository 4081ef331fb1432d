"""``build``: the registry, options, user modules by dotted path, errors, and jit."""

from __future__ import annotations

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from taskdsl.backends.jax.messages import show
from taskdsl.backends.jax.nets import NETS, NetError, build

from .nets_cases import CODE, EXAMPLES, LABEL, MNIST, SENTENCE, TINY, batch, shapes


def test_every_builtin_net_has_an_example() -> None:
    assert set(EXAMPLES) == set(NETS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_jitted_net_matches_eager(name: str) -> None:
    inputs, outputs, options = EXAMPLES[name]
    net = build(name, inputs, outputs, options, nnx.Rngs(0))
    xs = batch(inputs)
    graphdef, state = nnx.split(net)
    jitted = jax.jit(lambda state, *xs: nnx.merge(graphdef, state)(*xs))(state, *xs)
    eager = net(*xs)
    assert shapes(jitted) == [(3, *t.value_shape) for t in outputs]
    for a, b in zip(jitted, eager, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_nets_prefix_is_accepted() -> None:
    net = build("nets.cnn", (MNIST,), (LABEL,), TINY, nnx.Rngs(0))
    assert type(net) is NETS["cnn"]


def test_unknown_net_lists_names_and_suggests_the_closest() -> None:
    with pytest.raises(NetError) as e:
        build("unte", (MNIST, LABEL), (MNIST,), {}, nnx.Rngs(0))
    message = str(e.value)
    assert "unknown net `nets.unte`" in message
    assert "did you mean `nets.unet`?" in message
    for name in NETS:
        assert f"`nets.{name}`" in message


def test_an_unknown_net_far_from_every_name_gets_no_suggestion() -> None:
    """The nets suggest as every other message does (``taskdsl.suggest``): only a near name."""
    with pytest.raises(NetError) as e:
        build("transformerxl", (MNIST,), (LABEL,), {}, nnx.Rngs(0))
    assert "did you mean" not in str(e.value)
    assert e.value.code == "net-unknown"


@pytest.mark.parametrize(
    ("name", "inputs", "outputs", "expects"),
    [
        ("cnn", (MNIST,), (MNIST,), "an image (Real[H, W, C]) plus optional conditioning"),
        ("unet", (CODE, LABEL), (MNIST,), "one image of the same height and width"),
        ("unet", (MNIST,), (LABEL,), "one image of the same height and width"),
        ("conv_decoder", (MNIST,), (MNIST,), "one or more non-image inputs"),
        ("text_encoder", (CODE,), (LABEL,), "a Tokens[v, l] input"),
        ("text_editor", (CODE,), (SENTENCE,), "a Tokens[v, l] input"),
        ("mlp", (), (LABEL,), "at least one input"),
    ],
)
def test_net_that_cannot_have_the_signature_says_what_it_expects(name, inputs, outputs,
                                                                  expects) -> None:
    with pytest.raises(NetError) as e:
        build(name, inputs, outputs, {}, nnx.Rngs(0))
    message = str(e.value)
    assert f"net `{name}` cannot implement a learner of type" in message
    assert expects in message


def test_signature_message_shows_aliases_with_their_meaning() -> None:
    with pytest.raises(NetError, match=r"of type Image \(Real\[28, 28, 1\]\) -> Image \(Real"):
        build("cnn", (MNIST,), (MNIST,), {}, nnx.Rngs(0))


def test_unknown_option_lists_the_valid_ones() -> None:
    with pytest.raises(NetError) as e:
        build("unet", (MNIST,), (MNIST,), {"widht": 8}, nnx.Rngs(0))
    assert str(e.value) == (
        "net `unet` has no option `widht`; expected one of: `activation`, `depth`, `width`; "
        "did you mean `width`?"
    )


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("activation", "relu", 'one of "sigmoid", "linear"'),
        ("width", "32", "an integer"),
        ("width", True, "an integer"),
        ("depth", 0, "at least 1"),
    ],
)
def test_bad_option_value_says_what_it_must_be(option: str, value: object, expected: str) -> None:
    with pytest.raises(NetError) as e:
        build("unet", (MNIST,), (MNIST,), {option: value}, nnx.Rngs(0))
    assert str(e.value) == f"option `{option}` of net `unet` must be {expected}, got {show(value)}"


USER_MODULE = '''
    import jax.numpy as jnp
    from flax import nnx


    class Scaled(nnx.Module):
        """Adds a learned vector to the code; ``scale`` is an option."""

        def __init__(self, inputs, outputs, *, rngs, scale: float = 1.0):
            self.scale = scale
            self.dense = nnx.Linear(inputs[0].value_shape[0], outputs[0].value_shape[0], rngs=rngs)

        def __call__(self, code, label):
            return (self.scale * self.dense(code) + label.sum(-1, keepdims=True),)


    class Bare(Scaled):
        """Returns an array, not a tuple."""

        def __call__(self, code, label):
            return super().__call__(code, label)[0]


    NOT_A_MODULE = 3
'''


@pytest.fixture
def user_package(tmp_path, monkeypatch) -> str:
    package = tmp_path / "usernets_for_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "usernets_for_test.models"


def test_user_module_by_dotted_path(user_package: str) -> None:
    net = build(f"{user_package}.Scaled", (CODE, LABEL), (LABEL,), {"scale": 0.0}, nnx.Rngs(0))
    assert type(net).__name__ == "Scaled"
    code, label = batch((CODE, LABEL))
    (out,) = net(code, label)
    np.testing.assert_allclose(out, jnp.broadcast_to(label.sum(-1, keepdims=True), (3, 10)))


def test_user_module_with_wrong_number_of_inputs(user_package: str) -> None:
    with pytest.raises(NetError) as e:
        build(f"{user_package}.Scaled", (CODE,), (LABEL,), {}, nnx.Rngs(0))
    assert str(e.value).startswith(
        f"net `{user_package}.Scaled` cannot implement a learner of type Real[6] -> Class[10]; "
        "expected 2 inputs, as its `__call__(code, label)` takes"
    )


def test_user_module_with_wrong_outputs(user_package: str) -> None:
    with pytest.raises(NetError) as e:
        build(f"{user_package}.Bare", (CODE, LABEL), (LABEL,), {}, nnx.Rngs(0))
    assert "must return a tuple of arrays shaped (batch, 10), but returned a single " \
           "(batch, 10), not a tuple" in str(e.value)
    with pytest.raises(NetError, match=r"returned a tuple of 1: \(batch, 10\)"):
        build(f"{user_package}.Scaled", (CODE, LABEL), (LABEL, LABEL), {}, nnx.Rngs(0))


def test_user_module_options_are_checked(user_package: str) -> None:
    with pytest.raises(NetError, match="expected one of: `scale`"):
        build(f"{user_package}.Scaled", (CODE, LABEL), (LABEL,), {"width": 3}, nnx.Rngs(0))
    with pytest.raises(NetError, match='must be a number, got "big"'):
        build(f"{user_package}.Scaled", (CODE, LABEL), (LABEL,), {"scale": "big"}, nnx.Rngs(0))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("usernets_for_test.nowhere.Net", "cannot import module `usernets_for_test.nowhere`"),
        ("usernets_for_test.models.Missing", "`Missing` in module `usernets_for_test.models` is "
                                             "nothing, not a Flax NNX Module class"),
        ("usernets_for_test.models.NOT_A_MODULE", "is 3, not a Flax NNX Module class"),
    ],
)
def test_user_path_that_is_not_a_module_class(user_package: str, path: str, reason: str) -> None:
    with pytest.raises(NetError) as e:
        build(path, (CODE,), (LABEL,), {}, nnx.Rngs(0))
    assert str(e.value).startswith(f"cannot load user net `{path}`: ")
    assert reason in str(e.value)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_nets_hold_parameters_only(name: str) -> None:
    """No RNG or other mutable state: calling a net inside a plain ``jax.grad`` is safe."""
    inputs, outputs, options = EXAMPLES[name]
    net = build(name, inputs, outputs, options, nnx.Rngs(0))
    assert jax.tree.leaves(nnx.state(net, nnx.Not(nnx.Param))) == []
    assert jax.tree.leaves(nnx.state(net, nnx.Param))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_gradient_through_a_closed_over_net_reaches_its_inputs(name: str) -> None:
    """How the lowering differentiates through a frozen learner into the learners upstream."""
    inputs, outputs, options = EXAMPLES[name]
    net = build(name, inputs, outputs, options, nnx.Rngs(0))
    grads = jax.grad(lambda xs: sum(y.sum() for y in net(*xs)))(batch(inputs))
    assert all(float(jnp.abs(g).max()) > 0.0 for g in grads)
