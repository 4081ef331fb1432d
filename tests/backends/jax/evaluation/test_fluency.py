"""The sentence figures of ``fluency.py``: a bigram model's perplexity and the two-sample
test on encodings, on a tiny Markov-chain language where word order carries the grammar."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl.backends.jax.evaluation.fluency import (
    BigramModel,
    fluency,
    sentence_figures,
    sentence_realism,
)

VOCABULARY = 24
LENGTH = 12


def language(n: int, seed: int) -> np.ndarray:
    """``n`` sentences (ids 1 .. VOCABULARY - 1, then padding 0) of a chain in which each word
    has two likely successors: word order is what tells a sentence from word salad."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, LENGTH), dtype=np.int32)
    for i in range(n):
        word = int(rng.integers(1, VOCABULARY))
        for j in range(int(rng.integers(LENGTH // 2, LENGTH + 1))):
            ids[i, j] = word
            word = 1 + (3 * word + int(rng.integers(0, 2)) * 7) % (VOCABULARY - 1)
    return ids


def shuffled(ids: np.ndarray, seed: int) -> np.ndarray:
    """The same words in each sentence, in a random order."""
    rng = np.random.default_rng(seed)
    out = ids.copy()
    for row in out:
        length = int((row != 0).sum())
        row[:length] = rng.permutation(row[:length])
    return out


def test_real_sentences_are_likelier_than_their_words_shuffled() -> None:
    model = BigramModel.fit(language(400, 0), VOCABULARY)
    held_out = language(200, 1)
    real, salad = model.perplexity(held_out), model.perplexity(shuffled(held_out, 2))
    assert real < 4.0 < 2 * real < salad
    ratio = fluency(model, shuffled(held_out, 2), held_out)
    assert ratio["perplexity_ratio"] > 2 and ratio["perplexity_originals"] == real


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.integers(1, 9), min_size=1, max_size=6), min_size=1, max_size=8),
       st.integers(1, 9))
def test_each_context_is_a_probability_distribution(rows: list[list[int]], context: int
                                                     ) -> None:
    ids = np.zeros((len(rows), 6), dtype=np.int32)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = row
    model = BigramModel.fit(ids, 10)
    # every word that can follow ``context`` (1 .. 9): all the mass but the padding id's share
    pairs = np.array([[context, w] for w in range(1, 10)])
    total = np.exp(model.log_probs(pairs)).reshape(-1, 2)[:, 1].sum()
    assert 0 < 1 - total <= model.continuation[0] + 1e-9


class Editor:
    """Hands back a fixed set of sentences, one per input, as one-hot distributions."""

    classes = 2

    def __init__(self, out: np.ndarray) -> None:
        self.out = out

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray:
        return np.eye(VOCABULARY, dtype=np.float32)[self.out[: len(states)]]


def bigram_encoding(ids: np.ndarray) -> np.ndarray:
    """A fixed random projection of each sentence's bigram counts: an encoder that reads order."""
    projection = np.random.default_rng(0).normal(size=(VOCABULARY * VOCABULARY, 32))
    counts = np.zeros((len(ids), VOCABULARY * VOCABULARY), dtype=np.float32)
    for i, row in enumerate(ids):
        np.add.at(counts[i], row[:-1] * VOCABULARY + row[1:], 1.0)
    return counts @ projection / LENGTH


def test_the_two_sample_test_tells_word_salad_from_real_sentences_but_not_real_from_real(
) -> None:
    ids = language(600, 3)
    labels = np.random.default_rng(4).integers(0, 2, len(ids))
    flip = lambda y: 1 - y  # noqa: E731
    found = {}
    for name, out in (("real", language(300, 5)), ("salad", shuffled(language(300, 5), 6))):
        found[name] = sentence_realism(Editor(out), ids, labels, bigram_encoding, flip,
                                       n=200, steps=100)
    assert abs(found["real"]["two_sample_accuracy"] - 0.5) < 0.15
    assert found["salad"]["two_sample_accuracy"] > 0.75
    assert found["salad"]["frechet_distance"] > 3 * found["real"]["frechet_distance"]
    assert abs(found["salad"]["reference"]["two_sample_accuracy"] - 0.5) < 0.15


class Sample:
    """What :func:`sentence_figures` reads of a manipulator's data: fields by name."""

    def __init__(self, ids: np.ndarray) -> None:
        self.fields = {"text": ids, "label": np.arange(len(ids)) % 2}


class Manipulator(Editor):
    """A sentence manipulator whose training split is the language and whose edits are
    ``edit`` of its inputs."""

    fields = ("text", "label")

    def __init__(self, edit: Callable[[np.ndarray], np.ndarray]) -> None:
        self.edit = edit
        self.state = type("State", (), {"value_shape": (LENGTH, VOCABULARY)})()

    def labelled(self, split: str) -> object:
        assert split == "train"
        return type("Labelled", (), {"dataset": Sample(language(400, 0))})()

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray:
        return np.eye(VOCABULARY, dtype=np.float32)[self.edit(states)]


def test_eval_figures_compare_edits_with_the_sentences_they_were_made_from() -> None:
    held_out = Sample(language(100, 7))
    same = sentence_figures(Manipulator(lambda s: s), held_out, lambda y: 1 - y)
    assert same["perplexity_ratio"] == 1.0
    salad = sentence_figures(Manipulator(lambda s: shuffled(s, 8)), held_out, lambda y: 1 - y)
    assert salad["perplexity_originals"] == same["perplexity_originals"]
    assert salad["perplexity_ratio"] > 1.5
