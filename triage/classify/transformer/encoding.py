"""Texts to padded token arrays, with each token's span in the text (for the evidence).

Two kinds: the project's own character vocabulary (`vocab.json`, from-scratch models) or
the tokenizer of a local checkpoint (`tokenizer/`, loaded with local_files_only: nothing
is ever downloaded).

A text longer than the encoder's `max_length` is read in one of three ways (`window`):
"head" (its beginning only), "head_tail" (its first and last characters, the middle cut)
or "chunks" (consecutive windows of equal size, each encoded on its own, their tokens
pooled together by the model). Only the character vocabulary has the last two.

Nothing here imports torch at module import: the ONNX backend serves with numpy arrays.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from triage.classify.transformer.chars import CLS, PAD, SEP, CharTokenizer

VOCAB = "vocab.json"
TOKENIZER_DIR = "tokenizer"
WINDOWS = ("head", "head_tail", "chunks")

Spans = list[tuple[int, int]]


class TextEncoder:
    def __init__(self, tokenizer, max_length: int, window: str = "head") -> None:
        if window not in WINDOWS:
            raise ValueError(f"unknown window {window!r} (known: {', '.join(WINDOWS)})")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.window = window if isinstance(tokenizer, CharTokenizer) else "head"

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

    def windows(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[Spans], np.ndarray]:
        """(input ids, attention mask, per window the [start, end) of each token ((0, 0) for
        specials), and per window the index of its text). One window per text except with
        `window="chunks"`, where a long text has several."""
        if self.kind == "pretrained":
            enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True,
                                 return_offsets_mapping=True, return_tensors="np")
            spans = [[(int(a), int(b)) for a, b in row] for row in enc["offset_mapping"].tolist()]
            return (enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64), spans,
                    np.arange(len(texts)))
        rows: list[tuple[list[int], Spans]] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for ids, spans in self._char_windows(text):
                rows.append((ids, spans))
                owner.append(i)
        width = max(len(ids) for ids, _ in rows)
        ids = np.full((len(rows), width), PAD, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, (row, _) in enumerate(rows):
            ids[r, :len(row)] = row
            mask[r, :len(row)] = 1
        return ids, mask, [s for _, s in rows], np.asarray(owner, dtype=np.int64)

    def _char_windows(self, text: str) -> list[tuple[list[int], Spans]]:
        ids, spans = self.tokenizer.encode_all(text)
        body = self.max_length - 2
        if len(ids) <= body:
            parts = [(0, len(ids))]
        elif self.window == "head":
            parts = [(0, body)]
        elif self.window == "head_tail":
            head = body // 2
            parts = [(0, head), (len(ids) - (body - head), len(ids))]
        else:
            # Equal windows, not full ones and a stub: a stub of a few characters has no context.
            count = math.ceil(len(ids) / body)
            bounds = [k * len(ids) // count for k in range(count + 1)]
            return [([CLS, *ids[a:b], SEP], [(0, 0), *spans[a:b], (0, 0)]) for a, b in zip(bounds, bounds[1:])]
        kept_ids = [t for a, b in parts for t in ids[a:b]]
        kept_spans = [s for a, b in parts for s in spans[a:b]]
        return [([CLS, *kept_ids, SEP], [(0, 0), *kept_spans, (0, 0)])]

    def batch(self, texts: list[str]):
        """For training: (input ids, attention mask, token spans) as torch tensors, one row
        per text (a "chunks" encoder reads a long text's head here)."""
        import torch

        if self.window == "chunks":
            ids, mask, spans, _ = TextEncoder(self.tokenizer, self.max_length, "head").windows(texts)
        else:
            ids, mask, spans, _ = self.windows(texts)
        return torch.from_numpy(ids), torch.from_numpy(mask), spans

    def save(self, folder: Path) -> list[Path]:
        """Write the tokenizer into the model folder; returns the files written."""
        if self.kind == "chars":
            self.tokenizer.save(folder / VOCAB)
            return [folder / VOCAB]
        written = self.tokenizer.save_pretrained(str(folder / TOKENIZER_DIR))
        return sorted({Path(p) for p in written if Path(p).exists()})

    @classmethod
    def load(cls, folder: Path, kind: str, max_length: int, window: str = "head") -> TextEncoder:
        if kind == "chars":
            return cls(CharTokenizer.load(folder / VOCAB), max_length, window)
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(folder / TOKENIZER_DIR), local_files_only=True), max_length)
