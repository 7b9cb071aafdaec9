"""Our model beside the peers on the held-out months, per register and per class, as one
table (for bench/peer_baseline.py, the model card and the README).

Every system is trained on the same real rows (the training months of both sources); the
figures are on the test months only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from training.dataset import Example
from training.peers import PEERS, PeerModel, score_rows
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


def run(train: Sequence[Example], test: Sequence[Example], ours: dict[str, Any],
        log: Any = print) -> dict[str, dict[str, Any]]:
    """Figures of every system: `ours` maps a name to a fitted serving model; the peers
    are fitted here on `train`."""
    texts = [e.text for e in test]
    figures: dict[str, dict[str, Any]] = {}
    for name, model in ours.items():
        figures[name] = score_rows(test, *predictions_of(model, texts))
    for name, make in PEERS.items():
        t0 = time.perf_counter()
        peer = PeerModel(make).fit(train)
        log(f"{name}: trained in {time.perf_counter() - t0:.0f} s")
        figures[name] = score_rows(test, *peer.predict(texts))
    return figures


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
        for label, values in rows:
            known = [v for v in values if v is not None]
            best = max(known) if known else None
            cells = [f"**{_f(v)}**" if v is not None and v == best and len(known) > 1 else _f(v) for v in values]
            lines.append(f"| {REGISTER_NAMES.get(register, register)} | {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _get(fig: dict[str, Any], head: str, cls: str, key: str) -> float | None:
    return fig.get(head, {}).get("per_class", {}).get(cls, {}).get(key)


def shortfalls(figures: dict[str, dict[str, Any]], ours: str) -> list[str]:
    """Every figure where a peer beats `ours` (accuracy, per-class recall and precision,
    major, flags): the honest list for the card."""
    out = []
    mine = figures[ours]
    for peer in (s for s in figures if s != ours):
        for register, fig in figures[peer].items():
            for head in ("business_line", "category", "severity"):
                if head not in fig or head not in mine.get(register, {}):
                    continue
                a, b = mine[register][head]["accuracy"], fig[head]["accuracy"]
                if a is not None and b is not None and b > a:
                    out.append(f"{register} {head} accuracy: {peer} {b:.3f} > {a:.3f}")
                for cls, v in fig[head]["per_class"].items():
                    for k in ("recall", "precision"):
                        a = _get(mine[register], head, cls, k)
                        if v[k] is not None and a is not None and v[k] > a:
                            out.append(f"{register} {head} {cls} {k}: {peer} {v[k]:.3f} > {a:.3f}")
    return out
