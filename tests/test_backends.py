"""The registry's backends without the transformer extra: the default model never imports
torch, and an unknown backend is refused by name. (tests/test_transformer.py covers the
transformer and the ensemble where torch is installed.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from triage.classify import registry
from triage.classify.registry import ModelError

ROOT = Path(__file__).resolve().parent.parent


def test_the_default_model_and_cli_never_import_torch():
    code = ("import sys, triage.cli, api.main; from triage.classify import registry; "
            "m = registry.load(); m.predict(['刹车失灵']); "
            "sys.exit(1 if 'torch' in sys.modules or 'transformers' in sys.modules else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr or "torch was imported for the scikit-learn model"


def test_an_unknown_backend_is_refused(small_model, tmp_path, monkeypatch):
    folder = tmp_path / "odd"
    hashes = small_model.save(folder)
    (folder / "card.json").write_text(json.dumps({"version": "odd", "backend": "tensorflow", "artifacts": hashes}))
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="unknown backend 'tensorflow'"):
        registry.load("odd")
