"""The transformer served without torch: the encoder exported to ONNX and run by
onnxruntime, the heads as numpy arrays; pooling, calibration, evidence and decoding are
the torch backend's own (heads.py), so both give the same predictions.

A folder (card backend "onnx") holds `model.onnx` (the encoder: input ids and attention
mask in, last hidden states out; batch and length dynamic), `heads.npz` (each head's
weights and bias; loaded without pickle), `vocab.json` and `model.json`. Every file's
SHA-256 must match the model card. Written by `python -m training.transformer.onnx_export`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from triage.classify.registry import CONFIG, ModelError, card_artifacts, verify_files
from triage.classify.transformer import cpu_threads
from triage.classify.transformer.encoding import VOCAB, TextEncoder
from triage.classify.transformer.heads import Linear, TokenStateModel

GRAPH = "model.onnx"
HEADS_FILE = "heads.npz"
FILES = (GRAPH, HEADS_FILE, VOCAB, CONFIG)
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "states"
INSTALL_HINT = "pip install onnxruntime==1.31.1"


class OnnxTransformerModel(TokenStateModel):
    def __init__(self, session: Any, linear: dict[str, Linear], encoder: TextEncoder, config: dict[str, Any]) -> None:
        self.session = session
        super().__init__(linear, encoder, config)

    def token_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT], {INPUTS[0]: ids, INPUTS[1]: mask})[0]

    @classmethod
    def load(cls, folder: Path, expected: dict[str, str] | None = None) -> OnnxTransformerModel:
        """Load a model folder; every file it reads must match the card's SHA-256."""
        try:
            import onnxruntime
        except ImportError as exc:
            raise ModelError(f"this model needs onnxruntime, which is not installed ({exc}); "
                             f"install it with: {INSTALL_HINT}") from exc
        folder = Path(folder)
        verify_files(folder, FILES, card_artifacts(folder) if expected is None else expected)
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        if config.get("tokenizer") != "chars":
            raise ModelError(f"{folder}: only the character vocabulary is served by onnxruntime")
        with np.load(folder / HEADS_FILE, allow_pickle=False) as arrays:
            linear = {h: (arrays[f"{h}.weight"], arrays[f"{h}.bias"]) for h in config["heads"]}
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = cpu_threads()
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(folder / GRAPH), options, providers=["CPUExecutionProvider"])
        encoder = TextEncoder.load(folder, "chars", config["max_length"], config.get("window", "head"))
        return cls(session, linear, encoder, config)
