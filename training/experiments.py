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
from triage.labels import FLAGS


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


def main(names: list[str]) -> None:
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
