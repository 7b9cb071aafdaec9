"""A character tokenizer for the from-scratch model: one token per character of the
normalised text, so token i is character i and evidence maps back without offsets.

The vocabulary is the characters seen at least `min_count` times in the training texts,
saved as JSON (no code, nothing to unpickle).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD, UNK, CLS, SEP, MASK = range(len(SPECIAL))


class CharTokenizer:
    def __init__(self, chars: Sequence[str]) -> None:
        self.tokens: list[str] = [*SPECIAL, *chars]
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 2) -> CharTokenizer:
        counts = Counter(c for t in texts for c in t if not c.isspace())
        return cls(sorted(c for c, n in counts.items() if n >= min_count))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode_all(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids of every non-space character (no specials) and each one's [start, end)."""
        ids, spans = [], []
        for i, c in enumerate(text):
            if not c.isspace():
                ids.append(self.index.get(c, UNK))
                spans.append((i, i + 1))
        return ids, spans

    def encode(self, text: str, max_length: int) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids with [CLS] and [SEP], and for each token its [start, end) in `text`
        ((0, 0) for the special tokens). Whitespace is skipped; longer texts are cut."""
        ids, spans = self.encode_all(text)
        ids, spans = ids[:max_length - 2], spans[:max_length - 2]
        return [CLS, *ids, SEP], [(0, 0), *spans, (0, 0)]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"kind": "chars", "tokens": self.tokens}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CharTokenizer:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("kind") != "chars" or data["tokens"][:len(SPECIAL)] != SPECIAL:
            raise ValueError(f"{path}: not a character vocabulary")
        return cls(data["tokens"][len(SPECIAL):])
