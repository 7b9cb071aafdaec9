"""Fit fastText (supervised) on one head and export it as a MeanBagHead (triage.classify.bag).

The fastText library is a training dependency only (the dev extra): the served model holds,
per token of the vocabulary and per bigram seen in training, that row of the input matrix times
the output matrix. To find a bigram's row this module computes fastText's own hashes: FNV-1a over
the token's UTF-8 bytes (each byte sign-extended, as C++ reads a `char`), the tokens' hashes kept
as int32 and combined as uint64 (`h * 116049371 + next`), taken modulo the bucket count.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

import numpy as np

from triage.classify.bag import EOS, MeanBagHead, bigram, tokens_of

_U64 = (1 << 64) - 1


def fnv1a(token: str) -> int:
    """fastText's Dictionary::hash of a token."""
    h = 2166136261
    for b in token.encode("utf-8"):
        h = ((h ^ (b | 0xFFFFFF00 if b >= 0x80 else b)) * 16777619) & 0xFFFFFFFF
    return h


def _as_int32(h: int) -> int:
    """A uint32 hash read as fastText stores it (int32), then widened to uint64 as it is combined."""
    return (h - (1 << 32) if h >= 1 << 31 else h) & _U64


def bigram_bucket(a: str, b: str, bucket: int) -> int:
    """The bucket of the bigram (a, b) (Dictionary::addWordNgrams with wordNgrams=2)."""
    return ((_as_int32(fnv1a(a)) * 116049371 + _as_int32(fnv1a(b))) & _U64) % bucket


def fit_fasttext(tokens: Sequence[Sequence[str]], y: Sequence[str], seed: int = 13, epoch: int = 25,
                 lr: float = 0.5, dim: int = 100):
    """fastText supervised with the peer's settings (training.peers.FastTextPeer): word bigrams,
    every token kept, softmax, one thread (so that a seed gives one model)."""
    try:
        import fasttext
    except ImportError as e:  # a training dependency only
        raise RuntimeError("the long-text member is trained with fastText: pip install -e '.[dev]'") from e
    fd, path = tempfile.mkstemp(suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for toks, label in zip(tokens, y):
                f.write(f"__label__{label} {line(toks)}\n")
        return fasttext.train_supervised(path, epoch=epoch, lr=lr, wordNgrams=2, minCount=1, dim=dim,
                                         loss="softmax", seed=seed, verbose=0, thread=1)
    finally:
        os.unlink(path)


def line(tokens: Sequence[str]) -> str:
    """A text's tokens as fastText reads a line (it adds EOS at the line's end itself)."""
    if not tokens or tokens[-1] != EOS:
        raise ValueError("tokens end with EOS (tokens_of)")
    return " ".join(tokens[:-1])


def probabilities(model, tokens: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[str]]:
    """fastText's own probabilities of each text (its predict), and the classes of the columns (its labels)."""
    classes = [label.removeprefix("__label__") for label in model.get_labels()]
    out = np.zeros((len(tokens), len(classes)))
    for i, toks in enumerate(tokens):
        # model.f.predict: the Python wrapper's predict breaks on NumPy 2 (np.array(copy=False)).
        for p, label in model.f.predict(line(toks) + "\n", -1, 0.0, "strict"):
            out[i, classes.index(label.removeprefix("__label__"))] = p
    return out, classes


def export(model, tokens: Sequence[Sequence[str]]) -> MeanBagHead:
    """`model`'s rows of logits for every token of its vocabulary and every bigram of `tokens`
    (the texts it was fitted on)."""
    words = list(model.get_words())
    labels = [label.removeprefix("__label__") for label in model.get_labels()]  # as `probabilities` reads them
    out = np.asarray(model.get_output_matrix(), dtype=np.float64)  # (classes, dim)
    n_words = len(words)
    bucket = int(model.f.getArgs().bucket)
    rows: dict[str, int] = {w: i for i, w in enumerate(words)}
    for toks in tokens:
        for a, b in zip(toks, toks[1:]):
            key = bigram(a, b)
            if key not in rows:
                rows[key] = n_words + bigram_bucket(a, b, bucket)
    vectors = np.array([model.get_input_vector(i) for i in rows.values()], dtype=np.float64)
    return MeanBagHead.from_terms(labels, list(rows), vectors @ out.T)


def fit_member(texts: Sequence[str], y: Sequence[str], seed: int = 13) -> MeanBagHead:
    """The member of one head, fitted on (normalised) texts and their labels."""
    tokens = tokens_of(texts)
    return export(fit_fasttext(tokens, y, seed), tokens)
