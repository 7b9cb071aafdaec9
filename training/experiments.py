"""Model selection on the development split: train on real 2020-06..07 (plus the written
training examples), score on real 2020-08. The test month is not touched here.

    python -m training.experiments
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace

from training import dataset
from training.train import TrainConfig, fit, score
from triage.classify.labels import FLAGS


def _cfg(share: float, cw: str | None, **kw) -> TrainConfig:
    cfg = TrainConfig(**kw)
    cfg.rare_share = {**cfg.rare_share, "category": share}
    cfg.class_weight = {**cfg.class_weight, "category": cw}
    return cfg


GRID: dict[str, TrainConfig] = {
    "default": TrainConfig(),
    "cat-rarest-balanced": _cfg(1.0, "balanced"),
    "cat-split-balanced": _cfg(0.5, "balanced"),
    "cat-split": _cfg(0.5, None),
    "cat-share.65": _cfg(0.65, None),
    "cat-share.75-balanced": _cfg(0.75, "balanced"),
    "C=1": TrainConfig(C={"business_line": 1.0, "category": 1.0, "severity": 1.0, "flags": 1.0}),
    "C=16": TrainConfig(C={"business_line": 16.0, "category": 16.0, "severity": 8.0, "flags": 8.0}),
    "min_df=1": TrainConfig(min_df=1),
    "written-0.5": TrainConfig(written_weight=0.5),
    "written-0.25": TrainConfig(written_weight=0.25),
    "written-2": TrainConfig(written_weight=2.0),
}


def month_cv(cfg: TrainConfig) -> None:
    """Month-fold cross-validation on the real training months (each of 2020-06, -07, -08
    held out in turn, written examples always in training), pooled: ~4,900 scored rows,
    enough to read the small classes. Prints accuracy and small-class recall over a grid of
    decision biases and flag thresholds; the defaults of TrainConfig were read off it."""
    import numpy as np

    from triage.classify.evaluate import Scorer
    from triage.text.normalize import normalize

    examples = [e for e in dataset.build() if e.split == "train"]
    cfg = replace(cfg, decision_bias={})
    scored, probs, classes = [], {}, {}
    for month in ("2020-06", "2020-07", "2020-08"):
        train = [e for e in examples if e.source != "real" or not e.date.startswith(month)]
        held = [e for e in examples if e.source == "real" and e.date.startswith(month)]
        model, _ = fit(train, cfg, f"cv-{month}")
        X = model.space.transform([normalize(e.text).text for e in held])
        for name, head in model.heads.items():
            probs.setdefault(name, []).append(head.predict_proba(X))
            classes[name] = head.classes
        scored += held
    P = {k: np.vstack(v) for k, v in probs.items()}

    def figures(head: str, bias: dict[str, float]) -> dict:
        logp = np.log(P[head] + 1e-12) + np.array([bias.get(c, 0.0) for c in classes[head]])
        s = Scorer()
        for ex, j in zip(scored, logp.argmax(axis=1)):
            if ex.gold.get(head):
                s.add({head: ex.gold[head]}, None, {head: classes[head][j]}, [])
        r = s.result()[head]
        return {"acc": r["accuracy"], **{c: v["recall"] for c, v in r["per_class"].items()}}

    for b in (0.0, 0.2, 0.4, 0.6):
        print("business_line sales bias", b, figures("business_line", {"sales": b}))
    for brq in (0.0, 0.6, 1.0, 1.2, 1.4):
        for bsv in (0.0, 0.3, 0.5):
            print("category bias rq", brq, "service", bsv,
                  figures("category", {"repair_quality": brq, "service": bsv}))
    for flag in FLAGS:
        gold = np.array([ex.flags[flag] is True for ex in scored])
        known = np.array([ex.flags[flag] is not None for ex in scored])
        for t in (0.2, 0.3, 0.4, 0.5, 0.6):
            hit = (P[f"flags.{flag}"][:, 1] >= t) & known
            tp = int((hit & gold).sum())
            print(f"{flag} threshold {t}: precision {tp / max(hit.sum(), 1):.3f} "
                  f"recall {tp / max(int((gold & known).sum()), 1):.3f} (n={int(known.sum())})")


def main(names: list[str]) -> None:
    if names == ["--month-cv"]:
        month_cv(TrainConfig())
        return
    examples = [e for e in dataset.build() if e.split == "train"]
    train = [e for e in examples if e.source != "real" or e.date < "2020-08"]
    dev = [e for e in examples if e.source == "real" and e.date.startswith("2020-08")]
    for name in names or list(GRID):
        cfg = replace(GRID[name])
        t = time.perf_counter()
        flags = [f for f in FLAGS if len({e.flags[f] for e in train} - {None}) == 2]
        model, _ = fit(train, cfg, name, flags)
        r = score(model, dev)
        row = {"name": name, "fit_s": round(time.perf_counter() - t, 1)}
        for head in ("business_line", "category", "severity"):
            if head in r:
                row[head] = {"acc": r[head]["accuracy"], "macro_f1": r[head]["macro_f1"],
                             "recall": {c: v["recall"] for c, v in r[head]["per_class"].items()}}
        safety = r.get("safety_only") or r.get("flags", {}).get("per_flag", {}).get("safety")
        if safety:
            row["safety"] = {k: safety[k] for k in ("precision", "recall")}
        print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
