"""Binding data sources to data sets, and drawing every step's batch from (seed, step) alone.

``data mnist = datasets.mnist(split = "train")`` binds the source ``mnist`` to
``data.load("mnist", split="train")``; the source's k declared outputs take the
data set's fields their types are named after (``Image, Colour`` take ``image`` and
``colour``) when every type names one, else its first k fields, or the fields a
``fields = [...]`` option names.
Shapes and classes are checked once, here, against the declared wire types, so
a mismatch is a message naming the source and the field rather than a shape
error inside a jitted step (or, for a field with fewer classes than its wire,
silently wrong labels).  :func:`binding_problems` finds the same mistakes from
the data sets' descriptions, without loading anything, for ``taskdsl check``.
A source with no binding whose name is a data set's (``data digits : -> ...``)
is bound to that data set with its defaults.

Each draw (:class:`DataRequest`) walks its own permutation of the data set,
reshuffled every epoch.  The permutation is a pure function of (seed, draw,
epoch), so the batch at any step can be rebuilt without replaying earlier
steps: a resumed run sees exactly the data an uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from taskdsl.ir import Call
from taskdsl.queries import DataRequest
from taskdsl.types import WireType

from .. import data
from ..data import FieldSpec
from ..messages import Problem, listed, problem, show, suggestion
from . import errors

CATEGORICAL = ("Class", "Tokens")


@dataclass(frozen=True, eq=False)
class BoundSource:
    """A data source with its data set's chosen fields, one array per declared output."""

    name: str
    binding: str  # the binding as the file spells it, for messages and config.json
    arrays: tuple[np.ndarray, ...]
    # Each output's class names as the data set gives them (:func:`class_names_of`), or
    # ``None``: config.json records them, so a run names its classes without its data.
    class_names: tuple[tuple[str, ...] | None, ...] = ()

    def __len__(self) -> int:
        return len(self.arrays[0])


def binding_of(source: str, bindings: Mapping[str, Any]) -> Any:
    """The binding of ``source``: its ``data`` line, else the data set of its name with its
    defaults (``data digits : -> ...``), else ``None``."""
    call = bindings.get(source)
    if call is None and source in data.LOADERS:
        call = Call(f"{data.PREFIX}{source}")
    return call


def unbound(source: str, objective: str) -> Problem:
    """``source`` is drawn by ``objective`` but bound to nothing."""
    return problem("data-unbound", source=source, objective=objective,
                   datasets=listed(f"{data.PREFIX}{n}" for n in data.LOADERS))


def bind(requests: Sequence[DataRequest], bindings: Mapping[str, Any],
         objective: str) -> dict[str, BoundSource]:
    """Every data source the requests draw from, loaded and checked against its wire types."""
    bound: dict[str, BoundSource] = {}
    for request in requests:
        if request.source not in bound:
            call = binding_of(request.source, bindings)
            if call is None:
                raise errors.TrainError(unbound(request.source, objective))
            bound[request.source] = _load(request.source, call, request.types)
    return bound


def binding_problems(source: str, call: Any, wires: Sequence[WireType], *,
                     files: bool = True) -> list[Problem]:
    """Everything wrong with binding ``source`` (outputs ``wires``) to ``call`` that shows
    without loading the data set: the binding's form, the data set's name and options, a
    missing file (with ``files``), the ``fields`` option, and each field's shape, dtype
    and classes against its wire (for data sets that describe their fields)."""
    found = _form_problems(source, call)
    if found:
        return found
    name, options, chosen = _parts(call)
    found = data.problems(name, options, files=files)
    fields = data.describe(name, options)
    if fields is None:
        return found
    names, wrong = _choose(source, name, list(fields), wires, chosen)
    found += wrong
    for position, (wire, field_name) in enumerate(zip(wires, names or (), strict=False),
                                                  start=1):
        found += field_problems(source, position, wire, name, field_name, fields[field_name])
    return found


def _form_problems(source: str, call: Any) -> list[Problem]:
    if not isinstance(call, Call):
        return [problem("data-not-a-call", source=source, value=show(call))]
    if call.args:
        return [problem("data-positional", source=source, value=show(call))]
    return []


def _parts(call: Call) -> tuple[str, dict[str, Any], Any]:
    """A binding's data set name, its loader's options, and its ``fields`` option."""
    options = dict(call.kwargs)
    chosen = options.pop("fields", None)
    return call.name.removeprefix(data.PREFIX), options, chosen


def _load(source: str, call: Any, wires: Sequence[WireType]) -> BoundSource:
    found = _form_problems(source, call)
    if found:
        raise errors.TrainError(found[0])
    name, options, chosen = _parts(call)
    try:
        dataset = data.load(name, **options)
    except data.DataError as error:
        if error.problem is not None:  # located and worded as the check words it
            raise errors.TrainError.carrying(error) from None
        raise errors.TrainError(f"data source `{source}` = {show(call)}: {error.message}",
                                error.exit_code, code=error.code) from None
    if len(dataset) == 0:
        raise errors.empty_dataset(source, name)
    names = _field_names(source, dataset, wires, chosen)
    for position, (wire, field_name) in enumerate(zip(wires, names, strict=True), start=1):
        array = dataset.fields[field_name]
        spec = FieldSpec(tuple(array.shape[1:]), str(array.dtype),
                         dataset.classes.get(field_name))
        found = field_problems(source, position, wire, name, field_name, spec, array)
        if found:
            raise errors.TrainError(found[0])
    return BoundSource(source, show(call), tuple(dataset.fields[n] for n in names),
                       tuple(class_names_of(dataset, n) for n in names))


def class_names_of(dataset: data.Dataset, field: str) -> tuple[str, ...] | None:
    """What ``dataset`` calls the classes of ``field``: a folder of images' sub-folders, a
    CSV file's label values, the sprites' attributes, or ``None`` (numbers name them).

    ``extras["class_names"]`` is a list when the data set has one categorical field
    (``datasets.images``), or a dict by field (``datasets.csv``)."""
    classes = dataset.classes.get(field)
    if classes is None:
        return None
    found = dataset.extras.get("class_names")
    if isinstance(found, dict):
        found = found.get(field)
    elif found is not None and len(dataset.classes) != 1:
        found = None
    if found is None and dataset.name == "sprites":
        found = data.ATTRIBUTES.get(field)
    if found is None or len(found) != classes:
        return None
    return tuple(map(str, found))


def _field_names(source: str, dataset: data.Dataset, wires: Sequence[WireType],
                 chosen: Any) -> list[str]:
    """The fields that feed the outputs: the data set's first ones, or those ``fields`` names."""
    names, found = _choose(source, dataset.name, list(dataset.fields), wires, chosen)
    if found or names is None:
        raise errors.TrainError(found[0])
    return names


def _choose(source: str, dataset: str, available: list[str], wires: Sequence[WireType],
            chosen: Any) -> tuple[list[str] | None, list[Problem]]:
    """The fields that feed the outputs (``None`` if that cannot be told), and what is wrong
    with the choice."""
    outputs = ", ".join(t.described() for t in wires)
    if chosen is None:
        named = by_type_names(wires, available)
        if named is not None:
            return named, []
        if len(available) < len(wires):
            has = f"data set `{dataset}` has only {len(available)} ({listed(available)})"
            return None, [problem("data-field-count", source=source, count=len(wires),
                                  outputs=outputs, fields=has)]
        return available[: len(wires)], []
    if not isinstance(chosen, tuple) or not all(isinstance(c, str) for c in chosen):
        return None, [problem("data-fields-option", source=source, value=show(chosen))]
    found = [problem("data-field-unknown", source=source, dataset=dataset, field=name,
                     fields=listed(available), suggestion=suggestion(name, available))
             for name in chosen if name not in available]
    if len(chosen) != len(wires):
        names = f"`fields` names {len(chosen)} ({listed(chosen)})"
        found.append(problem("data-field-count", source=source, count=len(wires),
                             outputs=outputs, fields=names))
    return (None if found else list(chosen)), found


def by_type_names(wires: Sequence[WireType], available: Sequence[str]) -> list[str] | None:
    """The fields the outputs' type names name, when every output's type has a name that is
    a field's (ignoring case) and no two the same: ``data s : -> Image, Colour`` takes the
    fields ``image`` and ``colour`` wherever they are; else ``None`` (first fields)."""
    fields = {name.lower(): name for name in available}
    names = [fields.get((wire.alias or "").lower()) for wire in wires]
    if None in names or len(set(names)) != len(names):
        return None
    return names  # type: ignore[return-value]


def field_problems(source: str, position: int, wire: WireType, dataset: str, name: str,
                   spec: FieldSpec, array: np.ndarray | None = None) -> list[Problem]:
    """What keeps field ``name`` (described by ``spec``) from feeding output ``position`` of
    ``source``: a shape ``Value.from_data`` cannot put on ``wire``, or class indices that
    are not the wire's classes.  With the loaded ``array``, indices of a field whose
    number of classes is not known are checked against the wire's range."""
    shape = wire.value_shape
    indices = wire.kind in CATEGORICAL and np.issubdtype(np.dtype(spec.dtype), np.integer)
    takes = f"arrays of shape {shape}"
    if wire.kind in CATEGORICAL:
        takes = f"class indices (integers) of shape {shape[:-1]} or {takes}"
    details = {"source": source, "position": position, "wire": wire.described(),
               "dataset": dataset, "field": name}
    if spec.shape != (shape[:-1] if indices else shape):
        return [problem("data-field-shape", **details, dtype=spec.dtype, shape=spec.shape,
                        kind=wire.structural(), takes=takes)]
    if not indices:
        return []
    classes = shape[-1]
    facts = {**details, "classes": classes}
    if spec.classes is not None and spec.vocabulary and spec.classes > classes:
        return [problem("data-field-classes", **facts,
                        has=f"token ids up to {spec.classes - 1}",
                        help=f"keep the vocabulary within the wire (for `datasets.sentiment`, "
                             f"`max_vocab = {classes}`), or widen the wire to "
                             f"{wire.kind}[{spec.classes}, ...]")]
    if spec.classes is not None and not spec.vocabulary and spec.classes != classes:
        return [problem("data-field-classes", **facts, has=f"{spec.classes} classes",
                        help=f"declare the wire {wire.kind}[{spec.classes}], or bind a field "
                             f"with {classes} classes")]
    if spec.classes is None and array is not None and array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= classes:
            return [problem("data-field-classes", **facts,
                            has=f"class indices {low}..{high}")]
    return []


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
        epoch, offset = divmod(step * self.batch_size, size)
        if offset + self.batch_size <= size:  # within one epoch: the same rows, sooner
            return _permutation(self.seed, draw, epoch, size)[offset:offset + self.batch_size
                                                              ].copy()
        position = np.arange(step * self.batch_size, (step + 1) * self.batch_size, dtype=np.int64)
        epochs, offsets = np.divmod(position, size)
        rows = np.empty_like(position)
        for epoch in np.unique(epochs):
            here = epochs == epoch
            rows[here] = _permutation(self.seed, draw, int(epoch), size)[offsets[here]]
        return rows

    def rows(self, step: int) -> dict[str, np.ndarray]:
        """This process's rows of the batch at ``step``, per draw key: ``batch(step)`` is
        each draw's source arrays at these rows (so they may be gathered on a device)."""
        return {request.key: self.indices(draw, step)[self.local]
                for draw, request in enumerate(self.requests)}

    def stacked_rows(self, first: int, count: int, length: int | None = None
                     ) -> dict[str, np.ndarray]:
        """:meth:`rows` of steps ``first .. first + count - 1`` stacked (one row a step),
        then zeros up to ``length`` (default ``count``; rows a call does not read).

        The same rows, bit for bit, gathered for a whole call at once (one step's alone
        can cost as much host time as a small model's step): consecutive steps take a
        contiguous slice of consecutive epochs' permutations laid end to end."""
        length = count if length is None else length
        start, end = first * self.batch_size, (first + count) * self.batch_size
        stacked = {}
        for draw, request in enumerate(self.requests):
            size = len(self.sources[request.source])
            epochs = range(start // size, max(start, end - 1) // size + 1)
            orders = [_permutation(self.seed, draw, epoch, size) for epoch in epochs]
            order = orders[0] if len(orders) == 1 else np.concatenate(orders)
            at = start - epochs[0] * size
            taken = order[at:at + end - start].reshape(count, self.batch_size)[:, self.local]
            rows = np.zeros((length, taken.shape[1]), order.dtype)
            rows[:count] = taken
            stacked[request.key] = rows
        return stacked

    def batch(self, step: int) -> dict[str, tuple[np.ndarray, ...]]:
        """This process's share of the batch at ``step``: raw arrays per draw key."""
        return {key: tuple(a[rows] for a in self.sources[self.source_of[key]].arrays)
                for key, rows in self.rows(step).items()}

    @property
    def source_of(self) -> dict[str, str]:
        """Each draw key's source."""
        return {request.key: request.source for request in self.requests}

    @property
    def nbytes(self) -> int:
        """The bytes of the data sets drawn from, each once."""
        drawn = {request.source for request in self.requests}
        return sum(a.nbytes for name in drawn for a in self.sources[name].arrays)


class Prefetch:
    """Batches made one step ahead on a background thread, for data that does not stay
    on the device: while step ``s`` runs, step ``s + 1``'s rows are gathered on the host
    and sent (``make``, e.g. ``Feed.batch`` then sharding).  A batch depends on its step
    alone, so a batch made ahead is the one the step would have made; a step asked out
    of turn (the first, a resume) is made then, and the next one ahead again."""

    def __init__(self, make: Callable[[int], Any]) -> None:
        self._make = make
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: tuple[int, Future] | None = None

    def __call__(self, step: int) -> Any:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == step:
            batch = ahead[1].result()
        else:
            if ahead is not None:
                ahead[1].cancel()
            batch = self._make(step)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="taskdsl-prefetch")
        self._ahead = (step + 1, self._pool.submit(self._make, step + 1))
        return batch

    def close(self) -> None:
        """Drop the batch made ahead and stop the thread (the loop's end)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._ahead = None, None


@lru_cache(maxsize=16)
def _permutation(seed: int, draw: int, epoch: int, size: int) -> np.ndarray:
    """One epoch's order for one draw; cached because a batch rarely leaves its epoch."""
    return np.random.default_rng([seed, draw, epoch]).permutation(size)
