"""What every transformer serving model shares, whatever runs its encoder (torch or
onnxruntime): the texts' token states in, mean pooling over the real tokens of all of a
text's windows, one linear layer per label set, calibration, the evidence and the shared
decoding (triage.classify.base). numpy only: no torch here.

Linear heads over a mean make the evidence exact and free: a head's logit is the mean
over tokens of (weights · token state), so each token's term is its share of the chosen
label's score, read off the forward pass with no backward.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from triage.classify.base import Decoder, ServingModel, Span
from triage.classify.cues import find_cues_batch
from triage.classify.labels import HEADS
from triage.classify.prediction import Prediction
from triage.classify.transformer.encoding import TextEncoder
from triage.text.normalize import NormalizedText

BATCH = 64
"""Texts per forward pass; texts are sorted by length first so that a batch pads little."""

Linear = tuple[np.ndarray, np.ndarray]
"""A head's (weights (classes, hidden), bias (classes,))."""


class TokenStateModel(ServingModel):
    def __init__(self, linear: dict[str, Linear], encoder: TextEncoder, config: dict[str, Any]) -> None:
        self.linear = {h: (np.asarray(w, dtype=np.float32), np.asarray(b, dtype=np.float64))
                       for h, (w, b) in linear.items()}
        self.text_encoder = encoder
        self.config = config
        self.version: str = config.get("version", "unversioned")
        self.classes: dict[str, list[str]] = config["heads"]
        self.temperature: dict[str, float] = config.get("temperature", {})
        self.flag_scaling: dict[str, list[float]] = config.get("flag_scaling", {})
        self.evidence_per_head: int = config.get("evidence_per_head", 2)
        self._decoder = Decoder(self.classes, config)

    def token_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(windows, tokens, hidden) float32: the encoder's last hidden states."""
        raise NotImplementedError

    def head_probabilities(self, texts: list[str]) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]],
                                                            list[list[tuple[int, int]]]]:
        """Per head (rows, classes) probabilities; per row each token's term of every class's
        logit ({head: (tokens, classes)}) and each token's span in the text."""
        n = len(texts)
        logits = {h: np.zeros((n, width(c))) for h, c in self.classes.items()}
        terms: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
        spans: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        order = sorted(range(n), key=lambda i: len(texts[i]))
        for start in range(0, n, BATCH):
            rows = order[start:start + BATCH]
            ids, mask, window_spans, owner = self.text_encoder.windows([texts[i] for i in rows])
            states = self.token_states(ids, mask)
            lengths = mask.sum(axis=1)
            # Mean over the real tokens of every window of a text ([CLS] and [SEP] included,
            # as in training).
            total = np.zeros((len(rows),), dtype=np.float64)
            np.add.at(total, owner, lengths)
            share = states * (mask[:, :, None] / total[owner][:, None, None]).astype(np.float32)
            pooled = np.zeros((len(rows), states.shape[2]), dtype=np.float64)
            np.add.at(pooled, owner, share.sum(axis=1, dtype=np.float64))
            for h, (w, b) in self.linear.items():
                logits[h][rows] = pooled @ w.T.astype(np.float64) + b
            per_head = {h: share @ self.linear[h][0].T for h in HEADS}  # (windows, tokens, classes)
            for k, j in enumerate(owner.tolist()):
                i = rows[j]
                spans[i] = spans[i] + window_spans[k][:lengths[k]]
                for h in HEADS:
                    t = per_head[h][k, :lengths[k]]
                    terms[i][h] = np.concatenate([terms[i][h], t]) if h in terms[i] else t
        return {h: self._probabilities(h, lg) for h, lg in logits.items()}, terms, spans

    def _probabilities(self, head: str, logits: np.ndarray) -> np.ndarray:
        if logits.shape[1] == 1:  # a flag: Platt scaling fitted on the dev rows
            a, b = self.flag_scaling.get(head, (1.0, 0.0))
            p = 1.0 / (1.0 + np.exp(-(logits * a + b)))
            return np.concatenate([1.0 - p, p], axis=1)
        z = logits / self.temperature.get(head, 1.0)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def spans(self, texts: list[str], terms: list[dict[str, np.ndarray]], token_spans: list[list[tuple[int, int]]],
              chosen: dict[str, np.ndarray]) -> dict[str, list[list[Span]]]:
        """Per head and row, the tokens whose terms speak most for the chosen label over the
        others (its term minus the mean term of all classes); weight = that difference."""
        out: dict[str, list[list[Span]]] = {h: [] for h in HEADS}
        for r, text in enumerate(texts):
            # Letters, digits and CJK only: punctuation and specials carry position, not meaning.
            real = np.array([b > a and text[a:b].isalnum() for a, b in token_spans[r]])
            for h in HEADS:
                t = terms[r][h]
                score = t[:, chosen[h][r]] - t.mean(axis=1)
                score = np.where(real, score, -np.inf)
                found = []
                for k in np.argsort(-score)[:self.evidence_per_head].tolist():
                    if score[k] <= 0:
                        break
                    a, b = token_spans[r][k]
                    # The feature names no characters: the evidence text shows them, masked where personal.
                    found.append(Span(a, b, "token", round(float(score[k]), 4)))
                out[h].append(found)
        return out

    def _predict_normalized(self, items: list[tuple[str, NormalizedText]]) -> list[Prediction]:
        texts = [nt.text for _, nt in items]
        cues = find_cues_batch(texts)
        probs, terms, token_spans = self.head_probabilities(texts)
        return self._decoder.decode(items, probs, cues, lambda chosen: self.spans(texts, terms, token_spans, chosen))


def width(classes: list[str]) -> int:
    """Binary heads (the flags) have one logit; the others one per class."""
    return 1 if classes == ["0", "1"] else len(classes)
