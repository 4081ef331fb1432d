"""Do edits look like real data of the asked-for class?  Two-sample tests and Fréchet distances.

A classifier's agreement is not realism: an edit can sit on the right side of
every classifier's boundary and still be far from every real example.  These
figures compare edits to class ``k`` with *real* held-out examples of class ``k``
(docs/manipulators.md, "Realism"):

``two_sample_accuracy``
    a fresh small CNN, trained to tell real examples of class ``k`` from edits to
    class ``k`` (class-balanced: as many of each, per class), scored on the 30% of
    them it never trained on.  0.5 means it cannot tell them apart; 1.0 means every
    edit is recognisably fake.  Per class (one classifier each) and pooled (one
    classifier told the class, on every class's examples at once: an unconditional
    test would let an editor that returns real examples of the wrong class pass);
``frechet_distance``
    the Fréchet distance between Gaussians fitted to the judge's penultimate
    features of real examples of class ``k`` and of edits to class ``k``; pooled, the
    mean over classes weighted by the number of edits (again conditional on the
    class).  0 for identical feature statistics; biased upward on small samples, so
    read it against ``reference``;
``other_attributes_tv`` (whenever the judge reads other attributes, e.g. sprites)
    for each other attribute, the total-variation distance between what the judge
    reads on edits to class ``k`` and the true attribute of real examples of class
    ``k`` (weighted mean over ``k``): the push-forward of the data under
    ``put(., k)`` should be the data conditioned on ``k`` (Bayesian inversion).

Edit inputs and real references are the two halves of one random permutation
of the split (:func:`halves`, seeded), never its first and last halves: MNIST's
two test halves come from different writers, which a two-sample test detects
with no edit at all.  ``reference`` gives every figure for *real* examples of
class ``k`` from the edit-input half against the reference half: the value a
perfect editor would get at this sample size.

The two-sample classifiers (one per class, plus the pooled one and the
real-against-real one) are trained together, vmapped in one jitted scan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax

TWO_SAMPLE_STEPS = 300
"""Adam steps of each two-sample classifier: enough to separate blurry or noisy edits."""
TWO_SAMPLE_BATCH = 64
TWO_SAMPLE_WIDTH = 16
LEARNING_RATE = 2e-3
HELD_OUT = 0.3
"""The share of each side (real, edited) of each class a two-sample classifier never sees."""
MIN_PER_SIDE = 4
"""Fewer balanced examples per side than this and a two-sample test is not attempted."""

Features = Callable[[np.ndarray], np.ndarray]
"""States (N, ...) to feature vectors (N, D): the judge's penultimate layer."""


class Editor(Protocol):
    """What realism needs of a manipulator: its class count and ``put``."""

    @property
    def classes(self) -> int: ...

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray: ...


# -- the split -------------------------------------------------------------------------


def halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the edit inputs and of the real references: the two halves of one random
    permutation of ``range(n)`` (seeded), so neither half is a contiguous block of the data."""
    order = np.random.default_rng(seed).permutation(n)
    return order[: n // 2], order[n // 2:]


def balanced_split(real: np.ndarray, edits: np.ndarray, real_classes: np.ndarray,
                   edit_classes: np.ndarray, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """Train and held-out positions, for each class as many real as edited examples, each
    side cut ``1 - HELD_OUT`` / ``HELD_OUT``; ``real`` and ``edits`` index one array of
    samples.  None when there are too few to test."""
    train, test = [], []
    for k in np.union1d(real_classes, edit_classes):
        sides = [rng.permutation(real[real_classes == k]), rng.permutation(edits[edit_classes == k])]
        count = min(len(s) for s in sides)
        if count < MIN_PER_SIDE:
            continue
        cut = count - max(1, round(HELD_OUT * count))
        for side in sides:
            train.append(side[:cut])
            test.append(side[cut:count])
    if not train:
        return None
    return np.concatenate(train), np.concatenate(test)


# -- the two-sample classifier -------------------------------------------------------


def _init(key: jax.Array, shape: tuple[int, ...], classes: int) -> dict[str, jax.Array]:
    """A small CNN: two stride-2 3x3 convolutions (the class one-hot added to the image as
    constant channels, so the first layer can relate colours and strokes to the class), a
    dense layer also told the class, one logit."""
    height, width, channels = shape
    cells = math.ceil(math.ceil(height / 2) / 2) * math.ceil(math.ceil(width / 2) / 2)
    w = TWO_SAMPLE_WIDTH
    he = jax.nn.initializers.he_normal()
    keys = jax.random.split(key, 5)
    return {
        "conv1": he(keys[0], (9 * (channels + classes), w)), "b1": jnp.zeros(w),
        "conv2": he(keys[1], (9 * w, 2 * w)), "b2": jnp.zeros(2 * w),
        "dense": he(keys[2], (cells * 2 * w, 4 * w)), "cls": he(keys[3], (classes, 4 * w)),
        "b3": jnp.zeros(4 * w),
        "out": jax.nn.initializers.glorot_normal()(keys[4], (4 * w, 1)), "b4": jnp.zeros(1),
    }


def _patches(h: jax.Array) -> jax.Array:
    """The 3x3 neighbourhoods of every other pixel (zeros past the bottom and right edges),
    stacked on the channels.

    A convolution as patches times a matrix: vmapped over groups it is a batched matmul,
    where a vmapped convolution becomes a grouped one that XLA runs slowly on CPUs.
    """
    height, width = h.shape[1], h.shape[2]
    rows, columns = 2 * math.ceil(height / 2), 2 * math.ceil(width / 2)
    h = jnp.pad(h, ((0, 0), (0, rows + 1 - height), (0, columns + 1 - width), (0, 0)))
    return jnp.concatenate([h[:, i:i + rows:2, j:j + columns:2] for i in range(3)
                            for j in range(3)], axis=-1)


def _logit(p: Mapping[str, jax.Array], x: jax.Array, c: jax.Array) -> jax.Array:
    """The logit that ``x`` (B, H, W, C), asked for class one-hot ``c`` (B, K), is an edit."""
    h = jnp.concatenate([x, jnp.broadcast_to(c[:, None, None, :], (*x.shape[:3], c.shape[-1]))],
                        axis=-1)
    for conv, bias in (("conv1", "b1"), ("conv2", "b2")):
        h = jax.nn.relu(_patches(h) @ p[conv] + p[bias])
    h = jax.nn.relu(h.reshape(h.shape[0], -1) @ p["dense"] + c @ p["cls"] + p["b3"])
    return (h @ p["out"] + p["b4"])[:, 0]


def _pad(sets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Index sets as one (G, L) array (padded with their first index) and their lengths."""
    longest = 1 << (max(len(s) for s in sets) - 1).bit_length()  # few shapes to compile
    padded = np.stack([np.concatenate([s, np.full(longest - len(s), s[0])]) for s in sets])
    return padded.astype(np.int32), np.array([len(s) for s in sets], dtype=np.int32)


def _fit(samples: jax.Array, is_edit: jax.Array, asked: jax.Array, train: jax.Array,
         counts: jax.Array, key: jax.Array, steps: int, classes: int) -> dict[str, jax.Array]:
    """One classifier per row of ``train`` (indices into ``samples``), trained side by side:
    each step draws a batch from each group's own training examples."""
    groups = train.shape[0]
    init_keys = jax.random.split(jax.random.fold_in(key, 0), groups)
    params = jax.vmap(lambda k: _init(k, samples.shape[1:], classes))(init_keys)
    optimizer = optax.adam(LEARNING_RATE)

    def loss(p: dict[str, jax.Array], batch: jax.Array) -> jax.Array:
        def one(q: dict[str, jax.Array], rows: jax.Array) -> jax.Array:
            logits = _logit(q, samples[rows], jax.nn.one_hot(asked[rows], classes))
            return optax.sigmoid_binary_cross_entropy(logits, is_edit[rows]).mean()
        return jax.vmap(one)(p, batch).sum()  # groups are independent: their sum's gradient

    def step(carry: tuple[Any, Any], k: jax.Array) -> tuple[tuple[Any, Any], None]:
        p, state = carry
        picks = jax.random.randint(k, (groups, TWO_SAMPLE_BATCH), 0, counts[:, None])
        batch = jnp.take_along_axis(train, picks, axis=1)
        grads = jax.grad(loss)(p, batch)
        updates, state = optimizer.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), None

    keys = jax.random.split(jax.random.fold_in(key, 1), steps)
    (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), keys)
    return params


_fit_jit = jax.jit(_fit, static_argnames=("steps", "classes"))


@jax.jit
def _held_out_accuracy(params: dict[str, jax.Array], samples: jax.Array, is_edit: jax.Array,
                       asked: jax.Array, test: jax.Array, counts: jax.Array) -> jax.Array:
    """Each group's accuracy on its own held-out examples (the padding masked out)."""
    classes = params["cls"].shape[1]

    def one(q: dict[str, jax.Array], rows: jax.Array, count: jax.Array) -> jax.Array:
        said = _logit(q, samples[rows], jax.nn.one_hot(asked[rows], classes)) > 0
        right = (said == (is_edit[rows] > 0.5)) & (jnp.arange(rows.shape[0]) < count)
        return right.sum() / count

    return jax.vmap(one)(params, test, counts)


def two_sample_accuracies(samples: np.ndarray, is_edit: np.ndarray, asked: np.ndarray,
                          splits: Sequence[tuple[np.ndarray, np.ndarray] | None], classes: int,
                          seed: int = 0, steps: int = TWO_SAMPLE_STEPS) -> list[float | None]:
    """For each (train, held-out) split of ``samples`` (images, labelled real 0 / edit 1 by
    ``is_edit``, with the class ``asked`` of each), the held-out accuracy of a fresh
    classifier trained on it; None where a split is None (too few examples), and for all of
    them when ``steps`` is 0 (no test)."""
    live = [i for i, s in enumerate(splits) if s is not None and steps > 0]
    results: list[float | None] = [None] * len(splits)
    if not live:
        return results
    train, train_counts = _pad([splits[i][0] for i in live])  # type: ignore[index]
    test, test_counts = _pad([splits[i][1] for i in live])  # type: ignore[index]
    arrays = (jnp.asarray(samples, jnp.float32), jnp.asarray(is_edit, jnp.float32),
              jnp.asarray(asked, jnp.int32))
    params = _fit_jit(*arrays, jnp.asarray(train), jnp.asarray(train_counts),
                      jax.random.key(seed), steps=steps, classes=classes)
    accuracy = np.asarray(_held_out_accuracy(params, *arrays, jnp.asarray(test),
                                             jnp.asarray(test_counts)))
    for i, a in zip(live, accuracy, strict=True):
        results[i] = float(a)
    return results


# -- the Fréchet distance --------------------------------------------------------------


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to the rows of ``a`` and of ``b``:
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``.

    The symmetric form of the trace term (equal to ``tr (S_a S_b)^1/2``) needs only
    symmetric eigendecompositions, so it stays real and stable on singular covariances.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root = _psd_sqrt(cov_a)
    middle = root @ cov_b @ root
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    mean = np.square(a.mean(0) - b.mean(0)).sum()
    return float(max(mean + np.trace(cov_a) + np.trace(cov_b) - 2 * cross, 0.0))


# -- other attributes ------------------------------------------------------------------


def total_variation(a: np.ndarray, b: np.ndarray, classes: int) -> float:
    """The total-variation distance between the class frequencies of ``a`` and of ``b``."""
    p = np.bincount(a, minlength=classes) / max(len(a), 1)
    q = np.bincount(b, minlength=classes) / max(len(b), 1)
    return float(0.5 * np.abs(p - q).sum())


def attribute_shift(read: np.ndarray, asked: np.ndarray, truth: np.ndarray,
                    labels: np.ndarray, classes: int) -> float:
    """The total-variation distance, per asked-for class ``k`` (weighted by its count in
    ``asked``), between attribute values ``read`` on edits to ``k`` and ``truth`` of real
    examples whose ``labels`` are ``k``."""
    total, weight = 0.0, 0
    for k in np.unique(asked):
        mine, real = read[asked == k], truth[labels == k]
        if len(real) == 0:
            continue
        total += len(mine) * total_variation(mine, real, classes)
        weight += len(mine)
    return total / weight if weight else float("nan")


# -- all of it -------------------------------------------------------------------------


def _mean(values: Sequence[float | None], weights: Sequence[int]) -> float | None:
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None and w]
    if not pairs:
        return None
    return float(sum(v * w for v, w in pairs) / sum(w for _, w in pairs))


def _frechet_by_class(features: np.ndarray, real: np.ndarray, edits: np.ndarray,
                      real_classes: np.ndarray, edit_classes: np.ndarray, classes: int
                      ) -> list[float | None]:
    found: list[float | None] = []
    for k in range(classes):
        a, b = features[real[real_classes == k]], features[edits[edit_classes == k]]
        found.append(frechet_distance(a, b) if min(len(a), len(b)) >= 2 else None)
    return found


def realism(editor: Editor, states: np.ndarray, labels: np.ndarray, features: Features,
            targets: Callable[[np.ndarray], np.ndarray], *, n: int | None = None,
            seed: int = 0, steps: int = TWO_SAMPLE_STEPS,
            judge: Callable[[np.ndarray], Mapping[str, np.ndarray]] | None = None,
            others: Mapping[str, tuple[np.ndarray, int]] | None = None,
            names: Sequence[str] | None = None) -> dict[str, Any]:
    """The figures of the module docstring for ``editor`` on a split's ``states`` (images) and
    their true ``labels``: up to ``n`` edit inputs and as many references, from the two
    :func:`halves`; ``targets`` picks each input's asked-for class from its label.

    ``others`` maps each other attribute to its true values on ``states`` and its class
    count; ``judge`` reads them on the edits.  ``names`` names the classes in ``by_class``.
    ``steps`` 0 leaves the two-sample tests out (their figures are None).
    """
    classes = editor.classes
    names = list(names) if names is not None else [str(k) for k in range(classes)]
    inputs, references = halves(len(states), seed)
    if n is not None:
        inputs, references = inputs[:n], references[:n]
    asked = targets(labels[inputs])
    edits = np.asarray(editor.put_distribution(states[inputs],
                                               np.eye(classes, dtype=np.float32)[asked]))
    # One array of samples: the references (real), the edits, the edit inputs (real).
    samples = np.concatenate([states[references], edits, states[inputs]]).astype(np.float32)
    size = len(references)
    real = np.arange(size)
    fake = size + np.arange(len(inputs))
    twin = size + len(inputs) + np.arange(len(inputs))  # real, from the other half
    real_classes, input_classes = labels[references], labels[inputs]
    sample_classes = np.concatenate([real_classes, asked, input_classes])
    is_edit = np.concatenate([np.zeros(size), np.ones(len(inputs)), np.ones(len(inputs))])

    rng = np.random.default_rng(seed)
    splits = [balanced_split(real[real_classes == k], fake[asked == k],
                             real_classes[real_classes == k], asked[asked == k], rng)
              for k in range(classes)]
    splits.append(balanced_split(real, fake, real_classes, asked, rng))
    splits.append(balanced_split(real, twin, real_classes, input_classes, rng))
    accuracy = two_sample_accuracies(samples, is_edit, sample_classes, splits, classes,
                                     seed, steps)

    vectors = np.asarray(features(samples)).reshape(len(samples), -1)
    frechet = _frechet_by_class(vectors, real, fake, real_classes, asked, classes)
    twin_frechet = _frechet_by_class(vectors, real, twin, real_classes, input_classes, classes)
    edit_counts = [int((asked == k).sum()) for k in range(classes)]
    twin_counts = [int((input_classes == k).sum()) for k in range(classes)]
    result: dict[str, Any] = {
        "two_sample_accuracy": accuracy[classes],
        "frechet_distance": _mean(frechet, edit_counts),
        "by_class": {
            names[k]: {"two_sample_accuracy": accuracy[k], "frechet_distance": frechet[k],
                       "edits": edit_counts[k], "references": int((real_classes == k).sum())}
            for k in range(classes)},
        "reference": {"two_sample_accuracy": accuracy[classes + 1],
                      "frechet_distance": _mean(twin_frechet, twin_counts)},
        "edit_inputs": len(inputs),
        "references": size,
        "feature_size": int(vectors.shape[1]),
        "two_sample_steps": steps,
    }
    if judge is not None and others:
        read = judge(edits)
        shift, floor = {}, {}
        for field, (truth, count) in others.items():
            if field not in read:
                continue
            shift[field] = attribute_shift(read[field], asked, truth[references], real_classes,
                                           count)
            floor[field] = attribute_shift(truth[inputs], input_classes, truth[references],
                                           real_classes, count)
        if shift:
            result["other_attributes_tv"] = shift
            result["reference"]["other_attributes_tv"] = floor
    return result
