"""How sure a figure of triage.classify.evaluate is: every figure of `Scorer.result()` over
resamples of the scored rows (the bootstrap), and the difference between two systems scored
on the same rows with its 95 % paired interval (the same resampled rows for both), so that a
gap the rows cannot tell from noise is not read as one system beating the other.

A resample is a vector of counts, how often each row was drawn; every figure is a ratio of
count-weighted sums, so a thousand resamples of five thousand rows are a few matrix products.
The figures follow `Scorer` to the letter (a row with several gold ids, undefined figures),
except that they are not rounded; an undefined figure in a resample is NaN and is left out of
the interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from triage.classify.labels import FLAGS, HEADS

ScoredRow = tuple[dict[str, tuple[str, ...] | None], frozenset[str] | None, dict[str, str], Iterable[str]]
"""One row as `Scorer.add` takes it: gold per head, gold flags (None: not annotated), the
predicted label per head, the predicted flags."""

Key = tuple[str, ...]
"""A figure's path in `Scorer.result()`: (head, "accuracy"), (head, "macro_f1"), (head, class,
"recall" | "precision"), ("major", "recall" | "precision"), ("flags", flag, "recall" | "precision")."""

DRAWS = 1000


@dataclass(frozen=True)
class Interval:
    difference: float
    """The other system's figure minus the base's, on all the rows."""
    low: float
    high: float
    """The 2.5 and 97.5 percentiles of that difference over the resamples."""

    @property
    def clear(self) -> bool:
        """The interval excludes zero: the rows tell the two systems apart on this figure."""
        return self.low > 0 or self.high < 0

    def text(self) -> str:
        return f"{self.difference:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def resamples(n: int, draws: int = DRAWS, seed: int = 7) -> np.ndarray:
    """(draws, n) counts: how often each of n rows is drawn in each resample of n rows."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=draws).astype(np.float64)


def figures(rows: Sequence[ScoredRow], weights: np.ndarray) -> dict[Key, np.ndarray]:
    """Every figure of `Scorer.result()` under each row of `weights` ((draws, len(rows)) counts;
    np.ones((1, len(rows))) gives the figures of the rows themselves)."""
    out: dict[Key, np.ndarray] = {}
    for head in HEADS:
        pairs = [(i, _resolved(gold[head], predicted[head])) for i, (gold, _, predicted, _) in enumerate(rows)
                 if gold.get(head)]
        if not pairs:
            continue
        index = np.array([i for i, _ in pairs])
        w = weights[:, index]
        gold = np.array([g for _, (g, _) in pairs])
        pred = np.array([p for _, (_, p) in pairs])
        total = w.sum(axis=1)
        out[(head, "accuracy")] = _ratio(w @ (gold == pred), total)
        f1s, supported = [], []
        for c in sorted(set(gold) | set(pred)):
            tp = w @ ((gold == c) & (pred == c))
            n, predicted_n = w @ (gold == c), w @ (pred == c)
            recall, precision = _ratio(tp, n), _ratio(tp, predicted_n)
            out[(head, c, "recall")], out[(head, c, "precision")] = recall, precision
            with np.errstate(invalid="ignore", divide="ignore"):
                f1 = np.where(np.isnan(precision), 0.0, 2 * precision * recall / (precision + recall))
            f1s.append(np.nan_to_num(f1, nan=0.0))  # p + r == 0: F1 0, as Scorer
            supported.append(n > 0)
        if head == "severity":
            tp = w @ ((gold == "major") & (pred == "major"))
            out[("major", "recall")] = _ratio(tp, w @ (gold == "major"))
            out[("major", "precision")] = _ratio(tp, w @ (pred == "major"))
        f1_sum = np.sum(np.where(supported, f1s, 0.0), axis=0)
        out[(head, "macro_f1")] = _ratio(f1_sum, np.sum(supported, axis=0))
    annotated = [(i, gold_flags, set(flags)) for i, (_, gold_flags, _, flags) in enumerate(rows)
                 if gold_flags is not None]
    if annotated:
        w = weights[:, [i for i, _, _ in annotated]]
        for f in FLAGS:
            has = np.array([f in g for _, g, _ in annotated])
            raised = np.array([f in p for _, _, p in annotated])
            tp = w @ (has & raised)
            out[("flags", f, "recall")] = _ratio(tp, w @ has)
            out[("flags", f, "precision")] = _ratio(tp, w @ raised)
    return out


def paired(base: Sequence[ScoredRow], other: Sequence[ScoredRow], draws: int = DRAWS,
           seed: int = 7) -> dict[Key, Interval]:
    """other - base for every figure both define on all the rows, with its paired interval.
    The two sequences score the same rows in the same order (the gold of each pair must agree)."""
    if len(base) != len(other):
        raise ValueError(f"paired rows differ in number: {len(base)} and {len(other)}")
    if any(b[0] != o[0] or b[1] != o[1] for b, o in zip(base, other)):
        raise ValueError("paired rows must carry the same gold in the same order")
    n = len(base)
    whole = np.ones((1, n))
    point_base, point_other = figures(base, whole), figures(other, whole)
    weights = resamples(n, draws, seed)
    drawn_base, drawn_other = figures(base, weights), figures(other, weights)
    out = {}
    for key in (k for k in point_base if k in point_other):  # in the figures' order
        difference = float(point_other[key][0] - point_base[key][0])
        if np.isnan(difference):
            continue
        diffs = drawn_other[key] - drawn_base[key]
        diffs = diffs[~np.isnan(diffs)]
        low, high = np.percentile(diffs, [2.5, 97.5]) if len(diffs) else (np.nan, np.nan)
        out[key] = Interval(round(difference, 4), round(float(low), 4), round(float(high), 4))
    return out


def spread(rows: Sequence[ScoredRow], draws: int = DRAWS, seed: int = 7) -> dict[Key, tuple[float, float]]:
    """Every figure's 95 % bootstrap interval (the 2.5 and 97.5 percentiles over `draws`
    resamples of the rows), for the figures defined on all the rows."""
    point = figures(rows, np.ones((1, len(rows))))
    drawn = figures(rows, resamples(len(rows), draws, seed))
    out = {}
    for key, values in drawn.items():
        values = values[~np.isnan(values)]
        if not np.isnan(point[key][0]) and len(values):
            low, high = np.percentile(values, [2.5, 97.5])
            out[key] = (round(float(low), 4), round(float(high), 4))
    return out


def label(key: Key) -> str:
    """A figure's name for a report: "category service recall", "safety flag precision"."""
    return f"{key[1]} flag {key[2]}" if key[0] == "flags" else " ".join(key)


def _resolved(gold: tuple[str, ...], predicted: str) -> tuple[str, str]:
    """Scorer's reading of a row with several gold ids: right when the prediction is any of
    them, else counted under the first."""
    return (predicted if predicted in gold else gold[0]), predicted


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def flatten(result: dict) -> dict[Key, float | None]:
    """`Scorer.result()` as {key: figure}, the keys of `figures`."""
    out: dict[Key, float | None] = {}
    for head in HEADS:
        if head in result:
            out[(head, "accuracy")] = result[head]["accuracy"]
            out[(head, "macro_f1")] = result[head].get("macro_f1")
            for c, v in result[head]["per_class"].items():
                out[(head, c, "recall")], out[(head, c, "precision")] = v["recall"], v["precision"]
    if "major" in result:
        out[("major", "recall")], out[("major", "precision")] = result["major"]["recall"], result["major"]["precision"]
    for f, v in result.get("flags", {}).get("per_flag", {}).items():
        out[("flags", f, "recall")], out[("flags", f, "precision")] = v["recall"], v["precision"]
    return out
