"""The transformer serving model: same interface and output as triage.classify.sklearn.SklearnModel.

A model folder holds `model.safetensors` (the weights: tensors only, loading runs no code),
`model.json` (encoder configuration, head classes, calibration temperatures and the
post-processing settings) and the tokenizer (`vocab.json`, or `tokenizer/` for a model
fine-tuned from a local checkpoint). Every file's SHA-256 must match the model card.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from triage.classify.base import Decoder, ServingModel, Span
from triage.classify.cues import find_cues
from triage.classify.labels import HEADS
from triage.classify.prediction import Prediction
from triage.classify.registry import CONFIG, ModelError, card_artifacts, sha256, verify_files
from triage.classify.transformer.encoding import TOKENIZER_DIR, TextEncoder
from triage.classify.transformer.network import MultiHeadClassifier
from triage.text.normalize import NormalizedText

WEIGHTS = "model.safetensors"
BATCH = 64
"""Rows per forward pass; rows are sorted by length first so that a batch pads little."""


def build_encoder(config: dict[str, Any]) -> torch.nn.Module:
    """An encoder with random weights from its saved configuration (no download, no files)."""
    from transformers import AutoConfig, AutoModel

    config = dict(config)
    cfg = AutoConfig.for_model(config.pop("model_type"), **config)
    return AutoModel.from_config(cfg)


class TransformerModel(ServingModel):
    def __init__(self, network: MultiHeadClassifier, encoder: TextEncoder, config: dict[str, Any]) -> None:
        self.network = network.eval()
        self.text_encoder = encoder
        self.config = config
        self.version: str = config.get("version", "unversioned")
        self.classes: dict[str, list[str]] = config["heads"]
        self.temperature: dict[str, float] = config.get("temperature", {})
        self.flag_scaling: dict[str, list[float]] = config.get("flag_scaling", {})
        self.evidence_per_head: int = config.get("evidence_per_head", 2)
        self._decoder = Decoder(self.classes, config)

    # ---- persistence -------------------------------------------------------------------
    def save(self, folder: Path) -> dict[str, str]:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
        save_file(state, str(folder / WEIGHTS))
        files = [folder / WEIGHTS, *self.text_encoder.save(folder)]
        config = {**self.config, "tokenizer": self.text_encoder.kind, "max_length": self.text_encoder.max_length,
                  "encoder": _plain_config(self.network.encoder.config)}
        (folder / CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
        files.append(folder / CONFIG)
        return {p.relative_to(folder).as_posix(): sha256(p) for p in files}

    @classmethod
    def load(cls, folder: Path, expected: dict[str, str] | None = None) -> TransformerModel:
        """Load a model folder; every file it reads must match the card's SHA-256."""
        from safetensors.torch import load_file

        folder = Path(folder)
        if expected is None:
            expected = card_artifacts(folder)
        needed = {WEIGHTS, CONFIG} | set(expected)
        tokenizer_dir = folder / TOKENIZER_DIR
        if tokenizer_dir.exists():
            # Every file the tokenizer could read must be one the card vouches for.
            needed |= {p.relative_to(folder).as_posix() for p in tokenizer_dir.rglob("*") if p.is_file()}
        verify_files(folder, needed, expected)
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        if config["tokenizer"] == "chars" and "vocab.json" not in expected:
            raise ModelError(f"{folder}: the card does not vouch for vocab.json")
        text_encoder = TextEncoder.load(folder, config["tokenizer"], config["max_length"])
        network = MultiHeadClassifier(build_encoder(config["encoder"]),
                                      {h: _width(c) for h, c in config["heads"].items()})
        state = load_file(str(folder / WEIGHTS))
        missing, unexpected = network.load_state_dict(state, strict=False)
        # A BERT built from its configuration has a pooler the classifier never uses.
        missing = [k for k in missing if not k.startswith("encoder.pooler.")]
        if missing or unexpected:
            raise ModelError(f"{folder}: weights do not fit the configuration "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        return cls(network, text_encoder, config)

    # ---- prediction --------------------------------------------------------------------
    def head_probabilities(self, texts: list[str]) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]],
                                                            list[list[tuple[int, int]]]]:
        """Per head (rows, classes) probabilities; per row each token's term of every class's
        logit ({head: (tokens, classes)}) and each token's span in the text."""
        n = len(texts)
        probs = {h: np.zeros((n, len(c))) for h, c in self.classes.items()}
        terms: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
        spans: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        order = sorted(range(n), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, n, BATCH):
                rows = order[start:start + BATCH]
                ids, mask, row_spans = self.text_encoder.batch([texts[i] for i in rows])
                logits, contributions = self.network.logits_and_contributions(ids, mask)
                for h, lg in logits.items():
                    p = self._probabilities(h, lg).numpy()
                    probs[h][rows] = p
                lengths = mask.sum(dim=1).tolist()
                for j, i in enumerate(rows):
                    spans[i] = row_spans[j][:lengths[j]]
                    terms[i] = {h: contributions[h][j, :lengths[j]].numpy() for h in HEADS}
        return probs, terms, spans

    def _probabilities(self, head: str, logits: torch.Tensor) -> torch.Tensor:
        if logits.shape[1] == 1:  # a flag: Platt scaling fitted on the dev rows
            a, b = self.flag_scaling.get(head, (1.0, 0.0))
            p = torch.sigmoid(logits.double() * a + b)
            return torch.cat([1.0 - p, p], dim=1)
        return torch.softmax(logits.double() / self.temperature.get(head, 1.0), dim=1)

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
        cues = [find_cues(t) for t in texts]
        probs, terms, token_spans = self.head_probabilities(texts)
        return self._decoder.decode(items, probs, cues, lambda chosen: self.spans(texts, terms, token_spans, chosen))


def _width(classes: list[str]) -> int:
    """Binary heads (the flags) have one logit; the others one per class."""
    return 1 if classes == ["0", "1"] else len(classes)


def _plain_config(config) -> dict[str, Any]:
    """The encoder configuration as JSON-safe values, enough to rebuild it."""
    d = config.to_dict()
    keep = {k: v for k, v in d.items() if isinstance(v, (int, float, str, bool, type(None), list, dict))}
    for k in ("_name_or_path", "transformers_version", "architectures", "torch_dtype", "dtype"):
        keep.pop(k, None)
    return keep
