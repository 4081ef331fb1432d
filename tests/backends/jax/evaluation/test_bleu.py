"""Judging sentence manipulators: BLEU of the edits against their inputs, the decoded
edits the judge reads, and ``edits.txt``, pinned with hand-made editors, then through a
tiny trained text run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from taskdsl import load
from taskdsl.backends.jax.data import Dataset, Tokenizer
from taskdsl.backends.jax.evaluation.evaluate import EDITS_FILE, EVAL_FILE, bleu, evaluate, figures
from taskdsl.backends.jax.training.train import train

WORDS = ["good", "bad", "the", "film", "was", "very", "a", "plot", "and", "actors", "it", "is"]
TOKENIZER = Tokenizer(["<pad>", "<unk>", "<bos>", "<eos>", *WORDS])
VOCAB = len(TOKENIZER)
GOOD, BAD = TOKENIZER.ids["good"], TOKENIZER.ids["bad"]
LENGTH = 10


def reviews(n: int = 60, seed: int = 0) -> Dataset:
    """Sentences of filler words with one sentiment word: "good" (1) or "bad" (0)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    texts = []
    for label in labels:
        filler = list(rng.choice(WORDS[2:], rng.integers(3, 7)))
        filler.insert(int(rng.integers(0, len(filler))), "good" if label else "bad")
        texts.append(" ".join(filler))
    return Dataset("sentiment", {"tokens": TOKENIZER.encode(texts, LENGTH),
                                 "label": labels.astype(np.int32)},
                   {"tokens": VOCAB, "label": 2}, {"tokenizer": TOKENIZER})


def word_judge(states: np.ndarray) -> dict[str, np.ndarray]:
    """Reads the most probable word at each position: positive when "good" outnumbers "bad"."""
    ids = states.argmax(-1)
    return {"label": ((ids == GOOD).sum(-1) > (ids == BAD).sum(-1)).astype(int)}


def distribution(states: np.ndarray) -> np.ndarray:
    """Sentences as the word distribution at each position: token ids become one-hot."""
    return states.astype(np.float32) if states.ndim == 3 else np.eye(VOCAB)[states]


class Copy:
    """Returns its input sentence; reads the sentiment exactly."""

    classes = 2

    def read(self, states: np.ndarray) -> np.ndarray:
        return np.eye(2)[word_judge(distribution(states))["label"]]

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray:
        return distribution(states)


class Swap(Copy):
    """Swaps "good" and "bad" when the asked class differs from the sentence's: the oracle.

    Its word distribution is soft (most of the mass on the chosen word), as an editor's is.
    """

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray:
        ids = super().put_distribution(states, asked).argmax(-1)
        swap = (self.read(states).argmax(-1) != asked.argmax(-1))[:, None]
        swapped = np.where(ids == GOOD, BAD, np.where(ids == BAD, GOOD, ids))
        chosen = np.eye(VOCAB)[np.where(swap, swapped, ids)]
        return 0.6 * chosen + 0.4 / VOCAB


class Scramble(Copy):
    """Writes unrelated sentences of filler words: no sentiment word, nothing kept."""

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray:
        rows = np.random.default_rng(1).integers(4 + 2, VOCAB, (len(states), LENGTH))
        return np.eye(VOCAB)[rows]


class Blend(Copy):
    """Keeps each word most probable, but moves some mass onto the asked-for sentiment word:
    a soft distribution that reads as the asked class, but decodes to the unchanged input."""

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray:
        soft = 0.7 * super().put_distribution(states, asked)
        soft[..., GOOD] += 0.3 * asked[:, None, 1]
        soft[..., BAD] += 0.3 * asked[:, None, 0]
        return soft


def test_bleu_of_identical_sentences_is_100_and_of_unrelated_ones_near_0():
    sentences = ["the film was very good", "a bad plot and bad actors", "it is good"]
    assert bleu(sentences, sentences) == pytest.approx(100.0)
    assert bleu(["x y z w", "q r s t u", "m n"], sentences) < 1.0
    assert 0.0 < bleu(["the film was very bad", *sentences[1:]], sentences) < 100.0


def test_a_copying_editor_keeps_every_word_and_changes_no_sentiment():
    report = figures(Copy(), word_judge, reviews(), "tokens", "label")
    found = report["figures"]
    assert found["bleu"] == pytest.approx(100.0)
    assert found["attribute_success"] == 0.0
    assert report["reference"] == {"identity_attribute_success": 0.0}
    assert found["getput_mse"] == 0.0 and found["undo_mse"] == 0.0


def test_the_oracle_succeeds_and_keeps_most_words():
    found = figures(Swap(), word_judge, reviews(), "tokens", "label")["figures"]
    assert found["attribute_success"] == 1.0 == found["training_classifier_success"]
    assert 30.0 < found["bleu"] < 100.0  # one word of each sentence differs


def test_unrelated_sentences_score_a_low_bleu():
    found = figures(Scramble(), word_judge, reviews(), "tokens", "label")["figures"]
    assert found["bleu"] < 5.0


def test_the_judge_reads_the_decoded_edit_not_the_word_distribution():
    found = figures(Blend(), word_judge, reviews(), "tokens", "label")["figures"]
    assert found["attribute_success"] == 0.0 == found["training_classifier_success"]
    assert found["bleu"] == pytest.approx(100.0)


def test_image_figures_have_no_bleu():
    images = np.random.default_rng(0).random((8, 4, 4, 3)).astype(np.float32)
    data = Dataset("images", {"image": images, "label": np.arange(8) % 2}, {"label": 2})

    class Same:
        classes = 2

        def read(self, states):
            return np.tile([1.0, 0.0], (len(states), 1))

        def put_distribution(self, states, asked):
            return states

    found = figures(Same(), lambda x: {"label": np.zeros(len(x), int)}, data, "image",
                    "label")["figures"]
    assert "bleu" not in found


# -- a tiny trained text run ---------------------------------------------------------

TINY = """
type Sentence = Tokens[16, 10]                   # the tiny corpus has 16 words, specials included
type Sentiment = Class[2]
data reviews : -> Sentence, Sentiment
random sentiment : -> Sentiment ~ uniform
learner get : Sentence -> Sentiment
learner put : Sentence, Sentiment -> Sentence

task classify:
    x, y <- reviews
    get(x) = y                      trains get

task put_get:
    x, _ <- reviews
    a <- sentiment
    get(put(x, a)) = a              trains put

task get_put:
    x, _ <- reviews
    put(x, get(x)) = x              trains put

objective manipulate = classify + put_get + 10 * get_put

impl get = nets.text_encoder(embed = 8, width = 8, hard = true)
impl put = nets.text_editor(embed = 8, width = 8, copy = 10)

train manipulate:
    data reviews = datasets.sentiment(path = "DATA", length = 10, max_vocab = 16)
    batch 8
    steps 4
    seed 3
"""


@pytest.fixture(scope="module")
def tiny_text_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_text")
    rng = np.random.default_rng(0)
    lines = []
    for i in range(120):
        score = rng.choice([-2.0, 2.0])
        words = [*rng.choice(WORDS[2:], 5), "good" if score > 0 else "bad"]
        lines.append(f"{i}\t{score}\t{' '.join(rng.permutation(words))}")
    (folder / "movieReviewSnippets_GroundTruth.txt").write_text("\n".join(lines) + "\n")
    (folder / "tiny.task").write_text(TINY.replace("DATA", str(folder)))
    train(load(folder / "tiny.task"), None, (), folder / "run", progress=False)
    return folder / "run"


def test_eval_of_a_text_run_has_bleu_and_writes_edits(tiny_text_run):
    result = evaluate(tiny_text_run, n=12, judge_steps=3, progress=False)
    written = json.loads((tiny_text_run / EVAL_FILE).read_text())
    assert written == json.loads(json.dumps(result))
    found = written["figures"]
    assert 0.0 <= found["bleu"] <= 100.0
    assert found["bleu"] > 50.0  # a copying editor after 4 steps still mostly copies
    assert 0.0 <= found["attribute_success"] <= 1.0
    assert written["pictures"] == [EDITS_FILE]
    edits = (tiny_text_run / EDITS_FILE).read_text().splitlines()
    assert any("judge:" in line and ("good" in line or "bad" in line) for line in edits)
    assert any(line.startswith("to ") for line in edits)
