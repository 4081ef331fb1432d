"""Sentiment: the label counts of the real files, the split, and the tokenizer."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from taskdsl.backends.jax.data import DataError, Tokenizer, load, load_sentiment
from taskdsl.backends.jax.data.sentiment import read_snippets, tokenize


def test_label_counts_and_split(real_sentiment: Path) -> None:
    path = real_sentiment
    train, test = load("sentiment", path=path), load("sentiment", split="test", path=path)
    labels = np.concatenate([train.fields["label"], test.fields["label"]])
    assert np.bincount(labels).tolist() == [5061, 4982]
    assert (len(train), len(test)) == (9039, 1004)
    assert list(train.fields) == ["tokens", "label"]
    assert train.fields["tokens"].shape == (9039, 24)
    assert train.fields["tokens"].dtype == train.fields["label"].dtype == np.int32
    tokenizer = train.extras["tokenizer"]
    assert len(tokenizer) == 5000 == train.classes["tokens"]
    assert train.classes["label"] == 2
    # Both splits share the training vocabulary, and no sentence is in both.
    assert test.extras["tokenizer"].words == tokenizer.words
    train_rows = {row.tobytes() for row in train.fields["tokens"]}
    assert not any(row.tobytes() in train_rows for row in test.fields["tokens"])


def test_options_change_the_data(real_sentiment: Path) -> None:
    path = real_sentiment
    short = load_sentiment("test", path=path, length=8, max_vocab=100)
    assert short.fields["tokens"].shape == (1004, 8)
    assert short.fields["tokens"].max() < 100
    # Every row keeps its <eos>, however long the sentence.
    assert ((short.fields["tokens"] == 3).sum(axis=1) == 1).all()
    assert (short.fields["tokens"][:, 7] == 3).mean() > 0.9
    amazon = load_sentiment(domain="amazon", path=path)
    assert len(amazon) == 2649  # 90% of 1,725 positive + 1,218 negative


def test_tokenize_splits_words_and_punctuation() -> None:
    assert tokenize("It's GREAT, isn't it?!") == ["it's", "great", ",", "isn't", "it", "?", "!"]


def test_encode_decode_round_trip() -> None:
    texts = ["A good film.", "a bad, bad film!", "good"]
    tokenizer = Tokenizer.fit(texts)
    assert tokenizer.words[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert tokenizer.words[4:7] == ["a", "bad", "film"]  # by frequency, ties alphabetically
    ids = tokenizer.encode(texts, length=10)
    assert ids.shape == (3, 10)
    assert ids.dtype == np.int32
    assert ids[2].tolist() == [2, tokenizer.ids["good"], 3, 0, 0, 0, 0, 0, 0, 0]
    assert tokenizer.decode(ids) == ["a good film .", "a bad , bad film !", "good"]
    assert tokenizer.decode(tokenizer.encode(["a dreadful film"], 10)) == ["a <unk> film"]
    assert tokenizer.decode(tokenizer.encode(["a bad film indeed"], 4)) == ["a bad"]


def test_max_vocab_keeps_the_most_frequent() -> None:
    tokenizer = Tokenizer.fit(["x x x y y z"], max_vocab=6)
    assert tokenizer.words == ["<pad>", "<unk>", "<bos>", "<eos>", "x", "y"]
    with pytest.raises(DataError, match="option `max_vocab` must be an integer >= 5"):
        Tokenizer.fit(["x"], max_vocab=4)


def test_json_round_trip() -> None:
    tokenizer = Tokenizer.fit(["one two two three three three"])
    again = Tokenizer.from_json(tokenizer.to_json())
    assert again.words == tokenizer.words
    ids = tokenizer.encode(["three two one four"], 8)
    np.testing.assert_array_equal(again.encode(["three two one four"], 8), ids)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"format": "other", "words": []}',
        '{"format": "taskdsl.tokenizer/1", "words": ["a", "b"]}',
    ],
)
def test_bad_json_is_a_data_error(text: str) -> None:
    with pytest.raises(DataError):
        Tokenizer.from_json(text)


def test_small_file_and_its_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKDSL_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    lines = [f"{i}\t{score}\tsentence {i}" for i, score in enumerate([2, -2, 0.5, -0.5, 0.51] * 4)]
    name = "movieReviewSnippets_GroundTruth.txt.gz"
    (tmp_path / name).write_bytes(gzip.compress("\n".join(lines).encode()))
    texts, scores = read_snippets(tmp_path / name)
    assert len(texts) == 20
    assert texts[3] == "sentence 3"
    assert scores[:5].tolist() == [2, -2, 0.5, -0.5, 0.51]
    ds = load_sentiment(path=tmp_path, length=5)
    test = load_sentiment("test", path=tmp_path, length=5)
    # +-0.5 are dropped: 12 labelled sentences, 8 of them positive.
    assert len(ds) + len(test) == 12
    assert ds.fields["label"].sum() + test.fields["label"].sum() == 8
    (tmp_path / name).write_bytes(gzip.compress(b"1\tnot-a-number\ttext\n"))
    with pytest.raises(DataError, match="line 1: score 'not-a-number'"):
        load_sentiment(path=tmp_path)
    (tmp_path / name).write_bytes(gzip.compress(b"1\t2.0\n"))
    with pytest.raises(DataError, match="line 1: 2 columns"):
        load_sentiment(path=tmp_path)


def test_missing_file_lists_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKDSL_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as caught:
        load_sentiment(domain="amazon")
    message = str(caught.value)
    assert "amazonReviewSnippets_GroundTruth.txt[.gz]" in message
    assert f"in {tmp_path / 'sentiment'} ($TASKDSL_DATA/sentiment)" in message
    assert "`taskdsl data fetch sentiment`" in message
