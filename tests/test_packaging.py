"""The wheel: it carries the served model (the one models/CURRENT names) and no other, no
top-level `models` module, and the model it carries loads and predicts from an install."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    (found,) = out.glob("*.whl")
    return found


def test_the_wheel_carries_only_the_served_model(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    current = (ROOT / "models" / "CURRENT").read_text().strip()
    shipped = {n.split("/")[3] for n in names if n.startswith("triage/classify/shipped/") and n.count("/") > 3}
    assert shipped == {current}
    assert "triage/classify/shipped/CURRENT" in names
    assert not [n for n in names if n.startswith("models/") or n.endswith(".safetensors")]
    others = [p.name for p in (ROOT / "models").iterdir() if p.is_dir() and p.name != current]
    assert not [n for n in names if any(o in n for o in others)]


def test_an_installed_wheel_serves_its_model(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = ("from triage.classify import registry; p = registry.load().predict(['行驶中刹车失灵'])[0]; "
            "print(registry.registry_dir()); print(p.model, 'safety' in p.flags)")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    folder, served = r.stdout.splitlines()
    assert Path(folder) == tmp_path / "triage" / "classify" / "shipped"
    assert served == f"{(ROOT / 'models' / 'CURRENT').read_text().strip()} True"
