"""One encoder with a head per label set, or one model per head? Measured here.

    .venv/bin/python -m training.transformer.experiments [--epochs-share 0.5]

Pre-trains the character BERT once (default configuration), then fine-tunes from that
same encoder (a) one multi-task model with all heads and (b) one model per head
(category, severity, the six flags), and scores each head on the
held-out real rows with the same `score()` as the cards. Prints JSON. `--epochs-share`
scales both phases' epochs (the same for every arm) to fit a shared machine's time.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import replace

import torch

from training import dataset
from training.train import score
from training.transformer.config import TransformerConfig
from training.transformer.finetune import HEAD_CLASSES, finetune, fit_flag_scaling, fit_temperatures
from training.transformer.pretrain import pretrain
from training.transformer.train import _is_dev
from triage.classify.labels import HEADS
from triage.classify.transformer.backend import TransformerModel, _width
from triage.classify.transformer.chars import CharTokenizer
from triage.classify.transformer.encoding import TextEncoder
from triage.classify.transformer.network import MultiHeadClassifier
from triage.text.normalize import normalize


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs-share", type=float, default=1.0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    base = TransformerConfig()
    cfg = replace(base, pretrain_epochs=max(1, round(base.pretrain_epochs * args.epochs_share)),
                  finetune_epochs=max(1, round(base.finetune_epochs * args.epochs_share)))
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    examples = dataset.build()
    train_set = [e for e in examples if e.split == "train"]
    for e in train_set:
        e.text = normalize(e.text).text
    real_test = [e for e in examples if e.source == "real" and e.split == "test"]
    dev = [e for e in train_set if _is_dev(e.id, cfg.dev_percent)]
    train = [e for e in train_set if not _is_dev(e.id, cfg.dev_percent)]
    encoder = TextEncoder(CharTokenizer.build((e.text for e in train_set), cfg.min_char_count), cfg.max_length)
    bert, _ = pretrain([e.text for e in train_set], encoder, cfg, log)
    results = {}
    # Business line (two classes, 0.97+ either way) is left out to keep the run under 40 minutes.
    for only in (None, ["category"], ["severity"], ["flags"]):
        network = MultiHeadClassifier(copy.deepcopy(bert), {h: _width(c) for h, c in HEAD_CLASSES.items()},
                                      cfg.dropout)
        started = time.perf_counter()
        finetune(network, encoder, train, cfg, cfg.finetune_lr, log, only=only)
        seconds = round(time.perf_counter() - started, 1)
        config = {"version": "experiment", "heads": HEAD_CLASSES, "low_confidence": cfg.low_confidence,
                  "flag_thresholds": cfg.flag_thresholds, "temperature": fit_temperatures(network, encoder, dev, cfg),
                  "flag_scaling": fit_flag_scaling(network, encoder, dev)}
        s = score(TransformerModel(network, encoder, config), real_test)
        name = "multi-task" if only is None else f"only {only[0]}"
        heads = HEADS if only is None else [h for h in HEADS if h in only]
        results[name] = {"finetune_seconds": seconds,
                         **{h: {"accuracy": s[h]["accuracy"], "macro_f1": s[h]["macro_f1"]} for h in heads}}
        if only is None or only == ["flags"]:
            results[name]["safety"] = s["flags"]["per_flag"]["safety"]
        log(f"{name}: {json.dumps(results[name])}")
    print(json.dumps({"pretrain_epochs": cfg.pretrain_epochs, "finetune_epochs": cfg.finetune_epochs, **results},
                     indent=1))


if __name__ == "__main__":
    main()
