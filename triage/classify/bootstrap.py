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

from collections.abc import Iterable, Iterator, Sequence
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


def resamples(n: int, draws: int = DRAWS, seed: int = 7) -> Iterator[np.ndarray]:
    """(k, n) counts, k draws at a time until `draws`: how often each of n rows is drawn in each
    resample of n rows. In blocks, so that a year's rows (100,000 by 1,000 draws) never sit in
    memory at once."""
    rng = np.random.default_rng(seed)
    block = max(1, _CELLS // max(n, 1))
    for start in range(0, draws, block):
        yield rng.multinomial(n, np.full(n, 1.0 / n), size=min(block, draws - start)).astype(np.float64)


_CELLS = 4_000_000
"""Counts held at once: draws x rows."""


class Counted:
    """The rows as what each figure counts: per figure, a numerator and a denominator column over
    the rows (Scorer's rules: a row with several gold ids is right when the prediction is one of
    them and counts under it, else under its first id), so that any weighting of the rows scores
    every figure at once."""

    def __init__(self, rows: Sequence[ScoredRow]) -> None:
        self.n = len(rows)
        columns: dict[Key, tuple[np.ndarray, np.ndarray]] = {}
        self.classes: dict[str, list[str]] = {}
        for head in HEADS:
            labelled = np.array([bool(gold.get(head)) for gold, _, _, _ in rows], dtype=bool)
            if not labelled.any():
                continue
            resolved = [_resolved(gold[head], predicted[head]) if gold.get(head) else ("", "")
                        for gold, _, predicted, _ in rows]
            gold = np.array([g for g, _ in resolved])
            pred = np.array([p for _, p in resolved])
            columns[(head, "accuracy")] = (labelled & (gold == pred), labelled)
            self.classes[head] = sorted(set(gold[labelled]) | set(pred[labelled]))
            for c in self.classes[head]:
                tp = labelled & (gold == c) & (pred == c)
                columns[(head, c, "recall")] = (tp, labelled & (gold == c))
                columns[(head, c, "precision")] = (tp, labelled & (pred == c))
            if head == "severity":
                columns[("major", "recall")] = columns.get((head, "major", "recall"), (labelled & False,) * 2)
                columns[("major", "precision")] = columns.get((head, "major", "precision"), (labelled & False,) * 2)
        annotated = np.array([gold_flags is not None for _, gold_flags, _, _ in rows], dtype=bool)
        if annotated.any():
            for f in FLAGS:
                has = np.array([gold_flags is not None and f in gold_flags for _, gold_flags, _, _ in rows])
                raised = annotated & np.array([f in set(flags) for _, _, _, flags in rows])
                columns[("flags", f, "recall")] = (has & raised, has)
                columns[("flags", f, "precision")] = (has & raised, raised)
        self.keys = list(columns)
        self.numerators = np.column_stack([columns[k][0] for k in self.keys]).astype(np.float64) if columns else None
        self.denominators = np.column_stack([columns[k][1] for k in self.keys]).astype(np.float64) if columns else None

    def under(self, weights: np.ndarray) -> dict[Key, np.ndarray]:
        """Every figure under each row of `weights` ((k, n) counts), NaN where it is undefined."""
        if self.numerators is None:
            return {}
        ratios = _ratio(weights @ self.numerators, weights @ self.denominators)
        out = {k: ratios[:, j] for j, k in enumerate(self.keys)}
        supports = weights @ self.denominators
        index = {k: j for j, k in enumerate(self.keys)}
        for head, classes in self.classes.items():
            f1s, supported = [], []
            for c in classes:
                recall, precision = out[(head, c, "recall")], out[(head, c, "precision")]
                with np.errstate(invalid="ignore", divide="ignore"):
                    f1 = np.where(np.isnan(precision), 0.0, 2 * precision * recall / (precision + recall))
                f1s.append(np.nan_to_num(f1, nan=0.0))  # p + r == 0: F1 0, as Scorer
                supported.append(supports[:, index[(head, c, "recall")]] > 0)
            out[(head, "macro_f1")] = _ratio(np.sum(np.where(supported, f1s, 0.0), axis=0),
                                             np.sum(supported, axis=0))
        return out


def figures(rows: Sequence[ScoredRow], weights: np.ndarray) -> dict[Key, np.ndarray]:
    """Every figure of `Scorer.result()` under each row of `weights` ((draws, len(rows)) counts;
    np.ones((1, len(rows))) gives the figures of the rows themselves)."""
    return Counted(rows).under(weights)


def _drawn(counted: Sequence[Counted], draws: int, seed: int) -> list[dict[Key, np.ndarray]]:
    """Each counted set's figures over the same resamples."""
    parts: list[list[dict[Key, np.ndarray]]] = [[] for _ in counted]
    for weights in resamples(counted[0].n, draws, seed):
        for part, c in zip(parts, counted):
            part.append(c.under(weights))
    return [{k: np.concatenate([p[k] for p in part]) for k in part[0]} if part else {} for part in parts]


def paired(base: Sequence[ScoredRow], other: Sequence[ScoredRow], draws: int = DRAWS,
           seed: int = 7) -> dict[Key, Interval]:
    """other - base for every figure both define on all the rows, with its paired interval.
    The two sequences score the same rows in the same order (the gold of each pair must agree)."""
    if len(base) != len(other):
        raise ValueError(f"paired rows differ in number: {len(base)} and {len(other)}")
    if any(b[0] != o[0] or b[1] != o[1] for b, o in zip(base, other)):
        raise ValueError("paired rows must carry the same gold in the same order")
    counted = [Counted(base), Counted(other)]
    whole = np.ones((1, len(base)))
    point_base, point_other = (c.under(whole) for c in counted)
    drawn_base, drawn_other = _drawn(counted, draws, seed)
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
    counted = Counted(rows)
    point = counted.under(np.ones((1, len(rows))))
    (drawn,) = _drawn([counted], draws, seed)
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
    """`Scorer.result()` as {key: figure}, the keys of `figures`; a figure a result (a model card's,
    of any age) lacks is None."""
    out: dict[Key, float | None] = {}
    for head in HEADS:
        if head in result:
            out[(head, "accuracy")] = result[head].get("accuracy")
            out[(head, "macro_f1")] = result[head].get("macro_f1")
            for c, v in result[head].get("per_class", {}).items():
                out[(head, c, "recall")], out[(head, c, "precision")] = v["recall"], v["precision"]
    if "major" in result:
        out[("major", "recall")], out[("major", "precision")] = result["major"].get("recall"), result["major"].get(
            "precision")
    for f, v in result.get("flags", {}).get("per_flag", {}).items():
        out[("flags", f, "recall")], out[("flags", f, "precision")] = v["recall"], v["precision"]
    return out
