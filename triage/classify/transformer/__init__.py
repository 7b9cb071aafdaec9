"""The transformer backend: a BERT-style encoder with one classification head per label set.

Nothing here imports torch at package import: `registry.load` reaches torch only when a
model's card names this backend, so the default install (no torch) keeps working.
Install the extra for it: `pip install -e '.[transformer]'`. A model exported to ONNX
(backend "onnx", onnx_backend.py) is served by onnxruntime, without torch.
"""

from __future__ import annotations

import os

from triage.classify.registry import ModelError

INSTALL_HINT = "pip install -e '.[transformer]' (torch==2.13.0 CPU build and transformers)"
THREADS_ENV = "TRIAGE_TORCH_THREADS"
"""CPU threads for torch (training and serving) and onnxruntime; default min(2, cores)."""


def cpu_threads() -> int:
    """The threads a transformer may use: $TRIAGE_TORCH_THREADS, else min(2, cores). On a
    machine shared with others, 1 keeps a long training run from starving them."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            raise ModelError(f"{THREADS_ENV}={value!r}: not a whole number of threads") from None
        if n < 1:
            raise ModelError(f"{THREADS_ENV}={value!r}: at least one thread")
        return n
    return min(2, os.cpu_count() or 1)


def require_torch() -> None:
    """Raise ModelError, saying how to install the extra, when torch or transformers is missing."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"this model needs the transformer extra, which is not installed ({exc}); "
                         f"install it with: {INSTALL_HINT}") from exc
