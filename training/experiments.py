"""Choices made on the development rows only, never on the test months.

Two development folds (`dev_fold`): fold 0 holds out, from the training months, the one-liners
of 2020-11 and half of the narratives of 2024-02 (by a hash of their id); fold 1 the one-liners
of 2020-10 and the other narratives (2024-01, the other half of 2024-02). For each fold taken
(fold 0 by default) a model is fitted on the rest (written examples included), and its
probabilities on the held-out rows of those folds together decide:

- the decision biases of each register: the grid point with the highest mean recall of the
  classes whose accuracy stays within `ACCURACY_SLACK` of the best grid point's;
- the flag thresholds of each register: the highest F2 on the annotated development rows
  (recall weighs double: a missed flag costs more than a second look at a false one); a
  flag with fewer than 3 positives there keeps the default.

    python -m training.experiments          # prints the grid and the chosen settings (JSON)
    python -m training.experiments --heads  # the decision biases alone (no flag is fitted)
    python -m training.experiments --folds=2  # on both folds together
    python -m training.experiments --register  # TrainConfig.register_head, both folds
    python -m training.experiments --customer-issue  # its bias, on the written rows (customer_issue_bias)
    python -m training.experiments --cued  # one-liners' flag thresholds where a cue is read (cued_thresholds)

The served settings (TrainConfig) are fold 0's. Both folds together (2026-12-01) chose the
one-liners' biases and thresholds alike, and on longer texts a lower sales bias and lower flag
thresholds that did not hold on the test month (TrainConfig.decision_bias_long's docstring):
the narratives' share of sales grows from month to month, and fold 1 holds the earliest.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from training import dataset
from training.dataset import Example
from training.train import TrainConfig, fit, score
from triage.classify.base import cued_flags
from triage.classify.cues import find_cues_batch
from triage.classify.evaluate import Scorer
from triage.classify.labels import FLAGS, REGISTER
from triage.classify.sklearn import SklearnModel
from triage.text.normalize import normalize

ACCURACY_SLACK = 0.003
DEV_MONTHS = {"summary": "2020-11", "narrative": "2024-02"}
BIAS_GRID: dict[str, dict[str, tuple[float, ...]]] = {
    "business_line": {"sales": (-1.0, -0.8, -0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)},
    "category": {"service": (-1.0, -0.8, -0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.8),
                 "repair_quality": (0.0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8)},
}
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def _odd(example_id: str) -> bool:
    return int(hashlib.sha256(example_id.encode()).hexdigest()[:8], 16) % 2 == 1


def dev_fold(e: Example) -> int | None:
    """The development fold that holds `e` out, or None for a row every fold fits on (written
    rows, the one-liners of 2020-06..09, the test months). Fold 0 is `is_dev`'s split; fold 1
    holds out the one-liners of 2020-10 and the other training narratives (2024-01 and the other
    half of 2024-02), so that the two together score twice the one-liners and every training
    narrative, each by a model fitted without it."""
    if e.source != "real" or e.split != "train":
        return None
    month = e.date[:7]
    if e.register == "summary":
        return 0 if month == DEV_MONTHS["summary"] else 1 if month == "2020-10" else None
    if e.register == "narrative":
        if month == DEV_MONTHS["narrative"]:
            return 0 if _odd(e.id) else 1
        return 1 if month == "2024-01" else None
    return None


def dev_split(fold: int = 0, examples: Sequence[Example] | None = None) -> tuple[list[Example], list[Example]]:
    """(fitting rows, development rows) of a development fold: the training rows the fold does not
    hold out, and those it does (fold 0 is the split every figure before the folds was measured on)."""
    if examples is None:
        examples = dataset.build()
    train = [e for e in examples if e.split == "train"]
    return [e for e in train if dev_fold(e) != fold], [e for e in train if dev_fold(e) == fold]


def is_dev(e: Example) -> bool:
    if e.source != "real" or not e.date.startswith(DEV_MONTHS[e.register]):
        return False
    return e.register == "summary" or _odd(e.id)


def head_figures(rows: Sequence[Example], probs: np.ndarray, classes: list[str], head: str,
                 bias: dict[str, float]) -> dict[str, Any]:
    logp = np.log(probs + 1e-12) + np.array([bias.get(c, 0.0) for c in classes])
    s = Scorer()
    for ex, j in zip(rows, logp.argmax(axis=1)):
        s.add({head: ex.gold[head]}, None, {head: classes[j]}, [])
    r = s.result()[head]
    return {"accuracy": r["accuracy"], "recall": {c: v["recall"] for c, v in r["per_class"].items() if v["n"]}}


def choose_bias(rows: Sequence[Example], probs: np.ndarray, classes: list[str], head: str,
                log: Any = print, grids: dict[str, dict[str, tuple[float, ...]]] | None = None) -> dict[str, float]:
    """The rule of every backend's decision biases: of the grid points whose accuracy is
    within ACCURACY_SLACK of the best, the one with the highest mean recall of the classes."""
    grid = (grids or BIAS_GRID)[head]
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    scored = []
    for bias in points:
        f = head_figures(rows, probs, classes, head, bias)
        scored.append((bias, f))
        log(json.dumps({"head": head, "bias": bias, **f}, ensure_ascii=False))
    best_accuracy = max(f["accuracy"] for _, f in scored)
    eligible = [(b, f) for b, f in scored if f["accuracy"] >= best_accuracy - ACCURACY_SLACK]
    bias, _ = max(eligible, key=lambda bf: (np.mean(list(bf[1]["recall"].values())), bf[1]["accuracy"]))
    return {c: b for c, b in bias.items() if b}


def flag_curves(rows: Sequence[Example], probs: dict[str, np.ndarray], grid: Sequence[float] = THRESHOLDS,
                min_support: int = 3) -> dict[str, tuple[int, list[tuple[float, float, float]]]]:
    """Per flag with at least `min_support` positives among `rows`: (support, [(threshold,
    precision, recall)] over `grid`), the one measurement every threshold rule reads."""
    out = {}
    for flag in FLAGS:
        if f"flags.{flag}" not in probs:
            continue
        known = np.array([e.flags.get(flag) is not None for e in rows])
        gold = np.array([e.flags.get(flag) is True for e in rows])
        support = int(gold.sum())
        if support < min_support:
            continue
        curve = []
        for t in grid:
            hit = (probs[f"flags.{flag}"][:, 1] >= t) & known
            tp = int((hit & gold).sum())
            curve.append((t, tp / max(int(hit.sum()), 1), tp / support))
        out[flag] = (support, curve)
    return out


def f2_score(precision: float, recall: float) -> float:
    """The flags' rule: recall weighs double (a missed flag costs more than a second look)."""
    return 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0


def choose_thresholds(rows: Sequence[Example], probs: dict[str, np.ndarray], log: Any = print) -> dict[str, float]:
    out = {}
    for flag, (support, curve) in flag_curves(rows, probs).items():
        best = None
        for t, p, r in curve:
            f2 = f2_score(p, r)
            log(json.dumps({"flag": flag, "threshold": t, "precision": round(p, 3), "recall": round(r, 3),
                            "support": support}))
            if best is None or f2 > best[0]:
                best = (f2, t)
        out[flag] = best[1]
    return out


def tune(cfg: TrainConfig, log: Any = print, flags: Sequence[str] = tuple(FLAGS), folds: int = 1
         ) -> dict[str, Any]:
    """The settings chosen on the development rows of `folds` folds together (each fold's rows
    scored by a model fitted without them); `flags=()` fits and tunes the heads alone (the
    decision biases), for a change that leaves the flags' models as they were."""
    examples = dataset.build()
    cfg = replace(cfg, decision_bias={}, decision_bias_long={})
    dev: list[Example] = []
    parts: list[dict[str, np.ndarray]] = []
    for fold in range(folds):
        fit_rows, held = dev_split(fold, examples)
        model, _ = fit(fit_rows, cfg, "development", flags)
        texts = [normalize(e.text).text for e in held]
        # As served: with the long-text member (TrainConfig.long_member) mixed into the longer texts.
        probs_of_fold, _ = model.head_probabilities(texts, find_cues_batch(texts))
        parts.append(probs_of_fold)
        dev += held
    probs = {name: np.vstack([p[name] for p in parts]) for name in parts[0]}
    chosen: dict[str, Any] = {"decision_bias": {}, "decision_bias_long": {}}
    for register, key in (("summary", "decision_bias"), ("narrative", "decision_bias_long")):
        for head in BIAS_GRID:
            idx = [i for i, e in enumerate(dev) if e.register == register and e.gold.get(head)]
            bias = choose_bias([dev[i] for i in idx], probs[head][idx], model.heads[head].classes, head,
                               log=lambda line, r=register: log(f"{r} {line}"))
            if bias:
                chosen[key][head] = bias
    for register, key in (("summary", "flag_thresholds"), ("narrative", "flag_thresholds_long")):
        if not flags:
            break
        idx = [i for i, e in enumerate(dev) if e.register == register]
        chosen[key] = choose_thresholds([dev[i] for i in idx], {k: v[idx] for k, v in probs.items()},
                                        log=lambda line, r=register: log(f"{r} {line}"))
    return chosen


CUSTOMER_ISSUE_GRID = {"category": {"customer_issue": (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)}}


def customer_issue_bias(cfg: TrainConfig | None = None, log: Any = print) -> dict[str, float]:
    """TrainConfig's customer_issue bias: the sites' codes have no customer issue, so only the
    written rows can choose it. The written training rows in three parts by a hash of their id,
    each scored by a model fitted without it and without fold 0's development rows, with the
    served category biases of each row's register beneath; the rule of `choose_bias` over the
    grid. The development rows (fold 0, scored by the first part's model) say what the bias
    costs the real complaints, where no row is a customer issue."""
    cfg = cfg or TrainConfig()
    # The served biases of the other classes stay beneath; the customer issue's own is the grid's.
    cfg = replace(cfg, **{key: {h: {c: b for c, b in table.items() if c != "customer_issue"}
                                for h, table in getattr(cfg, key).items()}
                          for key in ("decision_bias", "decision_bias_long")})
    fit_rows, dev = dev_split(0)
    written = [e for e in fit_rows if e.source == "written" and e.gold.get("category")]
    part = {e.id: int(hashlib.sha256(e.id.encode()).hexdigest()[:8], 16) % 3 for e in written}
    rows: list[Example] = []
    shifted: list[np.ndarray] = []
    for k in range(3):
        model, _ = fit([e for e in fit_rows if part.get(e.id) != k], cfg, f"customer-issue-{k}")
        scored = [e for e in written if part[e.id] == k]
        if k == 0:
            scored += [e for e in dev if e.gold.get("category")]
        texts = [normalize(e.text).text for e in scored]
        probs, _ = model.head_probabilities(texts, find_cues_batch(texts))
        decoder = model._decoder
        short = decoder.short(texts, probs)[:, None]
        # The served biases folded into the probabilities: the grid's bias is added on top of them.
        p = probs["category"] * np.exp(np.where(short, decoder.bias["category"], decoder.bias_long["category"]))
        shifted.append(p / p.sum(axis=1, keepdims=True))
        rows += scored
    classes = model.heads["category"].classes
    probs_all = np.vstack(shifted)
    is_written = np.array([e.source == "written" for e in rows])
    bias = choose_bias([e for e in rows if e.source == "written"], probs_all[is_written], classes, "category",
                       log=lambda line: log(f"written {line}"), grids=CUSTOMER_ISSUE_GRID)
    real = [e for e in rows if e.source != "written"]
    for b in CUSTOMER_ISSUE_GRID["category"]["customer_issue"]:
        log("real development " + json.dumps({"bias": b, **head_figures(real, probs_all[~is_written], classes,
                                                                      "category", {"customer_issue": b})}))
    return bias


CUED_GRID = (0.05, 0.1, 0.2, 0.3)


def choose_cued_thresholds(rows: Sequence[Example], probs: dict[str, np.ndarray], cued: dict[str, np.ndarray],
                           plain: dict[str, float], log: Any = print) -> dict[str, float]:
    """Per flag of `cued` (row has a cue of it), the threshold of its cued rows: the grid point of
    the highest F2 over all `rows`, the rest at the `plain` threshold; none when the plain threshold
    for every row is as good (a tie keeps the plain one)."""
    out = {}
    for flag, has_cue in cued.items():
        known = np.array([e.flags.get(flag) is not None for e in rows])
        gold = np.array([e.flags.get(flag) is True for e in rows])
        p = probs[f"flags.{flag}"][:, 1]
        best: tuple[float, float | None] | None = None
        for t in (None, *CUED_GRID):
            hit = (p >= (plain[flag] if t is None else np.where(has_cue, min(t, plain[flag]), plain[flag]))) & known
            tp = int((hit & gold).sum())
            precision, recall = tp / max(int(hit.sum()), 1), tp / max(int(gold.sum()), 1)
            f2 = f2_score(precision, recall)
            log(json.dumps({"flag": flag, "cued threshold": t, "precision": round(precision, 3),
                            "recall": round(recall, 3), "f2": round(f2, 4), "support": int(gold.sum())}))
            if best is None or f2 > best[0]:
                best = (f2, t)
        if best is not None and best[1] is not None:
            out[flag] = best[1]
    return out


def cued_thresholds(cfg: TrainConfig | None = None, flags: Sequence[str] = ("safety",), folds: int = 2,
                    log: Any = print) -> dict[str, float]:
    """TrainConfig.flag_thresholds_cued: the one-liners of `folds` development folds together, each
    scored by the flags' heads fitted without them, the served plain thresholds beneath."""
    cfg = cfg or TrainConfig()
    examples = dataset.build()
    dev: list[Example] = []
    parts: list[dict[str, np.ndarray]] = []
    cued: list[np.ndarray] = []
    for fold in range(folds):
        fit_rows, held = dev_split(fold, examples)
        held = [e for e in held if e.register == "summary" and any(e.flags.get(f) is not None for f in flags)]
        model, _ = fit(fit_rows, cfg, "development", flags)
        texts = [normalize(e.text).text for e in held]
        cues = find_cues_batch(texts)
        probs, _ = model.head_probabilities(texts, cues)
        parts.append(probs)
        cued.append(cued_flags(cues, flags))
        dev += held
    probs = {name: np.vstack([p[name] for p in parts]) for name in parts[0]}
    has_cue = np.vstack(cued)
    return choose_cued_thresholds(dev, probs, {f: has_cue[:, j] for j, f in enumerate(flags)},
                                  {f: cfg.flag_thresholds.get(f, 0.5) for f in flags}, log=log)


def compact(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of a `training.train.score` result that the levers here are judged on."""
    out: dict[str, Any] = {}
    for head in ("business_line", "category", "severity"):
        if head in result:
            r = result[head]
            out[head] = {"n": r["n"], "accuracy": round(r["accuracy"], 4),
                         **{c: round(v["recall"], 3) for c, v in r["per_class"].items() if v["n"]}}
    if "major" in result:
        out["major P/R"] = [round(result["major"]["precision"], 3), round(result["major"]["recall"], 3)]
    per_flag = result["flags"]["per_flag"] if "flags" in result else {"safety": result.get("safety_only")}
    for flag, r in per_flag.items():
        if r and r["support"]:
            out[f"{flag} P/R (n)"] = [r["precision"] and round(r["precision"], 3), round(r["recall"], 3), r["support"]]
    return out


def register_comparison(folds: int = 2, log: Any = print) -> list[dict[str, Any]]:
    """TrainConfig.register_head on the development folds: each fold's rows scored by one model
    fitted without them, decoded once with its register head and once by length alone (the
    same heads otherwise), every figure per register of the rows."""
    examples = dataset.build()
    cfg = TrainConfig()
    lines = []
    for fold in range(folds):
        fit_rows, held = dev_split(fold, examples)
        model, _ = fit(fit_rows, cfg, "development")
        by_length = SklearnModel(model.space, {n: h for n, h in model.heads.items() if n != REGISTER},
                                 model.config, model.long_members)
        short = [(e, t) for e in held if len(t := normalize(e.text).text) <= cfg.decision_bias_max_chars]
        texts = [t for _, t in short]
        probs, _ = model.head_probabilities(texts, find_cues_batch(texts))
        summary = model._decoder.short(texts, probs)  # every text here is short: read as a summary or not
        read = Counter((e.register, "summary" if s else "narrative") for (e, _), s in zip(short, summary))
        lines.append({"fold": fold, "short rows, register -> read as": {f"{a} -> {b}": n
                                                                       for (a, b), n in sorted(read.items())}})
        log(json.dumps(lines[-1], ensure_ascii=False))
        for register in ("summary", "narrative"):
            rows = [e for e in held if e.register == register]
            for name, m in (("by length", by_length), ("register head", model)):
                lines.append({"fold": fold, "register": register, "decoded": name, **compact(score(m, rows))})
                log(json.dumps(lines[-1], ensure_ascii=False))
    return lines


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--register" in args:
        register_comparison()
        sys.exit(0)
    if "--cued" in args:
        print(json.dumps(cued_thresholds(log=lambda line: print(line, file=sys.stderr))))
        sys.exit(0)
    if "--customer-issue" in args:
        print(json.dumps(customer_issue_bias(log=lambda line: print(line, file=sys.stderr))))
        sys.exit(0)
    settings = tune(TrainConfig(), log=lambda line: print(line, file=sys.stderr),
                    flags=() if "--heads" in args else tuple(FLAGS),
                    folds=int(next((a.split("=", 1)[1] for a in args if a.startswith("--folds=")), 1)))
    print(json.dumps(settings, ensure_ascii=False, indent=1))
