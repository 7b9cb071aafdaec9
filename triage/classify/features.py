"""The feature space shared by every head: word n-grams, character n-grams, flag cues.

Words come from jieba with the automotive dictionary; characters catch what segmentation
misses (brand-new slang, typos, Traditional leftovers). Each block is TF-IDF with
sublinear term frequency, L2-normalised on its own, so that neither block drowns the
other; cue columns are 0/1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.classify.cues import CUE_NAMES, Cue, find_cues_batch
from triage.classify.sparse import SparseRows
from triage.text.hashing import KeyTable, char_hashes, codepoints, hash_strings
from triage.text.tokenize import segment, word_table, words

if TYPE_CHECKING:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

_SKIP = str.maketrans("", "", " \n\t,.!?;:，。！？；：、\"'“”‘’()（）")


def word_features(text: str) -> list[str]:
    return _with_bigrams(words(text))


def _with_bigrams(ws: list[str]) -> list[str]:
    return ws + [f"{a} {b}" for a, b in zip(ws, ws[1:])]


def char_features(text: str) -> list[str]:
    s = text.translate(_SKIP)
    return [*s, *[a + b for a, b in zip(s, s[1:])], *[s[i:i + 3] for i in range(len(s) - 2)]]


def _vectorizer(analyzer, min_df: int, max_features: int | None) -> TfidfVectorizer:
    # Imported here: serving never needs scikit-learn, whose import takes most of a second.
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=analyzer, min_df=min_df, max_features=max_features,
                           sublinear_tf=True, dtype=np.float32)


def _char_keys(cp: np.ndarray, length: np.ndarray | int, at: np.ndarray) -> np.ndarray:
    """A character n-gram (n <= 3) as one exact 63-bit key: 21 bits per code point (plus one,
    so that a shorter n-gram is not a longer one's prefix)."""
    key = (cp[at].astype(np.uint64) + np.uint64(1)) << np.uint64(42)
    for i, shift in ((1, 21), (2, 0)):
        more = np.asarray(length) > i
        nxt = (cp[np.minimum(at + i, len(cp) - 1)].astype(np.uint64) + np.uint64(1)) << np.uint64(shift)
        key = key | np.where(more, nxt, np.uint64(0))
    return key


class FeatureSpace:
    """Texts (already normalised) to one sparse matrix; fit once, then transform."""

    def __init__(self, min_df: int = 2, max_word_features: int | None = 40_000,
                 max_char_features: int | None = 80_000) -> None:
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self._words: TfidfVectorizer | None = None
        self._chars: TfidfVectorizer | None = None

    def fit(self, texts: Sequence[str]) -> FeatureSpace:
        # The words of every text cut in batches first: `words` on one text is a batch of one.
        cut: dict[str, list[str]] = {}
        for i in range(0, len(texts), 512):
            batch = list(texts[i:i + 512])
            cut.update(zip(batch, segment(batch).strings()))
        analyzer = lambda t: _with_bigrams(cut[t]) if t in cut else word_features(t)  # noqa: E731
        self._words = _vectorizer(analyzer, self.min_df, self.max_word_features).fit(texts)
        self._words.analyzer = word_features
        self._chars = _vectorizer(char_features, self.min_df, self.max_char_features).fit(texts)
        self._index(self._words.get_feature_names_out().astype(str), self._words.idf_,
                    self._chars.get_feature_names_out().astype(str), self._chars.idf_)
        return self

    # The fitted scikit-learn vectorizers (the reference `transform` reproduces); a loaded space
    # builds them only when asked.
    @property
    def words_(self) -> TfidfVectorizer:
        if self._words is None:
            self._words = self._vectorizer_of(word_features, self.word_terms_, self.word_idf_)
        return self._words

    @property
    def chars_(self) -> TfidfVectorizer:
        if self._chars is None:
            self._chars = self._vectorizer_of(char_features, self.char_terms_, self.char_idf_)
        return self._chars

    @staticmethod
    def _vectorizer_of(analyzer, terms: np.ndarray, idf: np.ndarray) -> TfidfVectorizer:
        vec = _vectorizer(analyzer, 1, None)
        vec.vocabulary_ = {t: i for i, t in enumerate(terms.tolist())}
        vec.fixed_vocabulary_ = True
        vec.idf_ = idf.astype(np.float64)
        return vec

    def _index(self, word_terms: np.ndarray, word_idf: np.ndarray, char_terms: np.ndarray,
               char_idf: np.ndarray) -> None:
        """The look-up tables of `transform`: the vocabularies by key, in column order."""
        self.word_terms_, self.word_idf_, self.char_terms_, self.char_idf_ = word_terms, word_idf, char_terms, char_idf
        words_list = word_terms.tolist()
        self.__dict__.pop("names_", None)  # a space fitted again names its columns anew
        self.n_text_ = len(word_terms) + len(char_terms)
        self.n_features_ = self.n_text_ + len(CUE_NAMES) + len(META_NAMES)
        self._n_words = len(words_list)
        self._word_table = KeyTable(*hash_strings(words_list)) if words_list else KeyTable.from_sorted(
            np.zeros(0, np.uint64), np.zeros(0, np.uint64))
        # A character term is at most three characters: its code points, zero-padded.
        if char_terms.dtype.itemsize > 12 and len(char_terms) and np.char.str_len(char_terms).max() > 3:
            raise ValueError("a character term of more than three characters")
        if len(char_terms):
            cps = np.ascontiguousarray(char_terms.astype("<U3")).view(np.uint32).reshape(-1, 3)
        else:
            cps = np.zeros((0, 3), dtype=np.uint32)
        keys = _char_keys(cps.reshape(-1), (cps > 0).sum(axis=1), np.arange(len(cps)) * 3)
        self._char_table = KeyTable(keys, keys)  # exact keys: the second "hash" is the key again
        self._idf = np.concatenate([word_idf, char_idf]).astype(np.float64)
        word_table()  # loaded with the model, not on its first request

    @cached_property
    def names_(self) -> np.ndarray:
        """Every column's name: w:<word or two words>, c:<characters>, cue:<flag:cue>, meta:<register>.
        Built when asked: `feature_name` names the few a prediction shows (a tenth of a second
        of every model load went into this array)."""
        return np.array([self.feature_name(i) for i in range(self.n_features_)])

    def feature_name(self, column: int) -> str:
        """The name of one column (`names_`)."""
        if column < self._n_words:
            return "w:" + str(self.word_terms_[column])
        if column < self.n_text_:
            return "c:" + str(self.char_terms_[column - self._n_words])
        if column < self.n_text_ + len(CUE_NAMES):
            return f"cue:{CUE_NAMES[column - self.n_text_]}"
        return f"meta:{META_NAMES[column - self.n_text_ - len(CUE_NAMES)]}"

    def _word_columns(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every word and word bigram in the vocabulary (word_features)."""
        tok = segment(list(texts))
        h = tok.hasher(tok.start, tok.end)
        same = tok.row[1:] == tok.row[:-1]
        first = [x[:-1][same] for x in h]
        second = [x[1:][same] for x in h]
        second_len = (tok.end - tok.start)[1:][same]
        space = char_hashes(" ")
        h2 = tok.hasher.concat(tok.hasher.concat((first[0], first[1]), space, 1), (second[0], second[1]), second_len)
        rows = np.concatenate([tok.row, tok.row[:-1][same]])
        cols = self._word_table.find(np.concatenate([h[0], h2[0]]), np.concatenate([h[1], h2[1]]))
        hit = cols >= 0
        return rows[hit], cols[hit]

    def _char_columns(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every character 1-, 2- and 3-gram in the vocabulary (char_features)."""
        cp, lengths = _stripped(texts)
        row = np.repeat(np.arange(len(texts)), lengths)
        pos = np.arange(len(cp))
        left = np.repeat(np.cumsum(lengths), lengths) - pos  # characters from here to the text's end
        at = np.concatenate([pos, pos[left >= 2], pos[left >= 3]])
        n = np.concatenate([np.ones(len(pos), np.int64), np.full(int((left >= 2).sum()), 2),
                            np.full(int((left >= 3).sum()), 3)])
        if not len(cp):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        keys = _char_keys(cp, n, at)
        cols = self._char_table.find(keys, keys)
        hit = cols >= 0
        return row[at][hit], self._n_words + cols[hit]

    def transform(self, texts: Sequence[str], cues: Sequence[list[Cue]] | None = None) -> sp.csr_matrix:
        """`rows` as scipy's matrix, for scikit-learn (training, the reference tests)."""
        return self.rows(texts, cues).to_scipy()

    def rows(self, texts: Sequence[str], cues: Sequence[list[Cue]] | None = None) -> SparseRows:
        """The same matrix as hstack of the two TfidfVectorizers' transform and the cue
        columns, computed in a few vectorised passes over the whole batch (the serving hot path)."""
        if cues is None:
            cues = find_cues_batch(texts)
        n_words = self._n_words
        n_text = self.n_text_
        n_meta = n_text + len(CUE_NAMES)
        word_rows, word_cols = self._word_columns(texts)
        char_rows, char_cols = self._char_columns(texts)
        cue_rows = [r for r, found in enumerate(cues) for _ in found]
        cue_cols = [n_text + _CUE_INDEX[c.key] for found in cues for c in found]
        meta_rows, meta_cols = _meta_pairs(texts)
        # The duplicates summed: data becomes the term counts (a cue's or the register's is 1 below).
        X, r = SparseRows.from_pairs(
            np.concatenate([word_rows, char_rows, np.array(cue_rows, dtype=np.int64), meta_rows]),
            np.concatenate([word_cols, char_cols, np.array(cue_cols, dtype=np.int64), n_meta + meta_cols]),
            (len(texts), self.n_features_))
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
        return {"word_terms": self.word_terms_, "word_idf": self.word_idf_,
                "char_terms": self.char_terms_, "char_idf": self.char_idf_}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> FeatureSpace:
        space = cls()
        space._index(np.asarray(arrays["word_terms"]).astype(str), np.asarray(arrays["word_idf"], dtype=np.float64),
                     np.asarray(arrays["char_terms"]).astype(str), np.asarray(arrays["char_idf"], dtype=np.float64))
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


def _meta_pairs(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(row, meta column) of every text, as meta_columns gives them: the register by length, and
    a dialogue among the few texts with a colon."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    register = (lengths > 40).astype(np.int64) + (lengths > 200)
    dialogues = [r for r, text in enumerate(texts)
                 if (":" in text or "：" in text) and len(_TURN.findall(text)) >= 2]
    if not dialogues:
        return np.arange(len(texts)), register
    return (np.concatenate([np.arange(len(texts)), np.array(dialogues, dtype=np.int64)]),
            np.concatenate([register, np.full(len(dialogues), 3)]))


def _stripped(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points of the texts without the characters char_features skips, one text after
    the other, and each text's length so stripped."""
    stripped = [t.translate(_SKIP) for t in texts]
    return codepoints("".join(stripped)), np.fromiter(map(len, stripped), dtype=np.int64, count=len(stripped))

