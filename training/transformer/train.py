"""`triage train --backend transformer`: a character BERT pre-trained here (or a local
checkpoint, `--base-model PATH`), fine-tuned with one head per label set, calibrated on
dev rows of the train split, evaluated on the held-out rows with the same `score()` as
the scikit-learn model, and written to the registry with the same card."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from training import dataset
from training.dataset import Example
from training.decisions import choose_decisions
from training.experiments import is_dev
from training.train import _versions, held_out_evaluation, new_version
from training.transformer.config import TransformerConfig
from training.transformer.finetune import (
    HEAD_CLASSES,
    finetune,
    fit_flag_scaling,
    fit_temperatures,
    undo_class_weights,
)
from training.transformer.pretrain import pretrain
from triage.classify.labels import FLAGS, HEADS
from triage.classify.registry import registry_dir, write_card
from triage.classify.transformer import cpu_threads
from triage.classify.transformer.backend import TransformerModel, _width
from triage.classify.transformer.chars import CharTokenizer
from triage.classify.transformer.encoding import TextEncoder
from triage.classify.transformer.network import MultiHeadClassifier
from triage.text.normalize import normalize


def _is_dev(example_id: str, percent: int) -> bool:
    return int(hashlib.sha256(("dev:" + example_id).encode()).hexdigest()[:8], 16) % 100 < percent


def check_base_model(folder: Path) -> None:
    """Refuse, before any training, a --base-model that is not a local checkpoint usable here."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a directory (--base-model takes a local checkpoint folder; "
                         "nothing is downloaded)")
    missing = [n for n in ("config.json", "tokenizer.json") if not (folder / n).is_file()]
    if not any((folder / n).is_file() for n in ("model.safetensors", "pytorch_model.bin")):
        missing.append("model.safetensors or pytorch_model.bin")
    if missing:
        raise ValueError(f"{folder}: not a usable checkpoint, missing {', '.join(missing)} "
                         "(a fast tokenizer's tokenizer.json is needed for the evidence offsets)")


def pretraining_texts(texts: Sequence[str], max_length: int) -> list[str]:
    """The MLM corpus: each text, a long one cut into pieces the encoder reads whole (the
    tail of a narrative is text to learn from too)."""
    size = max_length - 2
    return [t[i:i + size] for t in texts for i in range(0, len(t), size) if t[i:i + size].strip()]


def development_split(examples: Sequence[Example], cfg: TransformerConfig) -> tuple[list[Example], list[Example]]:
    """(fine-tuning rows, development rows). The development rows are training.experiments'
    (one-liners of 2020-11, half the narratives of 2024-02 by id hash), the same as the
    scikit-learn model's; without any (tests, written-only sets), `dev_percent` of the rows
    by id hash."""
    dev = [e for e in examples if is_dev(e)]
    if not dev:
        dev = [e for e in examples if _is_dev(e.id, cfg.dev_percent)]
    ids = {e.id for e in dev}
    return [e for e in examples if e.id not in ids], dev


def fit_transformer(examples: Sequence[Example], cfg: TransformerConfig, version: str,
                    base_model: Path | None = None, log=print, progress: bool = True
                    ) -> tuple[TransformerModel, dict[str, Any]]:
    """Train on `examples` (all of the train split); returns the model and the run's figures."""
    torch.set_num_threads(cfg.threads or cpu_threads())
    examples = [Example(e.id, normalize(e.text).text, e.source, e.split, e.register, e.date, e.gold, e.flags)
                for e in examples]
    train, dev = development_split(examples, cfg)
    figures: dict[str, Any] = {"train_rows": len(train), "dev_rows": len(dev), "threads": torch.get_num_threads()}
    if base_model is None:
        encoder = TextEncoder(CharTokenizer.build((e.text for e in examples), cfg.min_char_count), cfg.max_length,
                              cfg.window)
        # The MLM corpus: every train-split text (labels unused, development rows included),
        # never a row of the test months.
        bert, figures["pretrain"] = pretrain(pretraining_texts([e.text for e in examples], cfg.max_length),
                                             encoder, cfg, log, progress)
        lr = cfg.finetune_lr
    else:
        from transformers import AutoModel, AutoTokenizer

        check_base_model(base_model)
        tokenizer = AutoTokenizer.from_pretrained(str(base_model), local_files_only=True)
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"{base_model}: a fast tokenizer (tokenizer.json) is needed for the evidence offsets")
        bert = AutoModel.from_pretrained(str(base_model), local_files_only=True)
        limit = getattr(bert.config, "max_position_embeddings", cfg.max_length)
        encoder = TextEncoder(tokenizer, min(cfg.max_length, limit - 2 if bert.config.model_type == "roberta"
                                             else limit))
        figures["pretrain"] = {"base_model": str(base_model)}
        lr = cfg.base_model_lr
    network = MultiHeadClassifier(bert, {h: _width(c) for h, c in HEAD_CLASSES.items()}, cfg.dropout)
    figures["finetune"] = finetune(network, encoder, train, cfg, lr, log, progress)
    if cfg.undo_class_weights:
        undo_class_weights(network, figures["finetune"]["class_weights"])
    temperature = fit_temperatures(network, encoder, dev, cfg)
    flag_scaling = fit_flag_scaling(network, encoder, dev)
    figures["parameters"] = sum(p.numel() for p in network.parameters())
    config = {"version": version, "backend": "transformer", "heads": HEAD_CLASSES,
              "temperature": temperature, "flag_scaling": flag_scaling,
              "low_confidence": cfg.low_confidence, "flag_thresholds": cfg.flag_thresholds,
              "flag_thresholds_long": cfg.flag_thresholds_long, "flags_need_cue": list(cfg.flags_need_cue),
              "decision_bias": cfg.decision_bias, "decision_bias_long": cfg.decision_bias_long,
              "decision_bias_max_chars": cfg.decision_bias_max_chars,
              "evidence_per_head": cfg.evidence_per_head, "base_model": str(base_model) if base_model else None}
    model = TransformerModel(network, encoder, config)
    if cfg.tune_on_dev and encoder.kind == "chars" and any(e.source == "real" for e in dev):
        started = time.perf_counter()
        settings, figures["development"] = choose_on_dev(model, [e for e in dev if e.source == "real"], cfg, log)
        figures["development"]["seconds"] = round(time.perf_counter() - started, 1)
        model = TransformerModel(network, TextEncoder(encoder.tokenizer, encoder.max_length, settings.pop("window")),
                                 {**config, **settings})
    return model, figures


def choose_on_dev(model: TransformerModel, dev: Sequence[Example], cfg: TransformerConfig, log=print
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The window for long texts, then the decision biases per register and the flag
    thresholds on longer texts, chosen on the development rows by training.experiments'
    grids and rules (as for the scikit-learn model). Returns (settings, figures)."""
    texts = [e.text for e in dev]
    body = model.text_encoder.max_length - 2
    long_rows = [i for i, t in enumerate(texts) if sum(not c.isspace() for c in t) > body]
    tried: dict[str, Any] = {}
    probs_of: dict[str, dict[str, np.ndarray]] = {}
    for window in cfg.windows_tried:
        model.text_encoder = TextEncoder(model.text_encoder.tokenizer, model.text_encoder.max_length, window)
        probs_of[window], _, _ = model.head_probabilities(texts)
        # Only texts longer than the window differ; their labelled heads decide.
        right = labelled = 0
        for h in HEADS:
            chosen = probs_of[window][h].argmax(axis=1)
            for i in long_rows:
                if dev[i].gold.get(h):
                    labelled += 1
                    right += model.classes[h][chosen[i]] in dev[i].gold[h]
        tried[window] = {"long_rows": len(long_rows), "head_labels": labelled, "right": right}
        log(f"window {window}: {right} of {labelled} head labels right on {len(long_rows)} long development rows")
    # Ties go to the earlier (cheaper) window.
    window = max(cfg.windows_tried, key=lambda w: (tried[w]["right"], -cfg.windows_tried.index(w)))
    settings = {"window": window, **choose_decisions(dev, probs_of[window], model.classes, cfg.flag_thresholds_long)}
    log(f"chosen on {len(dev)} development rows: {json.dumps(settings, ensure_ascii=False)}")
    return settings, {"rows": dict(Counter(e.register for e in dev)), "windows": tried, "chosen": dict(settings)}


def _label_counts(examples: Sequence[Example]) -> dict[str, Any]:
    counts: dict[str, Any] = {h: dict(Counter(g for e in examples for g in (e.gold.get(h) or ()))) for h in HEADS}
    counts["flags"] = {f: {"positive": sum(1 for e in examples if e.flags.get(f) is True),
                           "negative": sum(1 for e in examples if e.flags.get(f) is False)} for f in FLAGS}
    return counts


def train_transformer(cfg: TransformerConfig | None = None, base_model: Path | None = None,
                      feedback: Sequence[Example] = (), feedback_sources: Sequence[Path] = (),
                      registry: Path | None = None, make_current: bool = False, log=print,
                      progress: bool = True) -> Path:
    """Train, evaluate on the held-out rows, write the folder and card. Not made current
    unless asked: the README's comparison decides what serves."""
    cfg = cfg or TransformerConfig()
    started = time.perf_counter()
    examples = dataset.build(feedback)
    train_set = [e for e in examples if e.split == "train"]
    version = new_version("transformer")
    log(f"training {version} on {len(train_set)} examples ({Counter(e.source for e in train_set)}) ...")
    model, figures = fit_transformer(train_set, cfg, version, base_model, log, progress)
    train_seconds = time.perf_counter() - started

    evaluation = held_out_evaluation(
        model, examples, "real complaints of the test months (one-liners of "
                         f"{dataset.TEST_MONTHS['summary']}, narratives of {dataset.TEST_MONTHS['narrative']}), "
                         "never trained or pre-trained on; business line and category from the sites' codes, "
                         "severity and flags by the team's annotators")
    root = registry or registry_dir()
    folder = root / version
    artifacts = model.save(folder)
    size = sum((folder / name).stat().st_size for name in artifacts)
    enc = model.network.encoder.config
    what = (f"a {enc.num_hidden_layers}-layer, {enc.hidden_size}-wide "
            + (f"encoder fine-tuned from the local checkpoint {base_model}" if base_model else
               "character BERT pre-trained from scratch (masked-language modelling) on every text of the training "
               "months of both real sources (one-liners of 2020-06..11, narratives of 2024-01..02; long ones in "
               f"pieces of {cfg.max_length - 2} characters) and the written training rows; the test months "
               f"{dataset.TEST_MONTHS['summary']} and {dataset.TEST_MONTHS['narrative']} never seen"))
    development = figures.get("development", {})
    card = {
        "version": version, "backend": "transformer", "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "artifacts": artifacts,
        "model": f"{what}; mean pooling, one linear head per label set (business line, category, severity, six "
                 "binary flag heads) trained with one summed loss (class weights, undone after training by logit "
                 "adjustment), each head only on rows labelled for it, the development rows (one-liners of "
                 "2020-11, half the narratives of 2024-02) left out of "
                 "fine-tuning; on those: temperature scaling (heads), Platt scaling (flags), the window for "
                 f"texts over {cfg.max_length - 2} characters ({model.text_encoder.window}), the decision biases "
                 "per register and the flag thresholds on longer texts; flags but safety and repeat only with "
                 "a cue; severity=major forced by any flag but repeat; evidence: flag cues and the tokens whose "
                 "term of the chosen label's logit is largest",
        "config": dict(cfg.__dict__),
        "parameters": figures["parameters"],
        "size_bytes": size,
        "timings": {k: figures[k] for k in ("pretrain", "finetune")},
        "threads": figures["threads"],
        "development": development,
        "data": {
            "sources": dataset.sources(feedback_sources),
            "examples": dict(Counter(f"{e.source}/{e.split}" for e in examples)),
            "feedback_used": len(feedback),
            "train_rows": figures["train_rows"], "dev_rows": figures["dev_rows"],
            "how_each_head_was_labelled": dataset.HOW_LABELLED,
            "train_label_counts": _label_counts(train_set),
        },
        "training_seconds": round(train_seconds, 1),
        "libraries": {**_versions(), "torch": torch.__version__, "transformers": _transformers_version(),
                      "platform": platform.machine()},
        "evaluation": evaluation,
    }
    write_card(folder, card, make_current=make_current)
    log(f"wrote {folder} ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s")
    return folder


def _transformers_version() -> str:
    import transformers

    return transformers.__version__
