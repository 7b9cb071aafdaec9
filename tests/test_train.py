"""`triage train` end to end: the real labelled set, a model folder with its card, and
reviewers' corrections counted when given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_train_with_feedback_writes_a_loadable_model(tmp_path, small_model):
    feedback = tmp_path / "feedback.csv"
    feedback.write_text(
        "id,text,business_line,category,severity,flags\n"
        "fb-1,客户说提车时被收了两千元金融服务费,sales,service,complaint,none\n"
        "fb-2,客户说新车的导航是多媒体问题不是故障,after_sales,customer_issue,grumble,none\n", encoding="utf-8")
    registry = tmp_path / "registry"
    registry.mkdir()
    # The model the new one replaces: its card says what changes, by more than noise.
    hashes = small_model.save(registry / "test-small")
    (registry / "test-small" / "card.json").write_text(json.dumps({"version": "test-small", "artifacts": hashes}))
    (registry / "CURRENT").write_text("test-small\n")
    r = subprocess.run([sys.executable, "-m", "triage.cli", "train", "--registry", str(registry),
                        "--with-feedback", str(feedback)], capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip())
    assert folder.parent == registry and (registry / "CURRENT").read_text().strip() == folder.name
    card = json.loads((folder / "card.json").read_text())
    assert card["data"]["feedback_used"] == 2
    assert any(s["path"].endswith("feedback.csv") for s in card["data"]["sources"])
    assert card["evaluation"]["real_test"]["category"]["n"] > 100
    assert (folder / "card.md").read_text().startswith("# Model card")
    replaced = card["evaluation"]["against_current"]
    assert replaced["model"] == "test-small" and set(replaced["by_register"]) == {"summary", "narrative"}
    one_liners = replaced["by_register"]["summary"]
    difference, low, high = one_liners["differences"]["category/accuracy"]
    new = card["evaluation"]["real_test_by_register"]["summary"]["category"]["accuracy"]
    assert abs(difference - (new - one_liners["figures"]["category"]["accuracy"])) <= 2e-4
    assert 0 < low <= difference <= high  # 400 rows against twenty thousand: better, by more than noise
    assert any(line.startswith("category accuracy +") for line in one_liners["better"])
    assert "## Against `test-small`, the model served when this one was trained" in (folder / "card.md").read_text()
    assert "against test-small (summary): better on" in r.stderr
    # Better than the model it replaces on every guarded figure: the gate makes it current.
    assert card["evaluation"]["promotion"] == {"made_current": True, "decided_by": "gate", "held_back_by": [],
                                               "against": "test-small"}
    assert "## Made current?\n\nYes, by the gate" in (folder / "card.md").read_text()

    env = {**os.environ, "TRIAGE_MODELS_DIR": str(registry)}
    r = subprocess.run([sys.executable, "-m", "triage.cli", "classify", "行驶中刹车失灵", "--json"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["model"] == folder.name
