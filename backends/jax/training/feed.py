"""Binding data sources to data sets, and drawing every step's batch from (seed, step) alone.

``data mnist = datasets.mnist(split = "train")`` binds the source ``mnist`` to
``data.load("mnist", split="train")``; the source's k declared outputs take the
data set's first k fields, or the fields a ``fields = [...]`` option names.
Shapes and class ranges are checked once, here, against the declared wire
types, so a mismatch is a message naming the source and the field rather than a
shape error inside a jitted step.  A source with no binding whose name is a data
set's (``data digits : -> ...``) is bound to that data set with its defaults.

Each draw (:class:`DataRequest`) walks its own permutation of the data set,
reshuffled every epoch.  The permutation is a pure function of (seed, draw,
epoch), so the batch at any step can be rebuilt without replaying earlier
steps: a resumed run sees exactly the data an uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from taskdsl.ir import Call
from taskdsl.types import WireType

from .. import data
from ..lowering.lower import DataRequest
from . import errors
from .settings import show

CATEGORICAL = ("Class", "Tokens")


@dataclass(frozen=True, eq=False)
class BoundSource:
    """A data source with its data set's chosen fields, one array per declared output."""

    name: str
    binding: str  # the binding as the file spells it, for messages and config.json
    arrays: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.arrays[0])


def bind(requests: Sequence[DataRequest], bindings: Mapping[str, Any],
         objective: str) -> dict[str, BoundSource]:
    """Every data source the requests draw from, loaded and checked against its wire types."""
    bound: dict[str, BoundSource] = {}
    for request in requests:
        if request.source not in bound:
            call = bindings.get(request.source)
            if call is None and request.source in data.LOADERS:
                call = Call(f"datasets.{request.source}")
            if call is None:
                raise errors.unbound_source(request.source, objective, list(data.LOADERS))
            bound[request.source] = _load(request.source, call, request.types)
    return bound


def _load(source: str, call: Any, wires: Sequence[WireType]) -> BoundSource:
    if not isinstance(call, Call):
        raise errors.binding_not_a_call(source, show(call))
    if call.args:
        raise errors.binding_positional(source, show(call))
    options = dict(call.kwargs)
    chosen = options.pop("fields", None)
    name = call.name.removeprefix("datasets.")
    try:
        dataset = data.load(name, **options)
    except data.DataError as error:
        raise errors.data_error(source, show(call), str(error)) from None
    if len(dataset) == 0:
        raise errors.empty_dataset(source, name)
    names = _field_names(source, dataset, wires, chosen)
    for position, (wire, field_name) in enumerate(zip(wires, names, strict=True), start=1):
        _check(source, position, wire, name, field_name, dataset.fields[field_name])
    return BoundSource(source, show(call), tuple(dataset.fields[n] for n in names))


def _field_names(source: str, dataset: data.Dataset, wires: Sequence[WireType],
                 chosen: Any) -> list[str]:
    """The fields that feed the outputs: the data set's first ones, or those ``fields`` names."""
    available = list(dataset.fields)
    if chosen is None:
        if len(available) < len(wires):
            raise errors.field_count(source, wires, dataset.name, available, chosen=False)
        return available[: len(wires)]
    if not isinstance(chosen, tuple) or not all(isinstance(c, str) for c in chosen):
        raise errors.bad_fields_option(source, show(chosen))
    for name in chosen:
        if name not in dataset.fields:
            raise errors.unknown_field(source, dataset.name, name, available)
    if len(chosen) != len(wires):
        raise errors.field_count(source, wires, dataset.name, list(chosen), chosen=True)
    return list(chosen)


def _check(source: str, position: int, wire: WireType, dataset: str, name: str,
           array: np.ndarray) -> None:
    """Refuse an array that ``Value.from_data`` could not put on ``wire``."""
    shape = wire.value_shape
    example = tuple(array.shape[1:])
    indices = wire.kind in CATEGORICAL and np.issubdtype(array.dtype, np.integer)
    expected = f"arrays of shape {shape}"
    if wire.kind in CATEGORICAL:
        expected = f"class indices (integers) of shape {shape[:-1]} or {expected}"
    if example != (shape[:-1] if indices else shape):
        raise errors.field_shape(source, position, wire, dataset, name, example,
                                 str(array.dtype), expected)
    if indices:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= shape[-1]:
            raise errors.class_range(source, position, wire, dataset, name, low, high, shape[-1])


class Feed:
    """The batches of a run: ``batch(step)`` depends on nothing but the seed and ``step``.

    With several processes (multi-host), each takes its own contiguous slice of
    the global batch, so the union over processes is the single-process batch.
    """

    def __init__(self, requests: Sequence[DataRequest], sources: Mapping[str, BoundSource],
                 batch_size: int, seed: int, *, process: int = 0, processes: int = 1) -> None:
        self.requests = tuple(requests)
        self.sources = sources
        self.batch_size = batch_size
        self.seed = seed
        per_process = batch_size // processes
        self.local = slice(process * per_process, (process + 1) * per_process)

    def indices(self, draw: int, step: int) -> np.ndarray:
        """The global batch's rows for the ``draw``-th request at ``step``."""
        size = len(self.sources[self.requests[draw].source])
        position = np.arange(step * self.batch_size, (step + 1) * self.batch_size, dtype=np.int64)
        epochs, offsets = np.divmod(position, size)
        rows = np.empty_like(position)
        for epoch in np.unique(epochs):
            here = epochs == epoch
            rows[here] = _permutation(self.seed, draw, int(epoch), size)[offsets[here]]
        return rows

    def batch(self, step: int) -> dict[str, tuple[np.ndarray, ...]]:
        """This process's share of the batch at ``step``: raw arrays per draw key."""
        out = {}
        for draw, request in enumerate(self.requests):
            rows = self.indices(draw, step)[self.local]
            out[request.key] = tuple(a[rows] for a in self.sources[request.source].arrays)
        return out


@lru_cache(maxsize=16)
def _permutation(seed: int, draw: int, epoch: int, size: int) -> np.ndarray:
    """One epoch's order for one draw; cached because a batch rarely leaves its epoch."""
    return np.random.default_rng([seed, draw, epoch]).permutation(size)
