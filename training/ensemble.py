"""`triage train --backend ensemble --members A B`: an ensemble folder over registry members,
evaluated on the held-out rows with the same `score()`, with the same card."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from training import dataset
from training.decisions import choose_decisions
from training.experiments import is_dev
from training.train import _versions, held_out_evaluation, new_version
from triage.classify.cues import find_cues
from triage.classify.ensemble import EnsembleModel
from triage.classify.registry import CARD, load_from, registry_dir, write_card
from triage.text.normalize import normalize

POSTPROCESSING = ("low_confidence", "flag_thresholds", "flag_thresholds_long", "flag_thresholds_cued", "flags_need_cue",
                  "decision_bias", "decision_bias_long", "decision_bias_max_chars")


def build_ensemble(members: Sequence[str], weights: Sequence[float] | None = None, registry: Path | None = None,
                   make_current: bool = False, log=print, tune_on_dev: bool = False) -> Path:
    """Write an ensemble of registry `members` (equal weights by default). Its post-processing
    settings are the first member's; with `tune_on_dev`, the decision biases per register
    and the flag thresholds on longer texts are chosen on the development rows from the
    ensemble's own probabilities. Only honest when no member was fitted on those rows (the
    transformer leaves them out of fine-tuning; a scikit-learn model trained on every
    training month has seen them)."""
    started = time.perf_counter()
    root = registry or registry_dir()
    weights = list(weights or [1.0] * len(members))
    loaded = [load_from(root, m) for m in members]
    version = new_version("ensemble")
    config = {"version": version, "backend": "ensemble",
              "members": [{"name": m, "weight": w, "card_sha256": hashlib.sha256((root / m / CARD).read_bytes())
                           .hexdigest()} for m, w in zip(members, weights)],
              **{k: loaded[0].config[k] for k in POSTPROCESSING if k in loaded[0].config}}
    model = EnsembleModel(loaded, weights, config)
    examples = dataset.build()
    if tune_on_dev:
        dev = [e for e in examples if e.split == "train" and is_dev(e)]
        texts = [normalize(e.text).text for e in dev]
        probs, _ = model.head_probabilities(texts, [find_cues(t) for t in texts])
        config.update(choose_decisions(dev, probs, model.classes, config.get("flag_thresholds_long")))
        config["tuned_on_development_rows"] = len(dev)
        chosen = {k: config[k] for k in ("decision_bias", "decision_bias_long", "flag_thresholds_long")}
        log(f"chosen on {len(dev)} development rows: {json.dumps(chosen)}")
        model = EnsembleModel(loaded, weights, config)
    evaluation = held_out_evaluation(
        model, examples, "real complaints of the test months (one-liners of "
                          f"{dataset.TEST_MONTHS['summary']}, narratives of {dataset.TEST_MONTHS['narrative']}), "
                          "never trained on by any member")
    folder = root / version
    artifacts = model.save(folder)
    member_cards = [json.loads((root / m / CARD).read_text(encoding="utf-8")) for m in members]
    card = {
        "version": version, "backend": "ensemble", "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "artifacts": artifacts,
        "model": "ensemble: per head, the weighted mean of the members' probabilities ("
                 + ", ".join(f"{m} x{w:g}" for m, w in zip(members, weights))
                 + f"), then the shared post-processing with {members[0]}'s settings"
                 + ("; decision biases and flag thresholds on longer texts chosen on the development rows"
                    if tune_on_dev else "") + "; evidence from every member",
        "members": config["members"],
        "config": {k: config[k] for k in (*POSTPROCESSING, "tuned_on_development_rows") if k in config},
        "data": {"sources": dataset.sources(),
                 "examples": dict(Counter(f"{e.source}/{e.split}" for e in examples)),
                 "feedback_used": max(c.get("data", {}).get("feedback_used", 0) for c in member_cards),
                 "how_each_head_was_labelled": dataset.HOW_LABELLED,
                 "train_label_counts": {c["version"]: c.get("data", {}).get("train_label_counts", {})
                                        for c in member_cards}},
        "training_seconds": round(sum(c.get("training_seconds", 0) for c in member_cards), 1),
        "libraries": {k: v for c in member_cards for k, v in c.get("libraries", _versions()).items()},
        "evaluation": evaluation,
    }
    write_card(folder, card, make_current=make_current)
    log(f"wrote {folder} in {time.perf_counter() - started:.1f}s")
    return folder

