"""A trained transformer (torch) exported for serving without torch: the encoder to ONNX,
the heads to numpy, checked against torch, evaluated and written to the registry.

    python -m training.transformer.onnx_export --model transformer-<version> [--current]

The new folder (card backend "onnx") is loaded by triage.classify.transformer.onnx_backend
with onnxruntime alone. The export refuses to write a folder whose probabilities differ
from torch's by more than `TOLERANCE` on the parity texts.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training import dataset
from training.train import held_out_evaluation, new_version
from triage.classify.registry import CARD, CONFIG, load_from, registry_dir, sha256, write_card
from triage.classify.transformer.backend import TransformerModel
from triage.classify.transformer.onnx_backend import GRAPH, HEADS_FILE, INPUTS, OUTPUT, OnnxTransformerModel

OPSET = 18
"""The torch.export-based exporter's lowest; onnxruntime 1.31 runs up to 23."""
TOLERANCE = 1e-4


class _Encoder(torch.nn.Module):
    """The encoder alone: ids and mask in, last hidden states out (the heads stay numpy)."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def export(model: TransformerModel, folder: Path, config: dict[str, Any] | None = None) -> dict[str, str]:
    """Write the ONNX serving files of `model` into `folder`; returns their SHA-256 by name."""
    if model.text_encoder.kind != "chars":
        raise ValueError("only a model with the character vocabulary can be exported (its tokenizer is ours)")
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = _Encoder(model.network.encoder).eval()
    # Example shapes above 1, so that neither axis is specialised to a constant.
    ids, mask, _, _ = model.text_encoder.windows(["刹车失灵", "发动机异响，4S店多次维修没有修好"])
    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens", max=model.text_encoder.max_length)
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(wrapper, (torch.from_numpy(ids), torch.from_numpy(mask)), str(folder / GRAPH),
                          input_names=list(INPUTS), output_names=[OUTPUT], opset_version=OPSET, dynamo=True,
                          dynamic_shapes=({0: batch, 1: tokens}, {0: batch, 1: tokens}), external_data=False,
                          verbose=False)
    model.network.eval()  # the exporter may leave the modules in another mode
    np.savez(folder / HEADS_FILE, **{f"{h}.{part}": array for h, (w, b) in model.linear.items()
                                     for part, array in (("weight", w), ("bias", b))})
    files = [folder / GRAPH, folder / HEADS_FILE, *model.text_encoder.save(folder)]
    config = {**(config or model.config), "backend": "onnx", "tokenizer": "chars",
              "max_length": model.text_encoder.max_length, "window": model.text_encoder.window}
    (folder / CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
    files.append(folder / CONFIG)
    return {p.relative_to(folder).as_posix(): sha256(p) for p in files}


def largest_difference(a: TransformerModel | OnnxTransformerModel, b: TransformerModel | OnnxTransformerModel,
                       texts: Sequence[str]) -> float:
    """The largest absolute difference between the two models' probabilities on `texts`."""
    pa, _, _ = a.head_probabilities(list(texts))
    pb, _, _ = b.head_probabilities(list(texts))
    return max(float(np.abs(pa[h] - pb[h]).max()) for h in pa)


def parity_texts(examples: Sequence[dataset.Example], per_register: int = 200) -> list[str]:
    """One-liners and narratives (the long ones too), for the parity check."""
    out: list[str] = []
    for register in ("summary", "narrative"):
        rows = sorted((e for e in examples if e.register == register), key=lambda e: e.id)
        out += [e.text for e in rows[:: max(1, len(rows) // per_register)][:per_register]]
    return out


def export_to_registry(name: str, registry: Path | None = None, make_current: bool = False, log=print) -> Path:
    """Export the registry's transformer `name` to a new ONNX folder beside it, with a card
    whose evaluation is the ONNX model's own; refused if it differs from torch."""
    started = time.perf_counter()
    root = registry or registry_dir()
    source = load_from(root, name)
    if not isinstance(source, TransformerModel):
        raise ValueError(f"{name} is not a transformer (torch) model")
    version = new_version("onnx")
    folder = root / version
    artifacts = export(source, folder, {**source.config, "version": version, "source_model": name})
    (folder / CARD).write_text(json.dumps({"version": version, "backend": "onnx", "artifacts": artifacts}),
                               encoding="utf-8")
    served = OnnxTransformerModel.load(folder)
    examples = dataset.build()
    texts = parity_texts(examples)
    difference = largest_difference(source, served, texts)
    log(f"largest probability difference from torch: {difference:.2e}")
    if difference > TOLERANCE:
        raise ValueError(f"the ONNX model differs from torch by {difference:.2e} (> {TOLERANCE}); not written")
    evaluation = held_out_evaluation(
        served, examples, "real complaints of the test months (one-liners of "
                          f"{dataset.TEST_MONTHS['summary']}, narratives of {dataset.TEST_MONTHS['narrative']}), "
                          "never trained or pre-trained on")
    source_card = json.loads((root / name / CARD).read_text(encoding="utf-8"))
    import onnxruntime

    card = {**{k: v for k, v in source_card.items() if k not in ("version", "backend", "artifacts", "evaluation")},
            "version": version, "backend": "onnx", "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "artifacts": artifacts, "source_model": name,
            "model": f"{name} exported to ONNX (opset {OPSET}, encoder only; heads as numpy), served by "
                     f"onnxruntime without torch: {source_card['model']}",
            "parity": {"largest_probability_difference": difference, "tolerance": TOLERANCE, "texts": len(texts),
                       "longest_text": max(len(t) for t in texts)},
            "size_bytes": sum((folder / n).stat().st_size for n in artifacts),
            "libraries": {**source_card.get("libraries", {}), "onnxruntime": onnxruntime.__version__},
            "evaluation": evaluation}
    write_card(folder, card, make_current=make_current)
    log(f"wrote {folder} in {time.perf_counter() - started:.1f}s")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a transformer folder of the registry")
    ap.add_argument("--current", action="store_true", help="make the exported model the served one")
    args = ap.parse_args()
    print(export_to_registry(args.model, make_current=args.current))


if __name__ == "__main__":
    main()
