"""The model registry: one folder per trained model, and CURRENT naming the one to serve.

Each folder holds model.npz and model.json (the artifact) and card.json / card.md (the
model card, with the SHA-256 of the artifact, checked at load).
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


@lru_cache(maxsize=4)
def _load(folder: str, mtime: float):
    from triage.model import TriageModel

    return TriageModel.load(Path(folder))


def load(name: str | None = None):
    """The named model, or the current one; cached while its files are unchanged."""
    folder = model_dir(name)
    return _load(str(folder), (folder / "model.npz").stat().st_mtime)
