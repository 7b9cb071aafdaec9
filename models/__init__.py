"""The model registry: one folder per trained model, and CURRENT naming the one to serve.

Each folder holds its artifact and card.json / card.md (the model card, with the SHA-256
of every artifact file, checked at load). The card's "backend" says how to load it:
"sklearn" (model.npz + model.json), "transformer" (model.safetensors + model.json +
tokenizer; needs the transformer extra, imported only then) or "ensemble" (model.json
naming member folders of the same registry).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

REGISTRY = Path(__file__).parent
"""The registry shipped with the package; TRIAGE_MODELS_DIR points elsewhere."""
CURRENT = "CURRENT"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class RegistryError(LookupError):
    """No such model, or no current model."""


def registry_dir() -> Path:
    return Path(os.environ.get("TRIAGE_MODELS_DIR", REGISTRY))


def list_models() -> list[str]:
    root = registry_dir()
    return sorted(p.name for p in root.iterdir() if (p / "card.json").exists()) if root.exists() else []


def current_name() -> str:
    path = registry_dir() / CURRENT
    try:
        name = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise RegistryError(f"no current model: {path} is missing (run `triage train`)") from None
    if not _NAME.match(name):
        raise RegistryError(f"{path} names {name!r}, which is not a model folder name")
    return name


def model_dir(name: str | None = None) -> Path:
    name = name or current_name()
    if not _NAME.match(name):
        raise RegistryError(f"{name!r} is not a model name")
    folder = registry_dir() / name
    if not (folder / "card.json").exists():
        raise RegistryError(f"no model {name!r} in {registry_dir()} (have: {', '.join(list_models()) or 'none'})")
    return folder


def set_current(name: str) -> None:
    model_dir(name)
    tmp = registry_dir() / f".{CURRENT}.tmp"
    tmp.write_text(name + "\n", encoding="utf-8")
    tmp.replace(registry_dir() / CURRENT)


def card(name: str | None = None) -> dict[str, Any]:
    return json.loads((model_dir(name) / "card.json").read_text(encoding="utf-8"))


BACKENDS = ("sklearn", "transformer", "ensemble")


@lru_cache(maxsize=4)
def _load(folder: str, mtime: float):
    from triage.model import ModelError, TriageModel

    path = Path(folder)
    backend = json.loads((path / "card.json").read_text(encoding="utf-8")).get("backend", "sklearn")
    if backend == "sklearn":
        return TriageModel.load(path)
    if backend == "transformer":
        from triage.transformer import require_torch

        require_torch()
        from triage.transformer.model import TransformerModel

        return TransformerModel.load(path)
    if backend == "ensemble":
        from triage.ensemble import EnsembleModel

        return EnsembleModel.load(path, lambda member: load(member))
    raise ModelError(f"{folder}: unknown backend {backend!r} in its card (known: {', '.join(BACKENDS)})")


def _stamp(folder: Path) -> float:
    """Latest change to a model folder's files, or to its members' for an ensemble."""
    stamp = max(p.stat().st_mtime for p in folder.iterdir() if p.is_file())
    if not (folder / "model.npz").exists() and not (folder / "model.safetensors").exists():
        try:
            members = json.loads((folder / "model.json").read_text(encoding="utf-8")).get("members", [])
            stamp = max([stamp, *(_stamp(folder.parent / m["name"]) for m in members)])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # the load itself reports what is wrong
    return stamp


def load(name: str | None = None):
    """The named model, or the current one; cached while its files are unchanged."""
    folder = model_dir(name)
    # Any file rewritten (artifact or card) means a reload, and so a fresh hash check.
    return _load(str(folder), _stamp(folder))
