"""`triage train --backend transformer`: a character BERT pre-trained here (or a local
checkpoint, `--base-model PATH`), fine-tuned with one head per label set, calibrated on
dev rows of the train split, evaluated on the held-out rows with the same `score()` as
the scikit-learn model, and written to the registry with the same card."""

from __future__ import annotations

import hashlib
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from training import dataset
from training.dataset import Example
from training.train import _versions, held_out_evaluation, new_version
from training.transformer.config import TransformerConfig
from training.transformer.finetune import HEAD_CLASSES, finetune, fit_flag_scaling, fit_temperatures
from training.transformer.pretrain import pretrain
from triage.classify.labels import FLAGS, HEADS
from triage.classify.registry import registry_dir, write_card
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


def fit_transformer(examples: Sequence[Example], cfg: TransformerConfig, version: str,
                    base_model: Path | None = None, log=print, progress: bool = True
                    ) -> tuple[TransformerModel, dict[str, Any]]:
    """Train on `examples` (all of the train split); returns the model and the run's figures."""
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    examples = [Example(e.id, normalize(e.text).text, e.source, e.split, e.register, e.date, e.gold, e.flags)
                for e in examples]
    dev = [e for e in examples if _is_dev(e.id, cfg.dev_percent)]
    train = [e for e in examples if not _is_dev(e.id, cfg.dev_percent)]
    figures: dict[str, Any] = {"train_rows": len(train), "dev_rows": len(dev)}
    if base_model is None:
        encoder = TextEncoder(CharTokenizer.build((e.text for e in examples), cfg.min_char_count), cfg.max_length)
        # The MLM corpus: every train-split text (labels unused), never a held-out row.
        bert, figures["pretrain"] = pretrain([e.text for e in examples], encoder, cfg, log, progress)
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
    temperature = fit_temperatures(network, encoder, dev, cfg)
    flag_scaling = fit_flag_scaling(network, encoder, dev)
    figures["parameters"] = sum(p.numel() for p in network.parameters())
    config = {"version": version, "backend": "transformer", "heads": HEAD_CLASSES,
              "temperature": temperature, "flag_scaling": flag_scaling,
              "low_confidence": cfg.low_confidence, "flag_thresholds": cfg.flag_thresholds,
              "decision_bias": cfg.decision_bias, "decision_bias_max_chars": cfg.decision_bias_max_chars,
              "evidence_per_head": cfg.evidence_per_head, "base_model": str(base_model) if base_model else None}
    return TransformerModel(network, encoder, config), figures


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
        model, examples, f"real complaints of {dataset.TEST_MONTH}, never trained or pre-trained on; business line "
                         "and category from the site's codes, severity and flags by the team's annotator")
    root = registry or registry_dir()
    folder = root / version
    artifacts = model.save(folder)
    size = sum((folder / name).stat().st_size for name in artifacts)
    enc = model.network.encoder.config
    what = (f"a {enc.num_hidden_layers}-layer, {enc.hidden_size}-wide "
            + (f"encoder fine-tuned from the local checkpoint {base_model}" if base_model else
               "character BERT pre-trained from scratch (masked-language modelling) on the train split's texts"))
    card = {
        "version": version, "backend": "transformer", "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "artifacts": artifacts,
        "model": f"{what}; mean pooling, one linear head per label set (business line, category, severity, six "
                 "binary flag heads) trained with one summed loss, each head only on rows labelled for it; "
                 "temperature scaling (heads) and Platt scaling (flags) fitted on "
                 f"{cfg.dev_percent}% dev rows of the train split; severity=major forced by any flag but repeat; "
                 "evidence: flag cues and the tokens whose term of the chosen label's logit is largest",
        "config": dict(cfg.__dict__),
        "parameters": figures["parameters"],
        "size_bytes": size,
        "timings": {k: figures[k] for k in ("pretrain", "finetune")},
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
