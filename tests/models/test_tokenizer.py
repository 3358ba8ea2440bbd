"""fairaudit.models.tokenizer: a deterministic word vocabulary from the training notes."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.models.tokenizer import PAD, UNK, WordTokenizer, split_words


def test_split_words_lowercases_and_drops_punctuation() -> None:
    assert split_words("No fever; cough x3 days, patient's O2 OK.") == [
        "no", "fever", "cough", "x3", "days", "patient's", "o2", "ok",
    ]


def test_vocabulary_is_by_frequency_then_alphabetical_and_capped() -> None:
    texts = ["b a c", "a b", "a d", "e"]
    tok = WordTokenizer.build(texts, min_freq=2, max_len=4)
    assert tok.vocab == (PAD, UNK, "a", "b")
    assert WordTokenizer.build(texts, min_freq=1, max_vocab=4).vocab == (PAD, UNK, "a", "b")
    assert WordTokenizer.build(reversed(texts), min_freq=2).vocab == tok.vocab


def test_encode_pads_cuts_and_marks_unknown_words() -> None:
    tok = WordTokenizer(vocab=(PAD, UNK, "cough", "fever"), max_len=3)
    ids = tok.encode(["fever", "cough fever wheeze rash", ""])
    assert ids.dtype == np.int64 and ids.shape == (3, 3)
    assert ids.tolist() == [[3, 0, 0], [2, 3, 1], [0, 0, 0]]


def test_round_trip_and_a_vocabulary_without_the_special_tokens() -> None:
    tok = WordTokenizer.build(["a a b b"], max_len=5)
    assert WordTokenizer.from_dict(tok.to_dict()) == tok
    with pytest.raises(ValueError, match="must start with '<pad>', '<unk>'"):
        WordTokenizer(vocab=("a", "b"), max_len=2)
