"""``build``: from an ``impl`` line's net name and options to a constructed Flax module.

Builtin nets are looked up in ``NETS``; any other dotted name is a user's Flax
module class, imported and checked against the learner's type by tracing it
once with ``jax.eval_shape`` (no FLOPs), so a mismatch is reported at build
time with the net's name rather than as a shape error deep inside a train step.

A dotted name is imported only where ``trust`` allows it (taskdsl's own modules,
installed ``taskdsl.nets`` entry points, modules the user allowed), and never
from the current folder by accident; ``nets.NAME`` that is not builtin is looked
up among the entry points.  Else the problem is ``net-import-not-allowed``.

``problems`` finds the same mistakes without building anything and returns them
all (``taskdsl check`` locates each at its ``impl`` line); ``build`` raises the
first, so the two cannot disagree.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from taskdsl.types import WireType

from .. import trust
from ..messages import Problem, show
from . import errors
from .base import Net
from .cnn import CNN
from .conv import ConvDecoder, ConvEncoder
from .mlp import MLP
from .text import TextDecoder, TextEditor, TextEncoder
from .unet import UNet

NETS: dict[str, type[Net]] = {
    "mlp": MLP,
    "cnn": CNN,
    "conv_encoder": ConvEncoder,
    "conv_decoder": ConvDecoder,
    "unet": UNet,
    "text_encoder": TextEncoder,
    "text_decoder": TextDecoder,
    "text_editor": TextEditor,
}

# Constructor parameters that the backend fills in; every other one is an option.
_GIVEN = frozenset({"self", "inputs", "outputs", "rngs"})


def build(name: str, inputs: Sequence[WireType], outputs: Sequence[WireType],
          options: Mapping[str, object], rngs: nnx.Rngs) -> nnx.Module:
    """Construct the net ``name`` (``cnn`` or ``nets.cnn``, or a dotted path) for a learner.

    The module's ``__call__(*xs)`` takes one batch per input wire and returns a
    tuple with one batch per output wire, in the wire conventions of
    ``backends/jax/lowering/values.py`` (logits for categorical outputs).
    """
    inputs, outputs = tuple(inputs), tuple(outputs)
    cls, found = _resolve(name, inputs, outputs, options)
    if found or cls is None:
        raise errors.NetError(found[0])
    module = cls(inputs=inputs, outputs=outputs, rngs=rngs, **options)
    if cls not in NETS.values():
        _check_outputs(name.removeprefix("nets."), module, inputs, outputs)
    return module


def problems(name: str, inputs: Sequence[WireType], outputs: Sequence[WireType],
             options: Mapping[str, object]) -> list[Problem]:
    """Everything wrong with implementing ``inputs -> outputs`` by net ``name`` with
    ``options``, found with no FLOPs: the name, every option, the signature, and for a
    user's module (imported) what it returns when built and called abstractly."""
    inputs, outputs = tuple(inputs), tuple(outputs)
    cls, found = _resolve(name, inputs, outputs, options)
    if found or cls is None or cls in NETS.values():
        return found
    path = name.removeprefix("nets.")
    try:
        module = nnx.eval_shape(lambda: cls(inputs=inputs, outputs=outputs, rngs=nnx.Rngs(0),
                                            **options))
        _check_outputs(path, module, inputs, outputs)
    except errors.NetError as error:
        return [error.problem or errors.user_import(path, str(error))]
    except Exception as error:  # a user's code may raise anything; report it, located
        return [errors.user_import(path, f"building it on the learner's wires raised "
                                         f"{type(error).__name__}: {error}")]
    return []


def _resolve(name: str, inputs: tuple[WireType, ...], outputs: tuple[WireType, ...],
             options: Mapping[str, object]) -> tuple[type[nnx.Module] | None, list[Problem]]:
    """The class ``name`` names, and what is wrong before building it: its name (then no
    class), its options, and whether it can take the signature."""
    short = name.removeprefix("nets.")
    if short in NETS:
        cls = NETS[short]
        found = _option_problems(short, cls, options, builtin=True)
        if not cls.accepts(inputs, outputs):
            found.append(errors.bad_signature(short, cls.expects, inputs, outputs))
        return cls, found
    declared = trust.net_entry_points()
    if "." not in short and short in declared:
        short = declared[short].replace(":", ".").replace(" ", "")
    elif "." not in short:
        return None, [errors.unknown_net(short, [*NETS, *declared])]
    refusal = trust.current().refusal(short)
    if refusal is not None:
        return None, [refusal]
    try:
        user = _load(short)
    except errors.NetError as error:
        return None, [error.problem or errors.user_import(short, str(error))]
    found = _option_problems(short, user, options, builtin=False)
    found += _arity_problems(short, user, inputs, outputs)
    return user, found


def _load(path: str) -> type[nnx.Module]:
    module_name, _, attr = path.rpartition(".")
    try:
        module = trust.guarded_import(module_name)
    except Exception as e:  # ImportError, or anything the user's module raises on import
        raise errors.NetError(errors.user_import(
            path, f"cannot import module `{module_name}` ({type(e).__name__}: {e})")) from e
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, nnx.Module)):
        found = "nothing" if cls is None else repr(cls)
        raise errors.NetError(errors.user_import(
            path, f"`{attr}` in module `{module_name}` is {found}, not a Flax NNX Module class"
        ))
    return cls


def _option_problems(name: str, cls: type, options: Mapping[str, object], *,
                     builtin: bool) -> list[Problem]:
    """Options ``cls.__init__`` does not take, and values its annotations rule out.

    Builtin nets' integer options are sizes and counts, so they must be at least 1.
    """
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return []
    valid = [n for n, p in params.items() if n not in _GIVEN and p.kind is not p.VAR_POSITIONAL]
    try:
        hints = typing.get_type_hints(cls.__init__)
    except (NameError, TypeError):  # a user's annotations we cannot resolve: names only
        hints = {}
    found = []
    for option, value in options.items():
        if option not in valid:
            found.append(errors.bad_option(name, option, valid))
            continue
        expected = _violated(hints.get(option), value, positive=builtin)
        if expected:
            found.append(errors.bad_option_value(name, option, value, expected))
    return found


def _violated(hint: object, value: object, *, positive: bool) -> str | None:
    """What ``value`` should have been if it does not fit ``hint``, else ``None``."""
    if typing.get_origin(hint) is typing.Literal:
        choices = typing.get_args(hint)
        return None if value in choices else "one of " + ", ".join(map(show, choices))
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            return "an integer"
        return "at least 1" if positive and value < 1 else None
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "a number"
    if hint in (str, bool):
        return None if isinstance(value, hint) else f"a {hint.__name__}"
    return None


def _arity_problems(name: str, cls: type, inputs: tuple[WireType, ...],
                    outputs: tuple[WireType, ...]) -> list[Problem]:
    """A user module's ``__call__`` must take one positional argument per input wire."""
    params = list(inspect.signature(cls.__call__).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if len(required) <= len(inputs) <= len(positional):
        return []
    count = (str(len(positional)) if len(required) == len(positional)
             else f"{len(required)} to {len(positional)}")
    call = ", ".join(p.name for p in positional)
    return [errors.bad_signature(name, f"{count} inputs, as its `__call__({call})` takes",
                                 inputs, outputs)]


def _check_outputs(name: str, module: nnx.Module, inputs: tuple[WireType, ...],
                   outputs: tuple[WireType, ...]) -> None:
    """Trace the user's module on a batch of 2 and compare what it returns to ``outputs``."""
    graphdef, state = nnx.split(module)

    def run(state: nnx.State, *xs: jax.Array) -> object:
        return nnx.merge(graphdef, state)(*xs)

    batch = 2
    shapes = [jax.ShapeDtypeStruct((batch, *t.value_shape), jnp.float32) for t in inputs]
    found = jax.eval_shape(run, state, *shapes)
    wanted = [(batch, *t.value_shape) for t in outputs]
    if isinstance(found, tuple) and [getattr(f, "shape", None) for f in found] == wanted:
        return
    raise errors.NetError(errors.bad_user_outputs(name, _describe(found, batch), inputs, outputs))


def _describe(found: object, batch: int) -> str:
    def shape(x: object) -> str:
        dims = getattr(x, "shape", None)
        if dims is None:
            return type(x).__name__
        dims = ["batch" if i == 0 and d == batch else str(d) for i, d in enumerate(dims)]
        return f"({', '.join(dims)})"

    if isinstance(found, tuple):
        return f"a tuple of {len(found)}: {', '.join(map(shape, found)) or 'nothing'}"
    return f"a single {shape(found)}, not a tuple"
