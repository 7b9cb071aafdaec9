"""The feature space shared by every head: word n-grams, character n-grams, flag cues.

Words come from jieba with the automotive dictionary; characters catch what segmentation
misses (brand-new slang, typos, Traditional leftovers). Each block is TF-IDF with
sublinear term frequency, L2-normalised on its own, so that neither block drowns the
other; cue columns are 0/1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.classify.cues import CUE_NAMES, Cue, find_cues
from triage.text.tokenize import words

_SKIP = str.maketrans("", "", " \n\t,.!?;:，。！？；：、\"'“”‘’()（）")


def word_features(text: str) -> list[str]:
    ws = words(text)
    return ws + [f"{a} {b}" for a, b in zip(ws, ws[1:])]


def char_features(text: str) -> list[str]:
    s = text.translate(_SKIP)
    return [*s, *[a + b for a, b in zip(s, s[1:])], *[s[i:i + 3] for i in range(len(s) - 2)]]


def _vectorizer(analyzer, min_df: int, max_features: int | None) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=analyzer, min_df=min_df, max_features=max_features,
                           sublinear_tf=True, dtype=np.float32)


class FeatureSpace:
    """Texts (already normalised) to one sparse matrix; fit once, then transform."""

    def __init__(self, min_df: int = 2, max_word_features: int | None = 40_000,
                 max_char_features: int | None = 80_000) -> None:
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features

    def fit(self, texts: Sequence[str]) -> FeatureSpace:
        self.words_ = _vectorizer(word_features, self.min_df, self.max_word_features).fit(texts)
        self.chars_ = _vectorizer(char_features, self.min_df, self.max_char_features).fit(texts)
        self._index()
        return self

    def _index(self) -> None:
        self.names_ = np.concatenate([
            np.char.add("w:", self.words_.get_feature_names_out().astype(str)),
            np.char.add("c:", self.chars_.get_feature_names_out().astype(str)),
            np.array([f"cue:{c}" for c in CUE_NAMES]),
            np.array([f"meta:{m}" for m in META_NAMES]),
        ])
        self.n_text_ = len(self.names_) - len(CUE_NAMES) - len(META_NAMES)
        n_words = len(self.words_.vocabulary_)
        self._char_offset_vocab = {t: i + n_words for t, i in self.chars_.vocabulary_.items()}
        self._idf = np.concatenate([self.words_.idf_, self.chars_.idf_]).astype(np.float64)

    def transform(self, texts: Sequence[str], cues: Sequence[list[Cue]] | None = None) -> sp.csr_matrix:
        """The same matrix as hstack of the two TfidfVectorizers' transform and the cue
        columns, computed in one vectorised pass (the serving hot path)."""
        if cues is None:
            cues = [find_cues(t) for t in texts]
        n_words = len(self.words_.vocabulary_)
        n_text = self.n_text_
        n_meta = n_text + len(CUE_NAMES)
        word_get = self.words_.vocabulary_.get
        char_get = self._char_offset_vocab.get
        cols: list[int] = []
        lengths: list[int] = []
        for r, text in enumerate(texts):
            before = len(cols)
            cols += [i for i in map(word_get, word_features(text)) if i is not None]
            cols += [i for i in map(char_get, char_features(text)) if i is not None]
            cols += {n_text + _CUE_INDEX[c.key] for c in cues[r]}
            cols += [n_meta + m for m in meta_columns(text)]
            lengths.append(len(cols) - before)
        rows = np.repeat(np.arange(len(texts)), lengths)
        # COO to CSR sums the duplicates: data becomes the term counts, in C.
        X = sp.csr_matrix((np.ones(len(cols), dtype=np.float64), (rows, np.asarray(cols, dtype=np.int32))),
                          shape=(len(texts), len(self.names_)))
        X.sum_duplicates()
        r = np.repeat(np.arange(len(texts)), np.diff(X.indptr))
        c = X.indices
        is_cue = c >= n_text
        data = np.where(is_cue, 1.0, (1.0 + np.log(X.data)) * self._idf[np.minimum(c, n_text - 1)])
        # L2-normalise each row's word block and char block on their own.
        block = np.where(c < n_words, 0, np.where(is_cue, 2, 1))
        sq = np.bincount(r * 3 + block, weights=data * data, minlength=len(texts) * 3)
        norm = np.sqrt(sq[r * 3 + block])
        X.data = np.where(is_cue, data, data / np.where(norm > 0, norm, 1.0)).astype(np.float32)
        return X

    # Serialised as plain arrays so that loading never unpickles anything.
    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "word_terms": self.words_.get_feature_names_out().astype(str), "word_idf": self.words_.idf_,
            "char_terms": self.chars_.get_feature_names_out().astype(str), "char_idf": self.chars_.idf_,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FeatureSpace:
        space = cls()
        for attr, analyzer, prefix in (("words_", word_features, "word"), ("chars_", char_features, "char")):
            terms = arrays[f"{prefix}_terms"]
            vec = _vectorizer(analyzer, 1, None)
            vec.vocabulary_ = {str(t): i for i, t in enumerate(terms)}
            vec.fixed_vocabulary_ = True
            vec.idf_ = arrays[f"{prefix}_idf"].astype(np.float64)
            setattr(space, attr, vec)
        space._index()
        return space


_CUE_INDEX = {name: i for i, name in enumerate(CUE_NAMES)}

META_NAMES = ("short", "medium", "long", "dialogue")
"""The register of the text: one-line summaries, hotline transcripts and letters have
different label priors, and these columns let each head learn them."""
_TURN = re.compile(r"(?:^|\n)\s*[^\s:：]{1,4}[:：]")


def meta_columns(text: str) -> list[int]:
    n = len(text)
    cols = [0 if n <= 40 else 1 if n <= 200 else 2]
    if len(_TURN.findall(text)) >= 2:
        cols.append(3)
    return cols

