"""How consistent the annotators' severity and flags are: a second, blind reading of rows the
first pass labelled (training/data/annotations/second_pass_*.csv), against that first pass.

- Narratives (`second_pass_narratives_2024.csv`): a random 90 of the 875, so every row weighs
  the same.
- The one-line test month (`second_pass_summaries_2020-12.csv`): 180 of the 1,884 annotated
  rows of 2020-12, drawn in strata of the first pass and of the model that was current then
  (SAMPLED_WITH): every row where they differ on safety, every first-pass repeat, and random
  rows of the rest. Each row weighs its stratum's size over the rows read from it, so the
  figures estimate the agreement over all 1,884.

The first pass stays the gold; the second pass only measures it.

    .venv/bin/python -m training.second_pass      # the tables of the annotations README
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from training.annotation_sample import september_sample
from training.dataset import ANNOTATIONS, SUMMARIES_CSV
from triage.classify.labels import FLAGS

SUMMARIES_SECOND = ANNOTATIONS / "second_pass_summaries_2020-12.csv"
SUMMARIES_FIRST = ANNOTATIONS / "summaries_2020-12.csv"
NARRATIVES_SECOND = ANNOTATIONS / "second_pass_narratives_2024.csv"
NARRATIVES_FIRST = ANNOTATIONS / "narratives_2024.csv"
SEPTEMBER_SECOND = ANNOTATIONS / "second_pass_summaries_2020-09.csv"
SEPTEMBER_FIRST = ANNOTATIONS / "summaries_2020-09.csv"
SEPTEMBER_SEED = 31
"""The September second pass: a random 120 of the 1,858 rows of `annotation_sample.september_sample`."""
SUMMARIES_STRATA = ANNOTATIONS / "second_pass_strata_2020-12.csv"
"""Each annotated one-liner of 2020-12 in the stratum it was drawn from (id, stratum), as the
draw computed them: the model's flags depend on the cue code too, so a later change of the cues
moves a row (`recomputed_strata`) while the strata of the reading stay what they were."""
SAMPLED_WITH = "sklearn-20261201T002256Z"
"""The model whose safety flag, beside the first pass's, defined the one-liners' strata."""
STRATA = ("safety_first_not_model", "safety_model_not_first", "repeat_first", "safety_both",
          "neither_filter", "neither_random")
READ_PER_STRATUM: dict[str, int | None] = {"safety_first_not_model": None, "safety_model_not_first": None,
                                           "repeat_first": None, "safety_both": 40, "neither_filter": 40,
                                           "neither_random": 20}
"""Rows drawn from each one-liner stratum (None: all of it)."""
DRAW_SEED = 2026_12_01


def flags_of(cell: str) -> frozenset[str]:
    return frozenset(cell.split("|")) - {"none", ""}


def stratum(first_flags: frozenset[str], model_safety: bool, selected_by: str) -> str:
    """The one-liner stratum of a first-pass row, in the order the sample was drawn."""
    first_safety = "safety" in first_flags
    if first_safety and not model_safety:
        return "safety_first_not_model"
    if model_safety and not first_safety:
        return "safety_model_not_first"
    if "repeat" in first_flags:
        return "repeat_first"
    if first_safety:
        return "safety_both"
    return f"neither_{selected_by}"


@dataclass(frozen=True)
class Pair:
    id: str
    first: dict[str, str]
    second: dict[str, str]
    weight: float


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def pairs(second_path: Path, first_path: Path, stratum_sizes: dict[str, int] | None = None) -> list[Pair]:
    """Each second-pass row with its first-pass row. With `stratum_sizes`, a row weighs its
    stratum's size over the rows read from it; without, every row weighs 1."""
    first = {r["id"]: r for r in _read(first_path)}
    second = _read(second_path)
    missing = [r["id"] for r in second if r["id"] not in first]
    if missing:
        raise ValueError(f"{len(missing)} second-pass rows have no first pass: {missing[:3]}")
    read = Counter(r.get("stratum", "") for r in second)
    out = []
    for r in second:
        weight = 1.0
        if stratum_sizes is not None:
            if r["stratum"] not in stratum_sizes:
                raise ValueError(f"row {r['id']}: unknown stratum {r['stratum']!r}")
            weight = stratum_sizes[r["stratum"]] / read[r["stratum"]]
        out.append(Pair(r["id"], first[r["id"]], r, weight))
    return out


def kappa(table: dict[tuple[str, str], float]) -> float | None:
    """Cohen's kappa of a (weighted) table {(first, second): weight}; None when chance
    agreement is already complete (both passes gave one label throughout)."""
    total = sum(table.values())
    if not total:
        raise ValueError("an empty table")
    labels = {a for a, _ in table} | {b for _, b in table}
    observed = sum(w for (a, b), w in table.items() if a == b) / total
    chance = sum(sum(w for (a, _), w in table.items() if a == x) * sum(w for (_, b), w in table.items() if b == x)
                 for x in labels) / total ** 2
    return None if chance >= 1.0 else (observed - chance) / (1.0 - chance)


@dataclass(frozen=True)
class Agreement:
    what: str
    first_positives: float
    second_positives: float
    both: float
    total: float
    agreement: float
    kappa: float | None


def agreement(rows: Iterable[Pair], what: str) -> Agreement:
    """`what` = "severity", "major" or a flag: the (weighted) agreement of the two passes."""
    table: Counter[tuple[str, str]] = Counter()
    for p in rows:
        table[_label(p.first, what), _label(p.second, what)] += p.weight
    total = sum(table.values())
    positive = "major" if what in ("severity", "major") else "1"
    first_pos = sum(w for (a, _), w in table.items() if a == positive)
    second_pos = sum(w for (_, b), w in table.items() if b == positive)
    both = table[positive, positive]
    agreed = sum(w for (a, b), w in table.items() if a == b)
    return Agreement(what, first_pos, second_pos, both, total, agreed / total, kappa(table))


def _label(row: dict[str, str], what: str) -> str:
    if what == "severity":
        return row["severity"]
    if what == "major":
        return "major" if row["severity"] == "major" else "other"
    if what not in FLAGS:
        raise ValueError(f"unknown label set {what!r}")
    return "1" if what in flags_of(row["flags"]) else "0"


def summary_stratum_sizes() -> dict[str, int]:
    """The sizes of the strata of all 1,884 annotated one-liners of 2020-12, as drawn."""
    return {s: len(ids) for s, ids in first_pass_strata().items()}


def first_pass_strata() -> dict[str, list[str]]:
    """Each stratum's annotated one-liners of 2020-12 as drawn (SUMMARIES_STRATA), in the first
    pass's file order; a file that does not hold exactly the first pass's rows is refused."""
    drawn = {r["id"]: r["stratum"] for r in _read(SUMMARIES_STRATA)}
    ids = [r["id"] for r in _read(SUMMARIES_FIRST)]
    if set(drawn) != set(ids) or len(drawn) != len(ids):
        raise ValueError(f"{SUMMARIES_STRATA.name} does not hold the {len(ids)} rows of {SUMMARIES_FIRST.name}")
    if unknown := set(drawn.values()) - set(STRATA):
        raise ValueError(f"{SUMMARIES_STRATA.name}: unknown stratum {sorted(unknown)}")
    by: dict[str, list[str]] = {}
    for i in ids:
        by.setdefault(drawn[i], []).append(i)
    return by


def recomputed_strata(model_name: str = SAMPLED_WITH) -> dict[str, str]:
    """Each annotated one-liner's stratum computed now: the first pass's flags and `model_name`'s
    safety flag with the cue code of today."""
    raised = model_flags(model_name)
    return {r["id"]: stratum(flags_of(r["flags"]), "safety" in raised[r["id"]], r["selected_by"])
            for r in _read(SUMMARIES_FIRST)}


@lru_cache(maxsize=2)
def model_flags(model_name: str) -> dict[str, frozenset[str]]:
    """The flags `model_name` raises on each annotated one-liner of 2020-12 (read and predicted
    once per model)."""
    from triage.classify.registry import load

    text = {r["id"]: r["text"] for r in _read(SUMMARIES_CSV)}
    ids = [r["id"] for r in _read(SUMMARIES_FIRST)]
    return {i: frozenset(p.flags) for i, p in zip(ids, load(model_name).predict([text[i] for i in ids]))}


def recall_precision(rows: Iterable[Pair], flag: str, raised: dict[str, frozenset[str]], side: str
                     ) -> tuple[float, float]:
    """A model's (weighted) recall and precision of `flag` against the first or second pass."""
    tp = fn = fp = 0.0
    for p in rows:
        truth = flag in flags_of((p.first if side == "first" else p.second)["flags"])
        said = flag in raised[p.id]
        tp += p.weight * (truth and said)
        fn += p.weight * (truth and not said)
        fp += p.weight * (said and not truth)
    return tp / (tp + fn), tp / (tp + fp)


def draw(seed: int = DRAW_SEED) -> list[str]:
    """The one-liners of the second pass, in the shuffled order they were shown: each stratum's
    rows (as drawn) in the first pass's file order, all of a stratum or a seeded sample of it."""
    by = first_pass_strata()
    rng = random.Random(seed)
    chosen: list[str] = []
    for s, n in READ_PER_STRATUM.items():
        pool = by.get(s, [])
        chosen += pool if n is None else rng.sample(pool, min(n, len(pool)))
    rng.shuffle(chosen)
    return chosen


def september_draw(seed: int = SEPTEMBER_SEED) -> list[str]:
    """The ids of the September second pass, in the order they were shown."""
    return [r["id"] for r in random.Random(seed).sample(september_sample(), 120)]


def table(rows: Sequence[Pair], whats: Sequence[str]) -> str:
    lines = ["| | first pass positives | second pass positives | both | agreement | Cohen's κ |",
             "|---|---|---|---|---|---|"]
    for what in whats:
        a = agreement(rows, what)
        k = "n/a" if a.kappa is None else f"{a.kappa:.2f}"
        if what == "severity":
            lines.append(f"| severity (3 classes) | | | | {a.agreement:.3f} | {k} |")
        else:
            lines.append(f"| {what} | {a.first_positives:.0f} | {a.second_positives:.0f} | {a.both:.0f} "
                         f"| {a.agreement:.3f} | {k} |")
    return "\n".join(lines)


def main() -> None:
    whats = ("severity", "major", "safety", "repeat", "government", "media", "legal", "extreme")
    narratives = pairs(NARRATIVES_SECOND, NARRATIVES_FIRST)
    print(f"narratives: {len(narratives)} read twice, each row weighing 1\n")
    print(table(narratives, whats))
    sizes = summary_stratum_sizes()
    summaries = pairs(SUMMARIES_SECOND, SUMMARIES_FIRST, sizes)
    read = Counter(p.second["stratum"] for p in summaries)
    print(f"\none-liners 2020-12: {len(summaries)} read twice, weighted to the {sum(sizes.values())} annotated "
          f"(strata from {SAMPLED_WITH}: " + ", ".join(f"{s} {read[s]} of {sizes.get(s, 0)}" for s in STRATA) + ")\n")
    print(table(summaries, ("severity", "major", "safety", "repeat")))
    print("\nper stratum, safety (first, second): rows")
    for s in STRATA:
        counts = Counter((_label(p.first, "safety"), _label(p.second, "safety")) for p in summaries
                         if p.second["stratum"] == s)
        print(f"  {s}: " + ", ".join(f"{a}{b} {n}" for (a, b), n in sorted(counts.items())))
    september = pairs(SEPTEMBER_SECOND, SEPTEMBER_FIRST)
    print(f"\none-liners 2020-09 (training): {len(september)} read twice, a random sample, each row weighing 1\n")
    print(table(september, ("severity", "major", "safety", "repeat")))
    raised = model_flags(SAMPLED_WITH)
    for side in ("first", "second"):
        r, pr = recall_precision(summaries, "safety", raised, side)
        print(f"{SAMPLED_WITH} safety against the {side} pass: recall {r:.3f}, precision {pr:.3f}")


if __name__ == "__main__":
    main()
