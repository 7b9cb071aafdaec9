"""The settings of a transformer training run; `tiny()` is the configuration the tests use."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from triage.classify.labels import FLAGS


@dataclass
class TransformerConfig:
    # Encoder (from scratch). 192 wide, 3 layers: ~2.5k tokens/s of MLM training on one
    # thread of a shared machine.
    hidden: int = 192
    layers: int = 3
    attention_heads: int = 3
    intermediate: int = 768
    max_length: int = 256
    """Tokens with [CLS] and [SEP]: every one-liner, 87 % of the real narratives, 85 % of the
    written transcripts and letters; a longer text is read by `window`."""
    window: str = "head"
    """How a text longer than `max_length` is read in training: "head", "head_tail" or
    "chunks" (triage.classify.transformer.encoding). The served model's window is chosen
    among the three on the development rows (`windows_tried`)."""
    windows_tried: tuple[str, ...] = ("head", "head_tail", "chunks")
    min_char_count: int = 2
    dropout: float = 0.1

    pretrain_epochs: int = 6
    """6 + 6 epochs over the issue-12 data (23k texts of the training months, 0.66 M
    characters an epoch) take about 40 minutes on one CPU thread of the shared machine."""
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
    """Without development rows of real data (tests, a written-only set): train-split rows
    kept out of fine-tuning by id hash, to fit the temperatures."""
    threads: int | None = None
    """torch's CPU threads; None: $TRIAGE_TORCH_THREADS, else min(2, cores)."""
    class_weight_power: float = 0.5
    """Class weights (n / (k * n_class)) ** power: 1 is scikit-learn's "balanced", 0 none;
    the square root lifts small classes without swamping a 50-to-1 head."""
    undo_class_weights: bool = True
    """Subtract log(class weight) from each head's bias after fine-tuning (finetune.undo_class_weights)."""
    rare_share: dict[str, float] = field(default_factory=lambda: {"business_line": 1.0, "category": 0.5,
                                                                  "severity": 1.0})
    low_confidence: dict[str, float] = field(default_factory=lambda: {
        "business_line": 0.7, "category": 0.6, "severity": 0.6, "flags": 0.15})
    flag_thresholds: dict[str, float] = field(default_factory=lambda: {**{f: 0.5 for f in FLAGS}, "safety": 0.3})
    flag_thresholds_long: dict[str, float] = field(default_factory=dict)
    flags_need_cue: tuple[str, ...] = ("media", "legal", "government", "extreme")
    """As in the scikit-learn model: a flag with no cue of its own in the text is not raised."""
    decision_bias: dict[str, dict[str, float]] = field(default_factory=dict)
    decision_bias_long: dict[str, dict[str, float]] = field(default_factory=dict)
    """Both chosen on the development rows after fine-tuning (training.experiments' grid and
    rule), unless `tune_on_dev` is off; then these values are used as given."""
    tune_on_dev: bool = True
    decision_bias_max_chars: int = 40
    evidence_per_head: int = 2
    seed: int = 13


def tiny() -> TransformerConfig:
    """Seconds, not minutes: for tests and a smoke run of the whole path."""
    return replace(TransformerConfig(), hidden=32, layers=1, attention_heads=2, intermediate=64, max_length=64,
                   pretrain_epochs=1, finetune_epochs=1, max_steps=8, batch_tokens=1024, dev_percent=20)

