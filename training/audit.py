"""How far the test months' gold (the sites' codes, mapped) is from a careful reading.

A blind reader labelled business line and category on a stratified random sample of the test
months (training/data/audits/): every one-liner where the served model of 2026-11-30 and the
codes disagreed, half of the narratives where they did, and as many rows of each register
where they agreed, shuffled, text only. Because the strata are sampled at random, the share of
rows on which any labeller (the codes, a model, a peer) agrees with the reader is estimated
without bias by weighting each stratum by its size. Nothing here trains: the audit is read by
`bench/audit_gold.py` alone, never by training.dataset.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

AUDIT_CSV = Path(__file__).parent / "data" / "audits" / "test_months_blind_2026-12.csv"
SAMPLED_WITH = "sklearn-20261130T231115Z"
"""The model whose disagreement with the codes defined the strata."""
HEADS = ("business_line", "category")


@dataclass(frozen=True)
class AuditRow:
    id: str
    register: str
    stratum: str  # "agreed" or "disagreed"
    reading: dict[str, frozenset[str]]


def load(path: Path = AUDIT_CSV) -> list[AuditRow]:
    with path.open(encoding="utf-8", newline="") as f:
        return [AuditRow(r["id"], r["register"], r["stratum"],
                         {h: frozenset(r[h].split("|")) for h in HEADS}) for r in csv.DictReader(f)]


def agrees(label: str | Iterable[str], reading: frozenset[str]) -> bool:
    """A label agrees with the reading when they share an acceptable label (the codes and the
    reader may each give two)."""
    labels = {label} if isinstance(label, str) else set(label)
    return bool(labels & reading)


def estimate(rows: Sequence[AuditRow], stratum_sizes: dict[str, int], head: str,
             label_of: Callable[[AuditRow], str | Iterable[str]]) -> float:
    """The share of the whole population (every row of the strata) on which `label_of` agrees
    with the reader: each stratum's sampled agreement, weighted by the stratum's size."""
    total = sum(stratum_sizes.values())
    if not total:
        raise ValueError("no rows in the strata")
    share = 0.0
    for stratum, size in stratum_sizes.items():
        sample = [r for r in rows if r.stratum == stratum]
        if size and not sample:
            raise ValueError(f"stratum {stratum!r} has {size} rows and none was read")
        if size:
            share += size * sum(agrees(label_of(r), r.reading[head]) for r in sample) / len(sample)
    return share / total
