"""Our model beside the peers on the held-out months, per register and per class, as one
table (for bench/peer_baseline.py, the model card and the README).

Every system is trained on the same real rows (the training months of both sources); the
figures are on the test months only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from training.dataset import Example
from training.peers import PEERS, PeerModel, score_rows, scored_rows
from triage.classify.bootstrap import DRAWS, Interval, Key, flatten, label, paired
from triage.classify.evaluate import score
from triage.classify.labels import HEADS

REGISTER_NAMES = {"summary": "one-liners (12365auto, 2020-12)", "narrative": "narratives (中国汽车质量网, 2024-03)"}


def predictions_of(model: Any, texts: Sequence[str]) -> tuple[dict[str, list[str]], list[list[str]]]:
    heads: dict[str, list[str]] = {h: [] for h in HEADS}
    flags: list[list[str]] = []
    for start in range(0, len(texts), 512):
        for pred in model.predict(list(texts[start:start + 512])):
            for h in HEADS:
                heads[h].append(getattr(pred, h))
            flags.append(list(pred.flags))
    return heads, flags


@dataclass
class Comparison:
    figures: dict[str, dict[str, Any]]
    """Per system, per register: Scorer.result() on the test rows."""
    intervals: dict[str, dict[str, dict[Key, Interval]]]
    """Per other system, per register: its figure minus the first system's, with the 95 % paired
    bootstrap interval (triage.classify.bootstrap.paired)."""

    def as_json(self) -> dict[str, Any]:
        return {"figures": self.figures,
                "intervals": {name: {register: {"/".join(key): [i.difference, i.low, i.high]
                                                for key, i in sorted(by_key.items())}
                                     for register, by_key in by_register.items()}
                              for name, by_register in self.intervals.items()}}


def run(train: Sequence[Example], test: Sequence[Example], ours: dict[str, Any],
        log: Any = print, draws: int = DRAWS) -> Comparison:
    """Every system on `test`: `ours` maps a name to a fitted serving model (the first is the one the
    others are measured against); the peers are fitted here on `train`."""
    texts = [e.text for e in test]
    predictions = {name: predictions_of(model, texts) for name, model in ours.items()}
    for name, make in PEERS.items():
        t0 = time.perf_counter()
        peer = PeerModel(make).fit(train)
        log(f"{name}: trained in {time.perf_counter() - t0:.0f} s")
        predictions[name] = peer.predict(texts)
    rows = {name: scored_rows(test, *p) for name, p in predictions.items()}
    base = next(iter(rows))
    return Comparison(
        figures={name: score_rows(test, *p) for name, p in predictions.items()},
        intervals={name: {register: paired(rows[base][register], by_register[register], draws)
                          for register in by_register}
                   for name, by_register in rows.items() if name != base})


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def table(figures: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: one row per register × figure, one column per system; the best
    figure of each row in bold."""
    systems = list(figures)
    lines = [f"| register | figure | {' | '.join(systems)} |", f"|---|---|{'---|' * len(systems)}"]
    registers = sorted({r for f in figures.values() for r in f}, key=lambda r: list(REGISTER_NAMES).index(r)
                       if r in REGISTER_NAMES else 99)
    for register in registers:
        rows: list[tuple[str, list[float | None]]] = []
        first = figures[systems[0]][register]
        for head in ("business_line", "category", "severity"):
            if head not in first:
                continue
            rows.append((f"{head} accuracy (n={first[head]['n']})",
                         [figures[s][register].get(head, {}).get("accuracy") for s in systems]))
            for cls, v in first[head]["per_class"].items():
                if not v["n"]:
                    continue
                rows.append((f"{head} {cls} recall (n={v['n']})",
                             [_get(figures[s][register], head, cls, "recall") for s in systems]))
                rows.append((f"{head} {cls} precision",
                             [_get(figures[s][register], head, cls, "precision") for s in systems]))
        if "major" in first:
            for k in ("recall", "precision"):
                rows.append((f"major {k} (n={first['major']['n']})",
                             [figures[s][register].get("major", {}).get(k) for s in systems]))
        if "flags" in first:
            for flag, v in first["flags"]["per_flag"].items():
                for k in ("recall", "precision"):
                    rows.append((f"{flag} {k} (support {v['support']} of {first['flags']['n']})",
                                 [figures[s][register].get("flags", {}).get("per_flag", {}).get(flag, {}).get(k)
                                  for s in systems]))
        for name, values in rows:
            known = [v for v in values if v is not None]
            best = max(known) if known else None
            cells = [f"**{_f(v)}**" if v is not None and v == best and len(known) > 1 else _f(v) for v in values]
            lines.append(f"| {REGISTER_NAMES.get(register, register)} | {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _get(fig: dict[str, Any], head: str, cls: str, key: str) -> float | None:
    return fig.get(head, {}).get("per_class", {}).get(cls, {}).get(key)


def compared(result: dict[str, Any]) -> dict[Key, float | None]:
    """The figures the shortfalls compare: each head's accuracy, each class's recall and precision
    (severity's major among them), each flag's recall and precision."""
    return {key: value for key, value in flatten(result).items() if key[0] != "major" and key[-1] != "macro_f1"}


def shortfalls(figures: dict[str, dict[str, Any]], ours: str,
               intervals: dict[str, dict[str, dict[Key, Interval]]] | None = None) -> list[str]:
    """Every figure where a peer beats `ours` (accuracy, per-class recall and precision, flags):
    the honest list for the card; with `intervals` (Comparison.intervals), each with the peer's
    difference from ours and its 95 % paired interval, "beyond noise" when that excludes zero."""
    out = []
    for peer in (s for s in figures if s != ours):
        for register, fig in figures[peer].items():
            mine = compared(figures[ours].get(register, {}))
            for key, b in compared(fig).items():
                a = mine.get(key)
                if a is None or b is None or b <= a:
                    continue
                line = f"{register} {label(key)}: {peer} {b:.3f} > {a:.3f}"
                interval = (intervals or {}).get(peer, {}).get(register, {}).get(key)
                if interval is not None:
                    line += f" (difference {interval.text()}{', beyond noise' if interval.clear else ''})"
                out.append(line)
    return out


def clear_leads(comparison: Comparison, ours: str) -> dict[str, dict[str, list[str]]]:
    """Per peer, the figures where the rows tell the two apart: {"ours": [...], "peer": [...]}, each
    "register figure difference [interval]" with the difference read as ours minus the peer's."""
    out: dict[str, dict[str, list[str]]] = {}
    for peer, by_register in comparison.intervals.items():
        ahead: dict[str, list[str]] = {"ours": [], "peer": []}
        for register, by_key in by_register.items():
            kept = compared(comparison.figures[ours].get(register, {}))
            for key, i in sorted(by_key.items()):
                if key in kept and i.clear:
                    ours_minus_peer = Interval(-i.difference, -i.high, -i.low)
                    ahead["peer" if i.difference > 0 else "ours"].append(
                        f"{register} {label(key)} {ours_minus_peer.text()}")
        out[peer] = ahead
    return out


def card_section(comparison: Comparison, ours: str) -> dict[str, Any]:
    """The model card's "peers" entry (triage.classify.registry.card_markdown renders it)."""
    return {"table": table(comparison.figures),
            "shortfalls": shortfalls(comparison.figures, ours, comparison.intervals),
            "clear": clear_leads(comparison, ours), **comparison.as_json()}


def against(model: Any, other: Any, test: Sequence[Example], draws: int = DRAWS) -> dict[str, Any]:
    """`model` beside `other` (the model it would replace) on the same rows, per register: the other's
    figures, and every figure's difference (model minus other) with its 95 % paired interval;
    "better" and "worse" list the figures the rows tell apart (accuracy, per-class recall and
    precision, flags)."""
    texts = [e.text for e in test]
    mine, theirs = scored_rows(test, *predictions_of(model, texts)), scored_rows(test, *predictions_of(other, texts))
    out: dict[str, Any] = {}
    for register in sorted(mine):
        intervals = paired(theirs[register], mine[register], draws)
        figures = score(theirs[register])
        kept = compared(figures)
        out[register] = {
            "figures": figures,
            "differences": {"/".join(k): [i.difference, i.low, i.high] for k, i in intervals.items()},
            "better": [f"{label(k)} {i.text()}" for k, i in intervals.items() if k in kept and i.low > 0],
            "worse": [f"{label(k)} {i.text()}" for k, i in intervals.items() if k in kept and i.high < 0]}
    return out
