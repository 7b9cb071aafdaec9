"""The settings of a transformer training run; `tiny()` is the configuration the tests use."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from triage.classify.labels import FLAGS


@dataclass
class TransformerConfig:
    # Encoder (from scratch). 192 wide, 3 layers: ~7k tokens/s of MLM training on 2 cores,
    # so pre-training plus fine-tuning fits in minutes (measured in the README).
    hidden: int = 192
    layers: int = 3
    attention_heads: int = 3
    intermediate: int = 768
    max_length: int = 256
    """Tokens with [CLS] and [SEP]: every real row, 95 % of the written transcripts and letters."""
    min_char_count: int = 2
    dropout: float = 0.1

    pretrain_epochs: int = 6
    pretrain_lr: float = 1e-3
    mlm_probability: float = 0.15
    finetune_epochs: int = 6
    finetune_lr: float = 3e-4
    base_model_lr: float = 3e-5
    """Learning rate when fine-tuning a local checkpoint (`--base-model`)."""
    batch_tokens: int = 4096
    """Batches are texts of similar length up to this many tokens (padding included)."""
    max_batch_rows: int = 64
    max_steps: int | None = None
    """Cap on optimizer steps per phase (tests)."""
    warmup_share: float = 0.06
    weight_decay: float = 0.01

    dev_percent: int = 10
    """Train-split rows kept out of fine-tuning (by id hash) to fit the temperatures."""
    class_weight_power: float = 0.5
    """Class weights (n / (k * n_class)) ** power: 1 is scikit-learn's "balanced", 0 none;
    the square root lifts small classes without swamping a 50-to-1 head."""
    rare_share: dict[str, float] = field(default_factory=lambda: {"business_line": 1.0, "category": 0.5,
                                                                  "severity": 1.0})
    low_confidence: dict[str, float] = field(default_factory=lambda: {
        "business_line": 0.7, "category": 0.6, "severity": 0.6, "flags": 0.15})
    flag_thresholds: dict[str, float] = field(default_factory=lambda: {**{f: 0.5 for f in FLAGS}, "safety": 0.3})
    decision_bias: dict[str, dict[str, float]] = field(default_factory=dict)
    """None by default: the class weights do that work here (the sklearn biases were tuned for
    that model's probabilities)."""
    decision_bias_max_chars: int = 60
    evidence_per_head: int = 2
    seed: int = 13


def tiny() -> TransformerConfig:
    """Seconds, not minutes: for tests and a smoke run of the whole path."""
    return replace(TransformerConfig(), hidden=32, layers=1, attention_heads=2, intermediate=64, max_length=64,
                   pretrain_epochs=1, finetune_epochs=1, max_steps=8, batch_tokens=1024, dev_percent=20)
