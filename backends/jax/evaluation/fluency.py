"""Do edited sentences read like real sentences?  Fluency and a two-sample test on encodings.

A judge that reads the asked-for sentiment says nothing of grammar: an editor can
swap sentiment words in ways no writer would.  Two figures for sentence
manipulators (docs/manipulators.md, "Realism"):

``perplexity_edits``, ``perplexity_originals``, ``perplexity_ratio``
    the perplexity of a bigram language model with interpolated Kneser-Ney
    smoothing (:class:`BigramModel`, discount 0.75), fitted on the token ids of
    the *training* sentences, on the edits and on the sentences they were made
    from; the ratio is edits over originals (1 for an editor that changes
    nothing; the goal of issue 16 is at most 1.5).  A bigram model is small and
    exact to fit in a second, and it is enough to see word salad: shuffling the
    words of real sentences multiplies its perplexity several times over.
``realism`` (sentences)
    the two-sample test and Fréchet distance of :mod:`.realism`, on the judge's
    encodings of the sentences (its penultimate features) instead of pixels: a
    fresh classifier, told the class, tells real held-out sentences of class
    ``k`` from edits to ``k``; edit inputs and real references are the two
    halves of one seeded permutation of the split, as for images.

A sentence is its token ids up to the first padding id (0); each token is
scored given the one before it, the first given a start state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from . import realism

DISCOUNT = 0.75
"""Kneser-Ney's absolute discount: the usual value for bigram counts."""
PAD = 0


def _bigrams(ids: np.ndarray, vocabulary: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (previous, token) pair of the sentences in ``ids`` (N, L); the previous token of
    a sentence's first is the start state ``vocabulary``."""
    ids = np.asarray(ids, dtype=np.int64)
    live = np.cumprod(ids != PAD, axis=1).astype(bool)  # before the first padding
    previous = np.concatenate([np.full((len(ids), 1), vocabulary), ids[:, :-1]], axis=1)
    return previous[live], ids[live]


@dataclass(frozen=True)
class BigramModel:
    """A bigram language model with interpolated Kneser-Ney smoothing over ids
    ``0 .. vocabulary - 1`` (one more row, ``vocabulary``, is the start state)."""

    counts: sparse.csr_matrix  # (vocabulary + 1, vocabulary) bigram counts
    continuation: np.ndarray  # (vocabulary,) P_continuation, add-one smoothed
    vocabulary: int
    discount: float = DISCOUNT

    @classmethod
    def fit(cls, ids: np.ndarray, vocabulary: int, discount: float = DISCOUNT) -> BigramModel:
        """The model of the sentences ``ids`` (N, L) of token ids below ``vocabulary``."""
        previous, token = _bigrams(ids, vocabulary)
        counts = sparse.coo_matrix((np.ones(len(token)), (previous, token)),
                                   shape=(vocabulary + 1, vocabulary)).tocsr()
        counts.sum_duplicates()
        preceded = np.asarray((counts > 0).sum(axis=0)).ravel()  # N1+(. w)
        continuation = (preceded + 1.0) / (preceded.sum() + vocabulary)
        return cls(counts, continuation, vocabulary, discount)

    def log_probs(self, ids: np.ndarray) -> np.ndarray:
        """The natural log-probability of every scored token of the sentences ``ids``."""
        previous, token = _bigrams(np.minimum(ids, self.vocabulary - 1), self.vocabulary)
        pair = np.asarray(self.counts[previous, token]).ravel()
        row_total = np.asarray(self.counts.sum(axis=1)).ravel()[previous]
        row_types = np.diff(self.counts.indptr)[previous]  # N1+(v .)
        seen = row_total > 0
        total = np.where(seen, row_total, 1.0)
        backoff = np.where(seen, self.discount * row_types / total, 1.0)
        p = np.maximum(pair - self.discount, 0.0) / total + backoff * self.continuation[token]
        return np.log(p)

    def perplexity(self, ids: np.ndarray) -> float:
        """exp of the mean negative log-probability per token over all the sentences."""
        found = self.log_probs(ids)
        return float(np.exp(-found.mean())) if len(found) else float("nan")


def fluency(model: BigramModel, edits: np.ndarray, originals: np.ndarray) -> dict[str, float]:
    """The perplexity figures of the module docstring for ``edits`` of ``originals`` (ids)."""
    edited, original = model.perplexity(edits), model.perplexity(originals)
    return {"perplexity_edits": edited, "perplexity_originals": original,
            "perplexity_ratio": edited / original}


def sentence_realism(editor: realism.Editor, ids: np.ndarray, labels: np.ndarray,
                     encode: Callable[[np.ndarray], np.ndarray],
                     targets: Callable[[np.ndarray], np.ndarray], *, n: int | None = None,
                     seed: int = 0, steps: int = realism.TWO_SAMPLE_STEPS,
                     names: list[str] | None = None) -> dict[str, Any]:
    """:func:`.realism.realism`'s figures for sentences: ``editor`` edits up to ``n`` sentences
    (token ids) of one half of the split, compared with as many real ones of the other half
    in ``encode``'s features (the judge's encodings of token ids, (N, D))."""
    classes = editor.classes
    names = names if names is not None else [str(k) for k in range(classes)]
    inputs, references = realism.halves(len(ids), seed)
    if n is not None:
        inputs, references = inputs[:n], references[:n]
    asked = targets(labels[inputs])
    edits = np.asarray(editor.put_distribution(
        ids[inputs], np.eye(classes, dtype=np.float32)[asked])).argmax(-1)
    sentences = np.concatenate([ids[references], edits, ids[inputs]])
    vectors = np.asarray(encode(sentences), dtype=np.float32).reshape(len(sentences), -1)
    size = len(references)
    real, fake = np.arange(size), size + np.arange(len(inputs))
    twin = size + len(inputs) + np.arange(len(inputs))
    real_classes, input_classes = labels[references], labels[inputs]
    sample_classes = np.concatenate([real_classes, asked, input_classes])
    is_edit = np.concatenate([np.zeros(size), np.ones(2 * len(inputs))])
    rng = np.random.default_rng(seed)
    splits = [realism.balanced_split(real[real_classes == k], fake[asked == k],
                                     real_classes[real_classes == k], asked[asked == k], rng)
              for k in range(classes)]
    splits.append(realism.balanced_split(real, fake, real_classes, asked, rng))
    splits.append(realism.balanced_split(real, twin, real_classes, input_classes, rng))
    # each encoding as a 1x1 "image" with D channels: the test's CNN is then a small MLP
    accuracy = realism.two_sample_accuracies(vectors[:, None, None, :], is_edit, sample_classes,
                                             splits, classes, seed, steps)
    frechet = realism._frechet_by_class(vectors, real, fake, real_classes, asked, classes)
    twin_frechet = realism._frechet_by_class(vectors, real, twin, real_classes, input_classes,
                                             classes)
    edit_counts = [int((asked == k).sum()) for k in range(classes)]
    twin_counts = [int((input_classes == k).sum()) for k in range(classes)]
    return {
        "two_sample_accuracy": accuracy[classes],
        "frechet_distance": realism._mean(frechet, edit_counts),
        "by_class": {
            names[k]: {"two_sample_accuracy": accuracy[k], "frechet_distance": frechet[k],
                       "edits": edit_counts[k], "references": int((real_classes == k).sum())}
            for k in range(classes)},
        "reference": {"two_sample_accuracy": accuracy[classes + 1],
                      "frechet_distance": realism._mean(twin_frechet, twin_counts)},
        "edit_inputs": len(inputs),
        "references": size,
        "feature_size": int(vectors.shape[1]),
        "two_sample_steps": steps,
    }


def sentence_figures(manipulator: Any, dataset: Any, targets: Callable[[np.ndarray], np.ndarray]
                     ) -> dict[str, float]:
    """:func:`fluency` of ``manipulator``'s edits of ``dataset``'s sentences (to the classes
    ``targets`` picks from their labels), by a :class:`BigramModel` fitted on the training
    split of the manipulator's data."""
    state_field, attribute_field = manipulator.fields
    vocabulary = manipulator.state.value_shape[-1]
    train = manipulator.labelled("train").dataset.fields[state_field]
    model = BigramModel.fit(train, vocabulary)
    states = dataset.fields[state_field]
    asked = targets(dataset.fields[attribute_field])
    edits = np.asarray(manipulator.put_distribution(
        states, np.eye(manipulator.classes, dtype=np.float32)[asked])).argmax(-1)
    return fluency(model, edits, states)
