"""The transformer serving model (torch): same interface and output as triage.classify.sklearn.SklearnModel.

A model folder holds `model.safetensors` (the weights: tensors only, loading runs no code),
`model.json` (encoder configuration, head classes, calibration temperatures and the
post-processing settings) and the tokenizer (`vocab.json`, or `tokenizer/` for a model
fine-tuned from a local checkpoint). Every file's SHA-256 must match the model card.
The pooling, heads, evidence and decoding are numpy (heads.py), shared with the ONNX backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from triage.classify.registry import CONFIG, ModelError, card_artifacts, sha256, verify_files
from triage.classify.transformer import cpu_threads
from triage.classify.transformer.encoding import TOKENIZER_DIR, TextEncoder
from triage.classify.transformer.heads import BATCH, TokenStateModel, width
from triage.classify.transformer.network import MultiHeadClassifier, _key

WEIGHTS = "model.safetensors"
__all__ = ["BATCH", "WEIGHTS", "TransformerModel", "build_encoder"]


def build_encoder(config: dict[str, Any]) -> torch.nn.Module:
    """An encoder with random weights from its saved configuration (no download, no files)."""
    from transformers import AutoConfig, AutoModel

    config = dict(config)
    cfg = AutoConfig.for_model(config.pop("model_type"), **config)
    return AutoModel.from_config(cfg)


class TransformerModel(TokenStateModel):
    def __init__(self, network: MultiHeadClassifier, encoder: TextEncoder, config: dict[str, Any]) -> None:
        self.network = network.eval()
        linear = {name: (network.heads[_key(name)].weight.detach().numpy().copy(),
                         network.heads[_key(name)].bias.detach().numpy().copy()) for name in network.names}
        super().__init__(linear, encoder, config)

    def token_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.network.token_states(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

    # ---- persistence -------------------------------------------------------------------
    def save(self, folder: Path) -> dict[str, str]:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
        save_file(state, str(folder / WEIGHTS))
        files = [folder / WEIGHTS, *self.text_encoder.save(folder)]
        config = {**self.config, "tokenizer": self.text_encoder.kind, "max_length": self.text_encoder.max_length,
                  "window": self.text_encoder.window, "encoder": _plain_config(self.network.encoder.config)}
        (folder / CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
        files.append(folder / CONFIG)
        return {p.relative_to(folder).as_posix(): sha256(p) for p in files}

    @classmethod
    def load(cls, folder: Path, expected: dict[str, str] | None = None) -> TransformerModel:
        """Load a model folder; every file it reads must match the card's SHA-256."""
        from safetensors.torch import load_file

        torch.set_num_threads(cpu_threads())
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
        text_encoder = TextEncoder.load(folder, config["tokenizer"], config["max_length"], config.get("window", "head"))
        network = MultiHeadClassifier(build_encoder(config["encoder"]),
                                      {h: width(c) for h, c in config["heads"].items()})
        state = load_file(str(folder / WEIGHTS))
        missing, unexpected = network.load_state_dict(state, strict=False)
        # A BERT built from its configuration has a pooler the classifier never uses.
        missing = [k for k in missing if not k.startswith("encoder.pooler.")]
        if missing or unexpected:
            raise ModelError(f"{folder}: weights do not fit the configuration "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        return cls(network, text_encoder, config)


def _width(classes: list[str]) -> int:
    return width(classes)


def _plain_config(config) -> dict[str, Any]:
    """The encoder configuration as JSON-safe values, enough to rebuild it."""
    d = config.to_dict()
    keep = {k: v for k, v in d.items() if isinstance(v, (int, float, str, bool, type(None), list, dict))}
    for k in ("_name_or_path", "transformers_version", "architectures", "torch_dtype", "dtype"):
        keep.pop(k, None)
    return keep
