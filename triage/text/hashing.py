"""Strings as 64-bit keys, for many spans of one code-point buffer at once (NumPy).

The word dictionary and the model's vocabularies are looked up by key in sorted arrays
instead of Python dicts: a whole batch of texts is looked up in a few vectorised calls, and
the tables load as plain arrays instead of being rebuilt entry by entry.

Two independent polynomial hashes mod 2^64, H(s) = sum (s[i] + 1) * P^(n-1-i), of the code
points: a string not in a table is taken for one of its keys only if both hashes collide,
about once in 2^128 look-ups per key. Tables check that their keys' first hashes differ.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MASK = (1 << 64) - 1
MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F)
"""Odd, so invertible mod 2^64: the hash of a span is a difference of prefix sums."""


def _inverse(p: int) -> int:
    inv = p  # Newton's iteration: each step doubles the correct low bits (p * p = 1 mod 8).
    for _ in range(6):
        inv = inv * (2 - p * inv) & MASK
    return inv


_INVERSES = tuple(_inverse(p) for p in MULTIPLIERS)


def codepoints(text: str) -> np.ndarray:
    """The code points of `text` (a lone surrogate as its own value)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _powers(p: int, n: int) -> np.ndarray:
    out = np.full(n, p, dtype=np.uint64)
    out[:1] = 1
    return np.cumprod(out, dtype=np.uint64)  # wraps mod 2^64, as it should


class SpanHasher:
    """Both hashes of any span [a, b) of one code-point buffer, b > a, in O(1) per span."""

    def __init__(self, cp: np.ndarray) -> None:
        n = len(cp)
        values = cp.astype(np.uint64) + np.uint64(1)
        self._pow: list[np.ndarray] = []
        self._prefix: list[np.ndarray] = []
        with np.errstate(over="ignore"):
            for p, inv in zip(MULTIPLIERS, _INVERSES):
                self._pow.append(_powers(p, n + 1))
                prefix = np.zeros(n + 1, dtype=np.uint64)
                np.cumsum(values * _powers(inv, n), out=prefix[1:])
                self._prefix.append(prefix)

    # Array arithmetic on uint64 wraps mod 2^64 silently, as these hashes want.
    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # sum_{a<=j<b} (c_j + 1) P^(b-1-j) = P^(b-1) * sum (c_j + 1) P^-j
        return tuple(pw[b - 1] * (pre[b] - pre[a]) for pw, pre in zip(self._pow, self._prefix))  # type: ignore[return-value]

    def one(self, which: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The first (0) or second (1) hash alone."""
        return self._pow[which][b - 1] * (self._prefix[which][b] - self._prefix[which][a])

    def concat(self, a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], b_len: np.ndarray | int
               ) -> tuple[np.ndarray, np.ndarray]:
        """H(s + t) from H(s), H(t) and len(t) (at most this buffer's length)."""
        return tuple(x * pw[b_len] + y for x, y, pw in zip(a, b, self._pow))  # type: ignore[return-value]


def char_hashes(ch: str) -> tuple[np.uint64, np.uint64]:
    """Both hashes of one character."""
    return np.uint64(ord(ch) + 1), np.uint64(ord(ch) + 1)


def hash_strings(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Both hashes of each string (none empty)."""
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    ends = np.cumsum(lengths)
    return SpanHasher(codepoints("".join(strings)))(ends - lengths, ends)


_SPREAD = np.uint64(0xD6E8FEB86659FD93)
"""Odd: multiplying by it is a bijection of 64-bit keys that spreads short strings' hashes
(a single character's is its code point plus one) over the top bits that pick a bucket."""


def spread(h: np.ndarray) -> np.ndarray:
    return h * _SPREAD  # an array: wraps without a warning


class KeyTable:
    """Keys (both hashes), sorted by their spread first hash, with an index of its top bits:
    a look-up reads one bucket of about one key instead of binary-searching the whole table.
    `find` gives each query's index among the keys as they were given, or -1."""

    def __init__(self, h1: np.ndarray, h2: np.ndarray) -> None:
        s1 = spread(h1)
        self.rows: np.ndarray | None = np.argsort(s1, kind="stable")
        self._setup(s1[self.rows], h2[self.rows])

    @classmethod
    def from_sorted(cls, s1: np.ndarray, h2: np.ndarray) -> KeyTable:
        """A table from `s1` and `h2` of another, as saved: keys in their sorted order."""
        table = cls.__new__(cls)
        table.rows = None
        table._setup(s1, h2)
        return table

    def _setup(self, s1: np.ndarray, h2: np.ndarray) -> None:
        self.s1, self.h2 = s1, h2
        if len(s1) > 1 and not (s1[1:] > s1[:-1]).all():
            # Two keys sharing a 64-bit hash: about once in 2^64 / n^2 tables.
            raise ValueError("the keys are not sorted, or two of them share a hash")
        bits = min(max(len(s1).bit_length() + 1, 1), 24)
        self._shift = np.uint64(64 - bits)
        counts = np.bincount((s1 >> self._shift).astype(np.intp), minlength=1 << bits)
        self._offsets = np.zeros((1 << bits) + 1, dtype=np.int32 if len(s1) < 2**31 else np.int64)
        np.cumsum(counts, out=self._offsets[1:])
        # The keys and, past the last, the largest 64-bit value: a look-up walks on from the start
        # of its bucket to the first key not below its own, and this one ends the last walk.
        self._walk = np.append(s1, np.uint64(MASK))

    def find(self, q1: np.ndarray, q2: np.ndarray | Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Each query's index, or -1. `q2`: the second hashes, or a function giving those of
        the queries at some indices (only the first hash's hits need one)."""
        q = spread(q1)
        pos = self._offsets[(q >> self._shift).view(np.intp)]
        key = self._walk[pos]
        # Sorted, buckets in order: past the query's hash it is not there, nor in the next bucket.
        out = np.where(key == q, pos, -1).astype(np.intp, copy=False)
        todo = np.flatnonzero(key < q)
        pos, q = pos[todo] + 1, q[todo]
        while len(todo):
            key = self._walk[pos]
            hit = key == q
            out[todo[hit]] = pos[hit]
            more = key < q
            todo, pos, q = todo[more], pos[more] + 1, q[more]
        out[out == len(self.s1)] = -1  # the end's value itself
        hits = np.flatnonzero(out >= 0)
        second = q2(hits) if callable(q2) else q2[hits]
        out[hits[self.h2[out[hits]] != second]] = -1
        if self.rows is not None:
            hits = out >= 0
            out[hits] = self.rows[out[hits]]
        return out
