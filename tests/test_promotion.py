"""Which model is served: the gate of `triage train` (training/promotion.py), which keeps a new
model that is worse than the current one from being served, and `triage models`, which lists the
registry and makes a model current (or rolls back) after checking that it serves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from training import dataset, promotion
from training.train import evaluate_new_model
from triage.classify import registry
from triage.classify.bootstrap import label

from .live import ServeProcess

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def held_out_sample() -> list[dataset.Example]:
    """Real held-out rows of both registers, as `triage train` scores them (a part, for time)."""
    test = [e for e in dataset.build([]) if e.source == "real" and e.split == "test"]
    return ([e for e in test if e.register == "summary"][:800] + [e for e in test if e.register == "narrative"][:400])


def _registry_serving(tmp: Path, *folders: tuple[str, Path]) -> Path:
    """A registry of copies of model folders, the first current."""
    for name, folder in folders:
        shutil.copytree(folder, tmp / name)
    (tmp / "CURRENT").write_text(folders[0][0] + "\n")
    return tmp


def _save(model, folder: Path) -> Path:
    hashes = model.save(folder)
    (folder / "card.json").write_text(json.dumps({"version": folder.name, "backend": "sklearn", "artifacts": hashes,
                                                  "created": "2026-12-02T00:00:00+00:00"}))
    return folder


def test_a_model_worse_than_the_served_one_is_not_made_current(tmp_path, small_model, held_out_sample):
    served = registry.current_name()
    root = _registry_serving(tmp_path / "reg", (served, registry.model_dir(served)))
    log: list[str] = []
    evaluation = evaluate_new_model(small_model, held_out_sample, root, log=log.append)
    decision = evaluation["promotion"]
    assert decision["made_current"] is False and decision["decided_by"] == "gate" and decision["against"] == served
    # Each reason is a guarded figure, worse beyond noise, and its difference is the card's own.
    differences = {register: r["differences"] for register, r in evaluation["against_current"]["by_register"].items()}
    assert len(decision["held_back_by"]) >= 3
    assert any(line.startswith("narrative major recall -") for line in decision["held_back_by"])
    for line in decision["held_back_by"]:
        register, rest = line.split(" ", 1)
        key = next(k for k in promotion.GUARDED if rest.startswith(label(k) + " "))
        assert differences[register]["/".join(key)][2] < 0
    assert any("not made current; `triage models use test-small` serves it anyway" in m for m in log)
    # A person's --current overrides the gate, and the card still says what the gate found.
    forced = promotion.decide(True, evaluation["against_current"])
    assert forced["made_current"] and forced["decided_by"] == "--current"
    assert forced["held_back_by"] == decision["held_back_by"]


def test_a_model_better_than_the_served_one_is_made_current(tmp_path, small_model, held_out_sample):
    small = _save(small_model, tmp_path / "test-small")
    root = _registry_serving(tmp_path / "reg", ("test-small", small))
    evaluation = evaluate_new_model(registry.load(), held_out_sample, root, log=lambda m: None)
    assert evaluation["promotion"] == {"made_current": True, "decided_by": "gate", "held_back_by": [],
                                       "against": "test-small"}
    # Better beyond noise on the guarded figures: the gate's pass is not for want of a difference.
    better = evaluation["against_current"]["by_register"]["summary"]["differences"]["category/accuracy"]
    assert better[1] > 0


def test_only_guarded_figures_hold_a_model_back():
    worse = [-0.05, -0.08, -0.02]
    by_register = {"summary": {"differences": {
        "business_line/sales/precision": worse, "category/service/recall": worse,  # trade with biases: not guarded
        "flags/safety/precision": worse, "severity/accuracy": [-0.01, -0.03, 0.01]}}}  # within noise
    assert promotion.held_back_by(by_register) == []
    by_register["summary"]["differences"]["flags/safety/recall"] = worse
    by_register["summary"]["differences"]["major/recall"] = worse
    assert promotion.held_back_by(by_register) == ["summary major recall -0.050 [-0.080, -0.020]",
                                                   "summary safety flag recall -0.050 [-0.080, -0.020]"]


def test_without_a_current_model_the_new_one_is_made_current():
    assert promotion.decide(None, None) == {"made_current": True, "decided_by": "gate", "held_back_by": [],
                                            "against": None}
    assert promotion.decide(False, None)["made_current"] is False


def _models(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "triage.cli", "models", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_models_use_switches_the_served_model_and_rolls_back(tmp_path, small_model, small_examples_refit):
    root = tmp_path / "reg"
    root.mkdir()
    _save(small_model, root / "test-small")
    _save(small_examples_refit, root / "test-other")
    (root / "CURRENT").write_text("test-small\n")
    r = _models("--registry", str(root), "use", "test-other")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "test-other" and "serving test-other (was test-small)" in r.stderr
    assert registry.current_name(root) == "test-other"
    assert registry.load_from(root).version == "test-other"

    listed = [json.loads(line) for line in _models("--registry", str(root), "list", "--json").stdout.splitlines()]
    assert [(m["name"], m["current"]) for m in listed] == [("test-other", True), ("test-small", False)]
    table = _models("--registry", str(root), "list").stdout.splitlines()
    assert [line[:14] for line in table[2:]] == ["* test-other  ", "  test-small  "]

    r = _models("--registry", str(root), "use", "test-small")  # the roll-back
    assert r.returncode == 0 and registry.current_name(root) == "test-small"
    changes = [json.loads(line) for line in _models("--registry", str(root), "history", "--json").stdout.splitlines()]
    assert [(c["before"], c["model"]) for c in changes] == [("test-small", "test-other"), ("test-other", "test-small")]
    assert " test-other -> test-small  by " in _models("--registry", str(root), "history").stdout


def test_models_use_refuses_a_model_that_cannot_serve(tmp_path, small_model, small_examples_refit):
    root = tmp_path / "reg"
    root.mkdir()
    _save(small_model, root / "test-small")
    altered = _save(small_examples_refit, root / "test-other")
    with (altered / "model.npz").open("ab") as f:
        f.write(b"\0")
    (root / "CURRENT").write_text("test-small\n")
    (root / "test-broken").mkdir()
    (root / "test-broken" / "card.json").write_text("{not json")
    for name, says in (("test-other", "SHA-256 does not match"), ("no-such-model", "no model 'no-such-model'"),
                       ("../test-small", "is not a model name"), ("test-broken", "test-broken cannot be served here")):
        r = _models("--registry", str(root), "use", name)
        assert r.returncode == 2 and says in r.stderr and r.stdout == "", (name, r.stderr)
        assert (root / "CURRENT").read_text() == "test-small\n"
    assert not (root / "HISTORY.jsonl").exists()
    listed = _models("--registry", str(root), "list")
    assert listed.returncode == 0 and "  test-broken" in listed.stdout and "unreadable card" in listed.stdout


def test_models_show_prints_the_card():
    r = _models("show")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (registry.model_dir() / "card.md").read_text(encoding="utf-8")
    assert r.stdout.startswith(f"# Model card: {registry.current_name()}")


def test_a_running_server_serves_the_model_made_current(tmp_path, small_model, small_examples_refit):
    """`triage models use` reaches `triage serve --workers 2` without a restart: both server
    processes answer with the new model within their recheck of the registry (2 s)."""
    root = tmp_path / "reg"
    root.mkdir()
    _save(small_model, root / "test-small")
    _save(small_examples_refit, root / "test-other")
    (root / "CURRENT").write_text("test-small\n")

    with ServeProcess(tmp_path, root, "--workers", "2") as served:
        def models_answering(n: int) -> set[str]:
            with httpx.Client(headers=served.headers) as client:  # new connections, so both workers answer
                return {client.post(f"{served.url}/v1/triage", json={"text": "行驶中刹车失灵"},
                                    headers={"Connection": "close"}).json()["classification"]["model"]
                        for _ in range(n)}

        assert models_answering(10) == {"test-small"}
        r = _models("--registry", str(root), "use", "test-other")
        assert r.returncode == 0, r.stderr
        time.sleep(2.5)
        assert models_answering(20) == {"test-other"}


def test_several_switches_at_once_leave_one_current_model_and_every_change_recorded(tmp_path, small_model,
                                                                                      small_examples_refit):
    root = tmp_path / "reg"
    root.mkdir()
    names = ["test-a", "test-b", "test-c", "test-d"]
    for name, model in zip(names, [small_model, small_examples_refit] * 2):
        _save(model, root / name)
    (root / "CURRENT").write_text("test-a\n")
    procs = [subprocess.Popen([sys.executable, "-m", "triage.cli", "models", "--registry", str(root), "use", name],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in names[1:] * 2]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert [rc for _, _, rc in results] == [0] * 6, results
    assert registry.current_name(root) in names[1:]
    lines = (root / "HISTORY.jsonl").read_text().splitlines()
    changes = [json.loads(line) for line in lines]  # every line whole
    # Each switch that found another model current recorded one change, in the order they were
    # made: each change starts from the model the one before it left current, the last names CURRENT.
    assert 3 <= len(changes) <= 6
    assert [c["before"] for c in changes] == ["test-a"] + [c["model"] for c in changes[:-1]]
    assert changes[-1]["model"] == registry.current_name(root)
    assert not list(root.glob(".CURRENT*.tmp"))  # no temporary file left behind
