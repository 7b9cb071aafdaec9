"""The transformer backend: a BERT-style encoder with one classification head per label set.

Nothing here imports torch at package import: `registry.load` reaches torch only when a
model's card names this backend, so the default install (no torch) keeps working.
Install the extra for it: `pip install -e '.[transformer]'`.
"""

from __future__ import annotations

from triage.classify.registry import ModelError

INSTALL_HINT = "pip install -e '.[transformer]' (torch==2.13.0 CPU build and transformers)"


def require_torch() -> None:
    """Raise ModelError, saying how to install the extra, when torch or transformers is missing."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"this model needs the transformer extra, which is not installed ({exc}); "
                         f"install it with: {INSTALL_HINT}") from exc
