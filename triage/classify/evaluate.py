"""The figures of shared/spec/labels-and-data-format.md: per head accuracy, macro-F1 and
per-class precision / recall; "major" precision / recall; per-flag precision / recall / F1.

A row whose gold holds several ids counts as right when the prediction is any of them;
for per-class figures such a row counts under the predicted class when it is right, and
under its first gold id when it is wrong.

A figure with nothing to count is undefined, not zero: precision when nothing was predicted,
recall when nothing was there to find. It is None (null in JSON, "n/a" in the report); an
F1 is None only when both are, and 0 when one of them is (nothing found, or all wrong).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from triage.classify.bootstrap import ScoredRow, flatten, label
from triage.classify.labels import FLAGS, HEADS, LabelError, parse_gold, parse_gold_flags
from triage.classify.tagging import predict_stream_by
from triage.io import RowError


@dataclass
class Scorer:
    rows: int = 0
    pairs: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: {h: [] for h in HEADS})
    flag_rows: int = 0
    flag_counts: dict[str, Counter] = field(default_factory=lambda: {f: Counter() for f in FLAGS})

    def add(self, gold: dict[str, tuple[str, ...] | None], gold_flags: frozenset[str] | None,
            predicted: dict[str, str], predicted_flags: Iterable[str]) -> None:
        self.rows += 1
        for head in HEADS:
            g = gold.get(head)
            if g:
                p = predicted[head]
                self.pairs[head].append((p if p in g else g[0], p))
        if gold_flags is not None:
            self.flag_rows += 1
            pf = set(predicted_flags)
            for f in FLAGS:
                gold_has, predicted_has = f in gold_flags, f in pf
                key = {(True, True): "tp", (False, True): "fp", (True, False): "fn", (False, False): "tn"}
                self.flag_counts[f][key[gold_has, predicted_has]] += 1

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows}
        for head in HEADS:
            if self.pairs[head]:
                out[head] = _head_figures(self.pairs[head])
        sev = self.pairs["severity"]
        if sev:
            tp = sum(1 for g, p in sev if g == "major" and p == "major")
            out["major"] = {"n": len(sev), "precision": _div(tp, sum(1 for _, p in sev if p == "major")),
                            "recall": _div(tp, sum(1 for g, _ in sev if g == "major"))}
        if self.flag_rows:
            per_flag = {}
            for f, c in self.flag_counts.items():
                precision, recall = _div(c["tp"], c["tp"] + c["fp"]), _div(c["tp"], c["tp"] + c["fn"])
                per_flag[f] = {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
                               "support": c["tp"] + c["fn"], "predicted": c["tp"] + c["fp"]}
            out["flags"] = {"n": self.flag_rows, "per_flag": per_flag}
        return out


def scored_file(model: Any, path: str, fmt: str | None = None, encoding: str = "utf-8",
                on_error: Callable[[str], None] = lambda message: None, others: Sequence[Any] = ()
                ) -> tuple[list[list[ScoredRow]], int]:
    """Every row of a labelled file (shared/spec/labels-and-data-format.md) as `Scorer.add`
    takes it, once with `model`'s predictions and once with each of `others`' (the file read
    once), and how many rows were skipped: a row that cannot be read or holds an unknown label
    is reported to `on_error` and left out. Raises InputError for a file that cannot be read."""
    rows: list[list[ScoredRow]] = [[] for _ in range(1 + len(others))]
    skipped = 0
    for row, results in predict_stream_by([model, *others], path, fmt, encoding):
        error = next((r for r in results if isinstance(r, RowError)), None)
        if error is not None:
            skipped += 1
            on_error(error.error)
            continue
        try:
            gold = {h: parse_gold(h, row.fields.get(h)) for h in HEADS}
            gold_flags = parse_gold_flags(row.fields.get("flags"))
        except LabelError as exc:
            skipped += 1
            on_error(f"row {row.row}: {exc}")
            continue
        for scored, result in zip(rows, results):
            scored.append((gold, gold_flags, {h: getattr(result, h) for h in HEADS}, result.flags))
    return rows, skipped


def score(rows: Iterable[ScoredRow]) -> dict[str, Any]:
    scorer = Scorer()
    for row in rows:
        scorer.add(*row)
    return scorer.result()


def score_file(model: Any, path: str, fmt: str | None = None, encoding: str = "utf-8",
               on_error: Callable[[str], None] = lambda message: None) -> tuple[dict[str, Any], int]:
    """The figures of `model` on a labelled file, and how many rows were skipped (`scored_file`)."""
    (rows,), skipped = scored_file(model, path, fmt, encoding, on_error)
    return score(rows), skipped


def _div(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None and r is None:
        return None
    if p is None or r is None or p + r == 0:
        return 0.0
    return round(2 * p * r / (p + r), 4)


def _head_figures(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    classes = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    per_class = {}
    for c in classes:
        tp = sum(1 for g, p in pairs if g == c and p == c)
        n = sum(1 for g, _ in pairs if g == c)
        precision, recall = _div(tp, sum(1 for _, p in pairs if p == c)), _div(tp, n)
        per_class[c] = {"precision": precision, "recall": recall, "f1": _f1(precision, recall), "n": n}
    supported = [c for c in classes if per_class[c]["n"]]  # their F1 is a number: recall is defined
    return {"n": len(pairs), "accuracy": _div(sum(1 for g, p in pairs if g == p), len(pairs)),
            "macro_f1": round(sum(per_class[c]["f1"] for c in supported) / len(supported), 4) if supported else None,
            "per_class": per_class}


def _fig(value: float | None, width: int = 0) -> str:
    """A figure for the report: four decimals, or n/a when it is undefined."""
    return f"{'n/a' if value is None else f'{value:.4f}':>{width}}"


def format_report(result: dict[str, Any]) -> str:
    """The same figures as a plain-text report."""
    lines = [f"rows scored: {result['rows']}"]
    for head in HEADS:
        if head not in result:
            continue
        h = result[head]
        lines.append(f"\n{head}: n={h['n']} accuracy={_fig(h['accuracy'])} macro_f1={_fig(h['macro_f1'])}")
        lines.append(f"  {'class':<16}{'precision':>10}{'recall':>10}{'n':>8}")
        for c, v in h["per_class"].items():
            lines.append(f"  {c:<16}{_fig(v['precision'], 10)}{_fig(v['recall'], 10)}{v['n']:>8}")
    if "major" in result:
        m = result["major"]
        lines.append(f"\nmajor: n={m['n']} precision={_fig(m['precision'])} recall={_fig(m['recall'])}")
    if "flags" in result:
        lines.append(f"\nflags: n={result['flags']['n']}")
        lines.append(f"  {'flag':<12}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}{'predicted':>11}")
        for f, v in result["flags"]["per_flag"].items():
            lines.append(f"  {f:<12}{_fig(v['precision'], 10)}{_fig(v['recall'], 10)}{_fig(v['f1'], 8)}"
                         f"{v['support']:>9}{v['predicted']:>11}")
    return "\n".join(lines)


def format_spread(result: dict[str, Any], spread: dict[tuple[str, ...], tuple[float, float]], draws: int) -> str:
    """Each figure of `result` with its 95 % bootstrap interval (triage.classify.bootstrap.spread)."""
    lines = [f"\n95 % intervals (bootstrap, {draws} resamples of the {result['rows']} rows):"]
    for key, value in flatten(result).items():
        if key in spread:
            low, high = spread[key]
            lines.append(f"  {label(key):<36}{_fig(value)}  [{low:.4f}, {high:.4f}]")
    return "\n".join(lines)


def format_differences(name: str, rows: int, differences: dict[tuple[str, ...], Any]) -> str:
    """Paired differences (triage.classify.bootstrap.paired) as a report: this model minus `name`."""
    lines = [f"\nagainst {name}, on the same {rows} rows: this model minus that one, with the 95 % paired "
             "bootstrap interval; 'told apart' when it excludes zero:"]
    for key, interval in differences.items():
        lines.append(f"  {label(key):<36}{interval.text()}{'  told apart' if interval.clear else ''}")
    return "\n".join(lines)
