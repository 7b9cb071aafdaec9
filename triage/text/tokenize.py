"""jieba word segmentation with the automotive user dictionary kept in this folder.

`segment` cuts a batch of texts exactly as jieba's `Tokenizer.lcut(text, HMM=False)` does with
that dictionary (tests/test_tokenize.py compares the two on every real complaint we have), in
a few NumPy passes over the whole batch instead of a Python loop per character: the prefix
dictionary is a sorted array of string hashes (triage.text.hashing), the best route through
each block of words a dynamic programme run on every block at once. jieba itself is only
needed to build that table, once per dictionary: it is kept in the cache folder (see
`cache_dir`), where loading it takes milliseconds instead of the second jieba takes to load
its own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from functools import cached_property
from math import log
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from triage.text.hashing import KeyTable, SpanHasher, codepoints, hash_strings

if TYPE_CHECKING:
    import jieba

USER_DICT = Path(__file__).with_name("automotive_dict.txt")
TABLE_FORMAT = 2
"""Bumped whenever the cached table's content or layout changes."""

_lock = threading.RLock()  # word_table builds the tokenizer while holding it
_tokenizer: jieba.Tokenizer | None = None
_table: WordTable | None = None


def tokenizer() -> jieba.Tokenizer:
    """The shared jieba tokenizer, built once with the user dictionary (the reference `segment`
    reproduces; it takes a second to load)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                if USER_DICT.exists():
                    with USER_DICT.open("rb") as f:  # given a path, jieba leaves the file open
                        tok.load_userdict(f)
                _tokenizer = tok
    return _tokenizer


@dataclass(frozen=True)
class WordTable:
    """jieba's prefix dictionary as arrays: every word and every prefix of a word, by hash."""

    keys: KeyTable
    logp: np.ndarray
    """log(frequency) - log(total) of each key, in the keys' sorted order; NaN for a key that is
    only the prefix of words (frequency 0)."""
    single: float
    """The score of a character that starts no word: log(1) - log(total), as jieba gives it."""
    max_len: int

    @classmethod
    def from_tokenizer(cls, tok: jieba.Tokenizer) -> WordTable:
        words = list(tok.FREQ)
        logtotal = log(tok.total)
        # math.log, as jieba's own scores: NumPy's log may differ in the last bit.
        logp = np.array([log(f) - logtotal if f else np.nan for f in tok.FREQ.values()], dtype=np.float64)
        keys = KeyTable(*hash_strings(words))
        assert keys.rows is not None
        return cls(KeyTable.from_sorted(keys.s1, keys.h2), logp[keys.rows], 0.0 - logtotal, max(map(len, words)))

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            np.savez(f, s1=self.keys.s1, h2=self.keys.h2, logp=self.logp,
                     meta=np.array([TABLE_FORMAT, self.single, self.max_len], dtype=np.float64))
        tmp.replace(path)  # atomic: another process reads the old file or the new one

    @classmethod
    def load(cls, path: Path) -> WordTable:
        with np.load(path, allow_pickle=False) as npz:
            s1, h2, logp, meta = npz["s1"], npz["h2"], npz["logp"], npz["meta"]
        if (meta.shape != (3,) or meta[0] != TABLE_FORMAT or s1.dtype != np.uint64 or h2.dtype != np.uint64
                or logp.dtype != np.float64 or not len(s1) == len(h2) == len(logp)):
            raise ValueError(f"{path}: not a word table of format {TABLE_FORMAT}")
        return cls(KeyTable.from_sorted(s1, h2), logp, float(meta[1]), int(meta[2]))

    @cached_property
    def by_char(self) -> tuple[np.ndarray, np.ndarray]:
        """(is a key, logp) of every character a block can hold, by code point: the first step
        from each position is an array look-up instead of a hash look-up."""
        codes = np.arange(_HAN_END, dtype=np.uint64)
        h = codes + np.uint64(1)  # a single character's hashes (triage.text.hashing)
        idx = self.keys.find(h, h)
        key = idx >= 0
        return key, np.where(key, self.logp[np.where(key, idx, 0)], np.nan)


def cache_dir() -> Path:
    """$TRIAGE_CACHE_DIR, else triage/ in $XDG_CACHE_HOME or ~/.cache."""
    if os.environ.get("TRIAGE_CACHE_DIR"):
        return Path(os.environ["TRIAGE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "triage"


def _table_path() -> Path:
    """Named after everything the table is made of: a changed dictionary is a new file. jieba's
    own files by size and time stamp (hashing its 5 MB dictionary took longer than loading the
    table), the user dictionary by content."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("jieba")
    h = hashlib.sha256(f"{TABLE_FORMAT}\n".encode())
    for path in (Path(spec.origin), Path(spec.origin).with_name("dict.txt")):
        st = path.stat()
        h.update(f"{path} {st.st_size} {st.st_mtime_ns}\n".encode())
    h.update(USER_DICT.read_bytes() if USER_DICT.exists() else b"-")
    return cache_dir() / f"words-{h.hexdigest()[:24]}.npz"


def word_table() -> WordTable:
    """The table of the jieba dictionary and the user dictionary: from the cache when it is
    there, else built from jieba (a second or two) and cached for the next process."""
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                path = _table_path()
                try:
                    _table = WordTable.load(path)
                except (OSError, ValueError, KeyError):
                    _table = WordTable.from_tokenizer(tokenizer())
                    try:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        _table.save(path)
                    except OSError:
                        pass  # a read-only home: every process builds the table itself
    return _table


_DROP = frozenset(",.!?;:'\"()[]{}<>/\\|-_=+*&^%$#@~`，。！？；：、“”‘’（）【】《》…—· \n")
"""Whitespace and punctuation: not words. All single characters."""
assert all(len(w) == 1 for w in _DROP)
_DROP_TABLE = np.zeros(0x10000, dtype=bool)
_DROP_TABLE[[ord(c) for c in _DROP]] = True
# jieba's classes: a block of "han" characters (its re_han_default) is cut with the dictionary;
# any other character is a word of its own, and so is \r\n (its re_skip_default); a run of
# single letters or digits the dictionary left alone is one word (its re_eng).
_HAN_END = 0x9FD6
"""Past the last character of a block (U+9FD5)."""
_HAN_ASCII = np.zeros(128, dtype=bool)
_HAN_ASCII[[ord(c) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+#&._%-"]] = True
_ENG_ASCII = np.zeros(128, dtype=bool)
_ENG_ASCII[[ord(c) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"]] = True


@dataclass(frozen=True)
class Tokens:
    """The words of a batch of texts: spans of one code-point buffer holding every text, each
    followed by one separator."""

    joined: str
    cp: np.ndarray
    text_start: np.ndarray
    """Where each text starts in `cp`; one more entry, the buffer's length."""
    start: np.ndarray
    end: np.ndarray
    row: np.ndarray
    """The text each word belongs to; words in order, text by text."""
    hasher: SpanHasher
    """Hashes of any span of `cp` (triage.text.hashing)."""

    def strings(self) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in range(len(self.text_start) - 1)]
        j = self.joined
        for r, a, b in zip(self.row.tolist(), self.start.tolist(), self.end.tolist()):
            out[r].append(j[a:b])
        return out


def _ascii_class(table: np.ndarray, cp: np.ndarray) -> np.ndarray:
    return table[np.where(cp < 128, cp, 0)] & (cp < 128)


_PYTHON_ROUTE = 25
"""Below this many words per step of the vectorised route, a loop in Python is quicker: one
short text (a request of the API) has a few dozen words and as many steps."""


def _route(k: np.ndarray, L: np.ndarray, lp: np.ndarray, score: list[float], nxt: list[int]) -> list[int]:
    """jieba's calc, as jieba writes it: the words (k, L, lp) sorted by distance to their block's
    end, then start, then length; `nxt`, the end of the best word from each position, filled in
    (`score` and `nxt` hold what is known of positions nearer the ends)."""
    current = -1
    for kk, LL, ll in zip(k.tolist(), L.tolist(), lp.tolist()):
        v = ll + score[kk + LL]
        # Ties go to the longest word, as max() over (score, x) tuples does in jieba.
        if kk != current or v >= score[kk]:
            current, score[kk], nxt[kk] = kk, v, kk + LL
    return nxt


def _route_by_distance(k: np.ndarray, L: np.ndarray, lp: np.ndarray, d: np.ndarray, n: int) -> np.ndarray:
    """The same, one step per distance to the block's end, every block at once; the last steps,
    which only the few longest blocks take, by `_route`."""
    score = np.zeros(n + 1, dtype=np.float64)
    nxt = np.arange(n + 1, dtype=np.int64)
    bounds = np.concatenate([[0], np.flatnonzero(d[1:] != d[:-1]) + 1, [len(d)]]).tolist()
    for step, (a, b) in enumerate(zip(bounds, bounds[1:])):
        if len(d) - a < _PYTHON_ROUTE * (len(bounds) - 1 - step):
            return np.array(_route(k[a:], L[a:], lp[a:], score.tolist(), nxt.tolist()), dtype=np.int64)
        kk, LL = k[a:b], L[a:b]
        vals = lp[a:b] + score[kk + LL]
        firsts = np.flatnonzero(np.concatenate([[True], kk[1:] != kk[:-1]]))
        best_val = np.maximum.reduceat(vals, firsts)
        counts = np.diff(np.append(firsts, len(kk)))
        # Ties go to the longest word (the last of the best: lengths ascend within a position).
        best = np.maximum.reduceat(np.where(vals == np.repeat(best_val, counts), np.arange(len(kk)), -1), firsts)
        score[kk[firsts]] = best_val
        nxt[kk[firsts]] = kk[best] + LL[best]
    return nxt


def segment(texts: list[str]) -> Tokens:
    """The words of each text, whitespace and punctuation dropped: jieba's lcut with HMM off."""
    table = word_table()
    joined = "".join(t + "\x00" for t in texts)
    cp = codepoints(joined)
    n = len(cp)
    text_start = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts)), out=text_start[1:])
    sep = np.zeros(n, dtype=bool)
    sep[text_start[1:] - 1] = True

    han = ((cp >= 0x4E00) & (cp < _HAN_END)) | _ascii_class(_HAN_ASCII, cp)
    K = np.flatnonzero(han)
    nonhan = np.flatnonzero(~han)  # never empty: the buffer ends with a separator
    block_end = np.zeros(n, dtype=np.int64)
    block_end[K] = nonhan[np.searchsorted(nonhan, K)]

    # jieba's DAG: from each position, the words of the dictionary that start there, found by
    # growing the fragment while it is a key (a word or a word's prefix).
    hasher = SpanHasher(cp)
    ks, ls, lps = [], [], []
    alive, alive_end = K, block_end[K]
    char_key, char_logp = table.by_char
    for length in range(1, table.max_len + 1):
        if length == 1:
            c = cp[alive]
            found = char_key[c]
            alive, alive_end = alive[found], alive_end[found]
            lp = char_logp[c[found]]
        else:
            fits = alive + length <= alive_end
            alive, alive_end = alive[fits], alive_end[fits]
            if not len(alive):
                break
            ends = alive + length
            # The second hash only for the first one's hits.
            idx = table.keys.find(hasher.one(0, alive, ends), lambda i, a=alive, e=ends: hasher.one(1, a[i], e[i]))
            found = idx >= 0
            alive, alive_end, idx = alive[found], alive_end[found], idx[found]
            lp = table.logp[idx]
        word = ~np.isnan(lp)
        ks.append(alive[word])
        ls.append(np.full(int(word.sum()), length, dtype=np.int64))
        lps.append(lp[word])
    has_word = np.zeros(n, dtype=bool)
    for k in ks:
        has_word[k] = True
    lonely = K[~has_word[K]]  # a character that starts no word is a word of one
    k = np.concatenate([*ks, lonely])
    L = np.concatenate([*ls, np.ones(len(lonely), dtype=np.int64)])
    lp = np.concatenate([*lps, np.full(len(lonely), table.single)])

    # jieba's calc: route[i] = max over words i..x of (logp + route[x + 1], x), from the end of
    # each block back; every block at once, by distance to its end.
    d = block_end[k] - k
    # One key, (d, k, L), unique to each word: a fifth of the time lexsort took over the three.
    order = np.argsort((d * n + k) * (table.max_len + 1) + L)
    k, L, lp, d = k[order], L[order], lp[order], d[order]
    nxt = _route_by_distance(k, L, lp, d, n)

    # The route from each block's start: pointer doubling marks every word start on it.
    starts = K[(K == 0) | ~han[np.maximum(K - 1, 0)]]
    reach = np.zeros(n + 1, dtype=bool)
    reach[starts] = True
    jump = nxt.copy()
    longest = int((block_end[K] - K).max()) if len(K) else 0
    for _ in range(longest.bit_length()):
        reach[jump[reach]] = True
        jump = jump[jump]
    hs = np.flatnonzero(reach[:n] & han)
    he = nxt[hs]
    # Runs of single letters and digits become one word (jieba's buffer of re_eng characters).
    single = (he - hs == 1) & _ascii_class(_ENG_ASCII, cp[hs])
    joins = np.zeros(len(hs), dtype=bool)
    joins[1:] = single[1:] & single[:-1] & (he[:-1] == hs[1:])
    keep = np.flatnonzero(~joins)
    hs, he = hs[keep], he[np.append(keep[1:], len(joins))[:len(keep)] - 1]

    # Every other character is a word of its own, and \r\n is one word.
    other = np.flatnonzero(~han & ~sep)
    crlf = other[(cp[other] == 13) & (cp[np.minimum(other + 1, n - 1)] == 10)]
    is_lf_of_crlf = np.zeros(n + 1, dtype=bool)
    is_lf_of_crlf[crlf + 1] = True
    other = other[~is_lf_of_crlf[other]]
    other_end = other + 1 + is_lf_of_crlf[other + 1]

    start = np.concatenate([hs, other])
    end = np.concatenate([he, other_end])
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    first = cp[start]
    kept = ~((end - start == 1) & _DROP_TABLE[np.minimum(first, 0xFFFF)] & (first <= 0xFFFF))
    start, end = start[kept], end[kept]
    row = np.searchsorted(text_start, start, side="right") - 1
    return Tokens(joined, cp, text_start, start, end, row, hasher)


def words(text: str) -> list[str]:
    """Words of `text`, whitespace and punctuation dropped.

    HMM discovery of unknown words is off: the user dictionary covers the domain terms and
    character n-grams cover the rest, at two thirds of the cost.
    """
    return segment([text]).strings()[0]
