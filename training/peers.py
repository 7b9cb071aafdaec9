"""The simple peers a model is judged against, trained on exactly the same real rows:

- character 1-3-gram TF-IDF with logistic regression, one per head;
- fastText, supervised, over characters plus jieba words (word bigrams on).

Each is an estimator with fit / predict over texts, one per head or flag, so that
`compare` can put them beside the shipped model per register and per class in one run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from training import fasttext_export
from training.dataset import Example
from triage.classify.bag import tokens_of
from triage.classify.bootstrap import ScoredRow
from triage.classify.evaluate import score
from triage.classify.labels import FLAGS, HEADS
from triage.text.normalize import normalize


def expand(examples: Sequence[Example], head: str) -> tuple[list[str], list[str], np.ndarray]:
    """Rows with gold for `head`, one per acceptable label, the row's weight split evenly."""
    texts, ys, ws = [], [], []
    for ex in examples:
        gold = ex.gold.get(head)
        for g in gold or ():
            texts.append(ex.text)
            ys.append(g)
            ws.append(1.0 / len(gold))
    return texts, ys, np.asarray(ws)


def flag_rows(examples: Sequence[Example], flag: str) -> tuple[list[str], list[str]]:
    rows = [e for e in examples if e.flags.get(flag) is not None]
    return [e.text for e in rows], ["1" if e.flags[flag] else "0" for e in rows]


class CharTfidfLR:
    """Character 1-3-gram TF-IDF (sublinear tf) and logistic regression."""

    name = "char TF-IDF + LR"

    def fit(self, texts: Sequence[str], y: Sequence[str], sample_weight: np.ndarray | None = None) -> CharTfidfLR:
        self.vec_ = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
        self.clf_ = LogisticRegression(C=10.0, max_iter=3000)
        self.clf_.fit(self.vec_.fit_transform(texts), y, sample_weight=sample_weight)
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(p) for p in self.clf_.predict(self.vec_.transform(texts))]

    def predict_proba(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """(rows, classes) probabilities, and the classes of the columns."""
        return self.clf_.predict_proba(self.vec_.transform(texts)), [str(c) for c in self.clf_.classes_]


def fasttext_tokens(texts: Sequence[str]) -> list[list[str]]:
    """Per text, jieba words and single characters, then EOS (triage.classify.bag.tokens_of: fastText's
    own char n-grams work inside a token; Chinese has no spaces to make tokens of). One batched cut."""
    return tokens_of([normalize(t).text for t in texts])


class FastTextPeer:
    """fastText supervised: jieba words plus characters, word bigrams, 25 epochs."""

    name = "fastText"

    def __init__(self, epoch: int = 25, lr: float = 0.5, seed: int = 13) -> None:
        self.epoch, self.lr, self.seed = epoch, lr, seed

    def fit(self, texts: Sequence[str], y: Sequence[str], sample_weight: np.ndarray | None = None) -> FastTextPeer:
        # fastText takes no weights: a row of weight 1/k is one of k lines, which is the same thing.
        self.model_ = fasttext_export.fit_fasttext(fasttext_tokens(texts), y, self.seed, self.epoch, self.lr)
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.model_.f.predict(fasttext_export.line(tokens) + "\n", 1, 0.0, "strict")[0][1]
                .removeprefix("__label__") for tokens in fasttext_tokens(texts)]

    def predict_proba(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """(rows, classes) probabilities, and the classes of the columns."""
        return fasttext_export.probabilities(self.model_, fasttext_tokens(texts))


PEERS: dict[str, Callable[[], Any]] = {"char TF-IDF + LR": CharTfidfLR, "fastText": FastTextPeer}


class PeerModel:
    """One peer estimator per head and per flag that has both classes in the training rows."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.heads: dict[str, Any] = {}
        self.flags: dict[str, Any] = {}

    def fit(self, examples: Sequence[Example]) -> PeerModel:
        for head in HEADS:
            texts, ys, ws = expand(examples, head)
            if len(set(ys)) > 1:
                self.heads[head] = self.make().fit(texts, ys, ws)
        for flag in FLAGS:
            texts, ys = flag_rows(examples, flag)
            if len(set(ys)) > 1:
                self.flags[flag] = self.make().fit(texts, ys)
        return self

    def predict(self, texts: Sequence[str]) -> tuple[dict[str, list[str]], list[list[str]]]:
        heads = {h: est.predict(texts) for h, est in self.heads.items()}
        fired = {f: est.predict(texts) for f, est in self.flags.items()}
        return heads, [[f for f, ps in fired.items() if ps[i] == "1"] for i in range(len(texts))]


def scored_rows(examples: Sequence[Example], heads: dict[str, list[str]], flags: list[list[str]]
                ) -> dict[str, list[ScoredRow]]:
    """One set of predictions as Scorer.add rows, per register (a head the system has no
    predictions for carries no gold)."""
    out: dict[str, list[ScoredRow]] = {}
    for i, ex in enumerate(examples):
        gold = {h: ex.gold.get(h) if h in heads else None for h in HEADS}
        out.setdefault(ex.register, []).append((gold, _gold_flags(ex), {h: heads[h][i] for h in heads}, flags[i]))
    return out


def score_rows(examples: Sequence[Example], heads: dict[str, list[str]], flags: list[list[str]]) -> dict[str, Any]:
    """Figures per register of one set of predictions."""
    out: dict[str, Any] = {}
    for register, rows in sorted(scored_rows(examples, heads, flags).items()):
        out[register] = score(rows)
    return out


def _gold_flags(ex: Example) -> frozenset[str] | None:
    if any(v is None for v in ex.flags.values()):
        return None
    return frozenset(f for f, v in ex.flags.items() if v)
