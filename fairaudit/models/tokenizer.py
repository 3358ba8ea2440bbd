"""A word-level tokenizer built from the training notes (nothing is downloaded)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def split_words(text: str) -> list[str]:
    """Lower-case words and numbers; punctuation is dropped (negation words are kept)."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class WordTokenizer:
    """Maps note text to fixed-length id arrays. Id 0 is padding, id 1 an unknown word.

    Attributes
    ----------
    vocab : tuple of str
        ``vocab[i]`` is the word with id ``i``; starts with ``"<pad>"`` and ``"<unk>"``.
    max_len : int
        Notes are cut to this many words.
    """

    vocab: tuple[str, ...]
    max_len: int

    def __post_init__(self) -> None:
        if self.vocab[:2] != (PAD, UNK):
            raise ValueError("vocab must start with '<pad>', '<unk>'")
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.vocab)})

    @classmethod
    def build(
        cls, texts: Iterable[str], *, max_len: int = 48, min_freq: int = 2, max_vocab: int = 2000
    ) -> WordTokenizer:
        """Vocabulary of the ``max_vocab`` most frequent words seen at least ``min_freq`` times.

        Ties in frequency are broken alphabetically so the vocabulary is deterministic.
        """
        counts = Counter(w for t in texts for w in split_words(t))
        kept = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        return cls(vocab=(PAD, UNK, *kept[: max(0, max_vocab - 2)]), max_len=max_len)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Token ids of shape (len(texts), max_len), int64, right-padded with 0."""
        out = np.zeros((len(texts), self.max_len), dtype=np.int64)
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        for i, text in enumerate(texts):
            ids = [index.get(w, 1) for w in split_words(text)][: self.max_len]
            out[i, : len(ids)] = ids
        return out

    def to_dict(self) -> dict:
        return {"vocab": list(self.vocab), "max_len": self.max_len}

    @classmethod
    def from_dict(cls, d: dict) -> WordTokenizer:
        return cls(vocab=tuple(str(w) for w in d["vocab"]), max_len=int(d["max_len"]))
