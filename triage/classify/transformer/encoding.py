"""Texts to padded token tensors, with each token's span in the text (for the evidence).

Two kinds: the project's own character vocabulary (`vocab.json`, from-scratch models) or
the tokenizer of a local checkpoint (`tokenizer/`, loaded with local_files_only: nothing
is ever downloaded).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from triage.classify.transformer.chars import PAD, CharTokenizer

VOCAB = "vocab.json"
TOKENIZER_DIR = "tokenizer"


class TextEncoder:
    def __init__(self, tokenizer, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length

    @property
    def kind(self) -> str:
        return "chars" if isinstance(self.tokenizer, CharTokenizer) else "pretrained"

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def pad_id(self) -> int:
        return PAD if self.kind == "chars" else self.tokenizer.pad_token_id

    @property
    def mask_id(self) -> int:
        from triage.classify.transformer.chars import MASK

        return MASK if self.kind == "chars" else self.tokenizer.mask_token_id

    def batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, list[list[tuple[int, int]]]]:
        """(input ids, attention mask, per row the [start, end) of each token; (0, 0) for specials)."""
        if self.kind == "pretrained":
            enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True,
                                 return_offsets_mapping=True, return_tensors="pt")
            spans = [[(int(a), int(b)) for a, b in row] for row in enc["offset_mapping"].tolist()]
            return enc["input_ids"], enc["attention_mask"], spans
        encoded = [self.tokenizer.encode(t, self.max_length) for t in texts]
        width = max(len(ids) for ids, _ in encoded)
        ids = torch.full((len(texts), width), PAD, dtype=torch.long)
        mask = torch.zeros((len(texts), width), dtype=torch.long)
        for r, (row, _) in enumerate(encoded):
            ids[r, :len(row)] = torch.tensor(row)
            mask[r, :len(row)] = 1
        return ids, mask, [s for _, s in encoded]

    def save(self, folder: Path) -> list[Path]:
        """Write the tokenizer into the model folder; returns the files written."""
        if self.kind == "chars":
            self.tokenizer.save(folder / VOCAB)
            return [folder / VOCAB]
        written = self.tokenizer.save_pretrained(str(folder / TOKENIZER_DIR))
        return sorted({Path(p) for p in written if Path(p).exists()})

    @classmethod
    def load(cls, folder: Path, kind: str, max_length: int) -> TextEncoder:
        if kind == "chars":
            return cls(CharTokenizer.load(folder / VOCAB), max_length)
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(folder / TOKENIZER_DIR), local_files_only=True), max_length)
