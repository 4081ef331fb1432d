"""Sentence sentiment from Hutto and Gilbert's human-rated snippets (ICWSM 2014).

Each file line is ``id<TAB>score<TAB>text`` with the mean human rating in [-4, 4].
Sentences rated strictly above 0.5 are positive (label 1), strictly below -0.5 negative
(label 0); the mildly rated ones, +-0.5 included, are dropped because their raters
barely agree on the sign. On the movie snippets this keeps 4,982 positive and 5,061
negative sentences, the counts the data's documentation gives.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from . import messages
from .base import (
    SPLITS,
    Choice,
    DataError,
    Dataset,
    Description,
    FieldSpec,
    Folder,
    Whole,
    check_int,
    checked,
    split_indices,
)
from .locate import find_file, read_bytes

DOMAINS = {
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
}
THRESHOLD = 0.5
TEST_PERCENT = 10

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
OPTIONS = {
    "split": Choice(SPLITS),
    "domain": Choice(tuple(DOMAINS)),
    "path": Folder(),
    "length": Whole(2),
    "max_vocab": Whole(len(SPECIALS) + 1),
}
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_JSON_FORMAT = "taskdsl.tokenizer/1"


def tokenize(text: str) -> list[str]:
    """Lowercased words (apostrophes inside a word kept, as in "don't") and punctuation."""
    return _TOKEN.findall(text.lower())


class Tokenizer:
    """A word-level vocabulary: ids 0..3 are ``<pad>``, ``<unk>``, ``<bos>``, ``<eos>``.

    Built from training text only, so test sentences meet unknown words as a deployed
    model would. Saved with :meth:`to_json` next to a trained model, so that its token
    ids keep their meaning.
    """

    def __init__(self, words: Sequence[str]) -> None:
        """``words`` are the vocabulary in id order, starting with the special tokens."""
        if tuple(words[: len(SPECIALS)]) != SPECIALS or len(set(words)) != len(words):
            raise DataError(messages.bad_vocabulary(SPECIALS))
        self.words = list(words)
        self.ids = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def fit(cls, texts: Iterable[str], max_vocab: int = 5000) -> Tokenizer:
        """The ``max_vocab`` - 4 most frequent words of ``texts`` (ties alphabetically)."""
        max_vocab = check_int("max_vocab", max_vocab, len(SPECIALS) + 1)
        counts = Counter(word for text in texts for word in tokenize(text))
        ranked = sorted(counts, key=lambda word: (-counts[word], word))
        return cls([*SPECIALS, *ranked[: max_vocab - len(SPECIALS)]])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, texts: Iterable[str], length: int) -> np.ndarray:
        """Token ids (N, ``length``) int32: ``<bos>`` words ``<eos>``, then ``<pad>``.

        Words past ``length`` - 2 are cut so that every row keeps its ``<eos>``.
        """
        length = check_int("length", length, 2)
        unk = self.ids[UNK]
        rows = [
            [
                self.ids[BOS],
                *[self.ids.get(word, unk) for word in tokenize(text)][: length - 2],
                self.ids[EOS],
            ]
            for text in texts
        ]
        out = np.full((len(rows), length), self.ids[PAD], dtype=np.int32)
        for i, row in enumerate(rows):
            out[i, : len(row)] = row
        return out

    def decode(self, ids: np.ndarray) -> list[str]:
        """One string per row of ``ids``: its words joined by spaces, up to ``<eos>``/``<pad>``.

        Unknown words come back as ``<unk>``.
        """
        stop = {self.ids[EOS], self.ids[PAD]}
        texts = []
        for row in np.atleast_2d(np.asarray(ids)).tolist():
            words = []
            for i in row:
                if i in stop:
                    break
                if i != self.ids[BOS]:
                    words.append(self.words[i] if 0 <= i < len(self.words) else UNK)
            texts.append(" ".join(words))
        return texts

    def to_json(self) -> str:
        """The tokenizer as JSON text, for :meth:`from_json`."""
        return json.dumps({"format": _JSON_FORMAT, "words": self.words})

    @classmethod
    def from_json(cls, text: str) -> Tokenizer:
        """The tokenizer saved by :meth:`to_json`; anything else is a DataError."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as error:
            raise DataError(messages.bad_tokenizer_json(str(error))) from error
        if not isinstance(data, dict) or data.get("format") != _JSON_FORMAT:
            raise DataError(messages.bad_tokenizer_json(f"no 'format': {_JSON_FORMAT!r}"))
        words = data.get("words")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise DataError(messages.bad_tokenizer_json("'words' must be a list of strings"))
        return cls(words)


def read_snippets(path: Path) -> tuple[list[str], np.ndarray]:
    """The texts and scores of a ground-truth file (gzipped or not)."""
    try:
        lines = read_bytes(path).decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise DataError(messages.corrupt_file(path, str(error))) from error
    texts, scores = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise DataError(messages.bad_columns(path, number, len(parts)))
        try:
            scores.append(float(parts[1]))
        except ValueError as error:
            raise DataError(messages.bad_score(path, number, parts[1])) from error
        texts.append(parts[2])
    return texts, np.array(scores, dtype=np.float64)


def load_sentiment(
    split: str = "train",
    domain: str = "movies",
    path: object = None,
    length: int = 24,
    max_vocab: int = 5000,
) -> Dataset:
    """Labelled sentences of ``domain``'s ``split``: fields ``tokens`` (N, ``length``) int32
    and ``label`` int32 (1 positive, 0 negative).

    The file is read from ``path`` when given, else from the data folder (see
    :mod:`.locate`), where ``taskdsl data fetch sentiment`` puts it. A fixed permutation
    (seed 0) keeps 90% of the labelled sentences for training, 10% for testing. The
    vocabulary always comes from the training part, and ``extras["tokenizer"]`` decodes
    the tokens.
    """
    checked(OPTIONS, split=split, domain=domain, path=path, length=length, max_vocab=max_vocab)
    texts, scores = read_snippets(sentiment_file(split, domain, path))
    keep = np.flatnonzero(np.abs(scores) > THRESHOLD)
    labelled = [texts[i] for i in keep]
    rows = split_indices(len(keep), split, TEST_PERCENT)
    train_rows = split_indices(len(keep), "train", TEST_PERCENT)
    tokenizer = Tokenizer.fit([labelled[i] for i in train_rows], max_vocab)
    return Dataset(
        name="sentiment",
        fields={
            "tokens": tokenizer.encode([labelled[i] for i in rows], length),
            "label": (scores[keep][rows] > 0).astype(np.int32),
        },
        classes={"tokens": len(tokenizer), "label": 2},
        extras={"tokenizer": tokenizer},
    )


def sentiment_file(split: str = "train", domain: str = "movies", path: object = None,
                   length: int = 24, max_vocab: int = 5000) -> Path:
    """The ground-truth file of ``domain``; a missing one is a DataError saying where it
    looked."""
    return find_file("sentiment", [DOMAINS[domain]], path, messages.SENTIMENT_HOWTO)


def sentiment_fields(split: str = "train", domain: str = "movies", path: object = None,
                     length: int = 24, max_vocab: int = 5000) -> dict[str, FieldSpec]:
    """The fields ``load_sentiment`` gives, without reading the file: the token ids are
    below ``max_vocab`` (the vocabulary may be smaller when the text has fewer words)."""
    return {"tokens": FieldSpec((int(length),), "int32", int(max_vocab), vocabulary=True),
            "label": FieldSpec((), "int32", 2)}


SENTIMENT = Description(OPTIONS, sentiment_fields, sentiment_file)
