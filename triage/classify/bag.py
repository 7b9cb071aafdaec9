"""The long-text member: a fastText classifier exported as a linear head over the mean of its tokens.

fastText's supervised model averages the input vectors of a text's tokens and of its word
bigrams (hashed into buckets), multiplies by the output matrix and takes the softmax. Nothing
between the average and the softmax is non-linear, so each token's or bigram's vector times the
output matrix is a fixed row of logits, and the text's logits are the mean of its rows: a
linear model over the mean of the bag, exported here as one row of weights per token and per
bigram seen in training (training/fasttext_export.py). The bucket table (two million rows of a
hundred floats) and the fastText library stay at training time.

A bigram never seen in training is left out of the sum but counted in the mean, as fastText
counts its bucket; its bucket's row, when another bigram trained it, is the one difference
(tests/test_bag.py holds the export to fastText's own probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from triage.text.hashing import KeyTable, hash_strings
from triage.text.tokenize import segment

EOS = "</s>"
"""fastText's end-of-line token: every line has it, and so every text's last bigram."""


def tokens_of(texts: Sequence[str], words: Sequence[Sequence[str]] | None = None) -> list[list[str]]:
    """Per text (normalised), its tokens as the member reads them: the jieba words, then every
    character but whitespace (Chinese has no spaces to make tokens of; a word is also its
    characters), then EOS. `words`: the texts' words, if already cut."""
    if words is None:
        words = segment(list(texts)).strings()
    return [[*ws, *(c for c in text if not c.isspace() and c != "\0"), EOS] for text, ws in zip(texts, words)]


def bigram(a: str, b: str) -> str:
    """The key of a bigram (no token holds a space)."""
    return f"{a} {b}"


@dataclass
class MeanBagHead:
    """Probabilities of one head's classes from the mean of a text's token and bigram rows."""

    classes: list[str]
    table: KeyTable
    """The keys (triage.text.hashing) of the tokens and bigrams, in the order of `weights`."""
    weights: np.ndarray
    """(keys, classes): each key's row of logits."""

    @classmethod
    def from_terms(cls, classes: Sequence[str], terms: Sequence[str], weights: np.ndarray) -> MeanBagHead:
        """From the terms (tokens, and bigrams as `bigram` keys them) and their rows of logits."""
        table = KeyTable(*hash_strings(list(terms)))
        assert table.rows is not None
        return cls.from_arrays(classes, table.s1, table.h2, np.ascontiguousarray(weights[table.rows], dtype=np.float32))

    @classmethod
    def from_arrays(cls, classes: Sequence[str], s1: np.ndarray, h2: np.ndarray, weights: np.ndarray) -> MeanBagHead:
        """As saved (`arrays`): the keys in the table's sorted order, and their rows."""
        if weights.ndim != 2 or weights.shape != (len(s1), len(classes)) or h2.shape != s1.shape:
            raise ValueError(f"a bag head of {len(s1)} keys and {len(classes)} classes with rows of {weights.shape}")
        return cls(list(classes), KeyTable.from_sorted(s1, h2), weights)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"s1": self.table.s1, "h2": self.table.h2, "weights": self.weights.astype(np.float32)}

    def _rows(self, terms: list[str], owner: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Add the rows of the terms found to their texts' (`owner`) logits; the owners of those found."""
        if not terms:
            return np.zeros(0, dtype=np.int64)
        at = self.table.find(*hash_strings(terms))
        hit = at >= 0
        found = owner[hit]
        np.add.at(out, found, self.weights[at[hit]].astype(np.float64))
        return found

    def logits(self, tokens: Sequence[Sequence[str]]) -> np.ndarray:
        """(texts, classes): the mean of each text's rows over its tokens found and all its bigrams."""
        out = np.zeros((len(tokens), len(self.classes)))
        words = [t for toks in tokens for t in toks]
        pairs = [bigram(a, b) for toks in tokens for a, b in zip(toks, toks[1:])]
        n_tokens = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        n_bigrams = np.maximum(n_tokens - 1, 0)
        found = self._rows(words, np.repeat(np.arange(len(tokens)), n_tokens), out)
        self._rows(pairs, np.repeat(np.arange(len(tokens)), n_bigrams), out)
        # fastText's mean is over the tokens in its vocabulary and every bigram (each has a bucket).
        known = np.bincount(found, minlength=len(tokens)) + n_bigrams
        return out / np.maximum(known, 1)[:, None]

    def predict_proba(self, tokens: Sequence[Sequence[str]]) -> np.ndarray:
        z = self.logits(tokens)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
