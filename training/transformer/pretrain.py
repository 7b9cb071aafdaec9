"""Masked-language-model pre-training of a small character BERT from scratch, on the
texts of the train split only (never the held-out month or the held-out written rows)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch.nn import functional as F
from transformers import BertConfig, BertForMaskedLM, BertModel

from training.transformer.batches import length_batches
from training.transformer.config import TransformerConfig
from training.transformer.steps import Steps
from triage.classify.transformer.chars import PAD
from triage.classify.transformer.encoding import TextEncoder


def bert_config(cfg: TransformerConfig, vocab_size: int) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
                      num_attention_heads=cfg.attention_heads, intermediate_size=cfg.intermediate,
                      max_position_embeddings=cfg.max_length, type_vocab_size=1, pad_token_id=PAD,
                      hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.dropout)


def mask_tokens(ids: torch.Tensor, attention: torch.Tensor, encoder: TextEncoder, probability: float,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's recipe: of the chosen positions, 80 % [MASK], 10 % a random token, 10 % kept."""
    special = (ids == encoder.pad_id) | (attention == 0)
    special[:, 0] = True  # [CLS]
    special |= torch.zeros_like(special).scatter_(1, attention.sum(dim=1, keepdim=True) - 1, True)  # [SEP]
    chosen = (torch.rand(ids.shape, generator=generator) < probability) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = encoder.mask_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = torch.randint(5, encoder.vocab_size, ids.shape, generator=generator)[swap]
    return inputs, labels


def pretrain(texts: Sequence[str], encoder: TextEncoder, cfg: TransformerConfig, log=print,
             progress: bool = True) -> tuple[BertModel, dict[str, float]]:
    """A BERT encoder pre-trained with MLM on `texts`; and the run's figures."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    model = BertForMaskedLM(bert_config(cfg, encoder.vocab_size))
    lengths = [min(len(t) + 2, cfg.max_length) for t in texts]
    per_epoch = len(length_batches(lengths, cfg.batch_tokens, cfg.max_batch_rows, rng))
    total = per_epoch * cfg.pretrain_epochs if cfg.max_steps is None else min(cfg.max_steps,
                                                                               per_epoch * cfg.pretrain_epochs)
    log(f"pre-training (MLM) a {cfg.layers}-layer, {cfg.hidden}-wide BERT on {len(texts)} train-split texts, "
        f"{encoder.vocab_size} characters, {total} steps")
    model.train()
    steps = Steps(model, total, cfg.pretrain_lr, cfg, "pre-train (MLM)", progress)
    while not steps.finished:
        for batch in length_batches(lengths, cfg.batch_tokens, cfg.max_batch_rows, rng):
            if steps.finished:
                break
            ids, attention, _ = encoder.batch([texts[i] for i in batch])
            inputs, labels = mask_tokens(ids, attention, encoder, cfg.mlm_probability, generator)
            if not (labels != -100).any():
                continue
            # The vocabulary projection on the masked positions only: on all of them it was a
            # third of the step's arithmetic for nothing (the loss ignores the others).
            states = model.bert(input_ids=inputs, attention_mask=attention).last_hidden_state
            chosen = labels != -100
            steps.take(F.cross_entropy(model.cls(states[chosen]), labels[chosen]))
    figures = steps.close()
    log(f"pre-training: {figures['steps']} steps in {figures['seconds']:.0f}s, "
        f"MLM loss (last 50 steps) {figures['loss_last_50_steps']:.3f}")
    return model.bert, {"steps": figures["steps"], "seconds": figures["seconds"],
                        "mlm_loss_last_50_steps": figures["loss_last_50_steps"]}
