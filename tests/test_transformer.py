"""The transformer backend (needs the transformer extra, which scripts/test.sh installs; without
it this module fails to import, and the run with it): a tiny configuration trained, saved,
loaded and predicting with the sklearn model's output shape; tampered files refused; the
ensemble; a local checkpoint as --base-model; the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training import dataset
from training.transformer.config import tiny
from training.transformer.train import fit_transformer
from triage.classify import registry as model_registry
from triage.classify.cues import find_cues
from triage.classify.labels import FLAGS, HEADS, LABELS
from triage.classify.registry import ModelError
from triage.classify.transformer.backend import TransformerModel
from triage.text.mask import find_pii, name_pii
from triage.text.normalize import normalize

from .conftest import small_examples

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["东风日产天籁行驶中刹车失灵", "4S店态度恶劣不予解决", "我要找记者曝光", "修了三次还没修好"]


def few_examples():
    """A few dozen rows: real ones and the written flag rows of the shared fixture."""
    rows = small_examples()
    return rows[:40] + rows[-30:]


@pytest.fixture(scope="module")
def tiny_model():
    model, figures = fit_transformer(few_examples(), tiny(), "transformer-test", log=lambda m: None, progress=False)
    assert figures["finetune"]["steps"] > 0 and figures["pretrain"]["steps"] > 0
    return model


def _save(model, folder: Path, backend: str = "transformer") -> Path:
    hashes = model.save(folder)
    (folder / "card.json").write_text(json.dumps({"version": folder.name, "backend": backend, "artifacts": hashes}))
    return folder


def test_train_save_load_predict_round_trip(tiny_model, tmp_path):
    folder = _save(tiny_model, tmp_path / "t")
    assert (folder / "model.safetensors").exists() and (folder / "vocab.json").exists()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))  # no pickles
    loaded = TransformerModel.load(folder)
    assert [p.to_dict() for p in loaded.predict(TEXTS)] == [p.to_dict() for p in tiny_model.predict(TEXTS)]


def test_served_probabilities_are_the_networks_own(tiny_model):
    from training.transformer.finetune import dev_logits

    probs, _, _ = tiny_model.head_probabilities(TEXTS)
    logits = dev_logits(tiny_model.network, tiny_model.text_encoder, TEXTS)
    flag_heads = [f"flags.{f}" for f in FLAGS]
    assert sorted(logits) == sorted([*HEADS, *flag_heads])
    for h, lg in logits.items():
        expected = tiny_model._probabilities(h, lg.double().numpy())
        assert probs[h].shape == expected.shape and np.allclose(probs[h], expected, atol=1e-5), h
    for h in flag_heads:  # a flag's logit, not a constant 0.5
        a, b = tiny_model.flag_scaling.get(h, (1.0, 0.0))
        lg = logits[h][:, 0].double().numpy()
        assert np.allclose(probs[h][:, 1], 1 / (1 + np.exp(-(lg * a + b))), atol=1e-5), h


def test_output_has_the_sklearn_shape(tiny_model, small_model):
    ours, theirs = tiny_model.predict(TEXTS), small_model.predict(TEXTS)
    assert len(ours) == len(theirs) == len(TEXTS) > 0
    for p, q in zip(ours, theirs):
        d, e = p.to_dict(), q.to_dict()
        assert set(d) == set(e)
        assert set(d["confidence"]) == set(e["confidence"]) and set(d["confidence"]["flags"]) == set(FLAGS)
        for head in HEADS:
            assert d[head] in LABELS[head]
            assert 0.0 <= d["confidence"][head] <= 1.0
        assert set(d["flags"]) <= set(FLAGS)
        assert all(h in (*HEADS, *(f"flags.{f}" for f in FLAGS)) for h in d["low_confidence"])
        assert d["model"] == "transformer-test"


def test_evidence_points_at_original_text_and_masks_personal_data(tiny_model):
    original = "客戶反映：東風日產天籁　行駛中刹車失靈，已經報警了！電話13912345678"
    p = tiny_model.predict([original])[0]
    model_spans = [e for e in p.evidence if e.feature == "token"]
    assert model_spans, "the model's own evidence is missing"
    for e in p.evidence:
        assert 0 <= e.start < e.end <= len(original)
        assert e.text == name_pii(original, find_pii(original), e.start, e.end)  # personal data named, not shown
    assert "13912345678" not in json.dumps(p.to_dict(), ensure_ascii=False)


def test_the_major_rule_applies_to_the_transformer_too(tiny_model):
    config = {**tiny_model.config, "flag_thresholds": {**tiny_model.config["flag_thresholds"], "government": 0.0}}
    forced = TransformerModel(tiny_model.network, tiny_model.text_encoder, config)
    p = forced.predict(["已经打了12315投诉"])[0]
    assert "government" in p.flags and p.severity == "major" and any("002-C" in r for r in p.rules)
    assert any(e.feature.startswith("cue:") and e.head == "flags.government" for e in p.evidence)


def test_tampered_files_are_refused(tiny_model, tmp_path):
    refused = []
    for name in ("model.safetensors", "vocab.json", "model.json"):
        folder = _save(tiny_model, tmp_path / name)
        data = bytearray((folder / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (folder / name).write_bytes(bytes(data))
        with pytest.raises(ModelError, match="SHA-256") as refusal:
            TransformerModel.load(folder)
        refused.append(name if name in str(refusal.value) else str(refusal.value))
    assert refused == ["model.safetensors", "vocab.json", "model.json"]


def test_a_card_without_the_vocabulary_is_refused(tiny_model, tmp_path):
    folder = _save(tiny_model, tmp_path / "t")
    card = json.loads((folder / "card.json").read_text())
    del card["artifacts"]["vocab.json"]
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="vocab"):
        TransformerModel.load(folder)


@pytest.fixture
def registry(tiny_model, small_model, tmp_path, monkeypatch):
    _save(small_model, tmp_path / "sk", backend="sklearn")
    _save(tiny_model, tmp_path / "tf")
    (tmp_path / "CURRENT").write_text("sk\n")
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(tmp_path))
    return tmp_path


def test_registry_loads_either_backend(registry):
    assert type(model_registry.load("sk")).__name__ == "SklearnModel"
    assert type(model_registry.load("tf")).__name__ == "TransformerModel"


def test_ensemble_averages_the_members(registry):
    from training.ensemble import build_ensemble

    folder = build_ensemble(["sk", "tf"], [0.5, 0.5], registry, log=lambda m: None)
    card = json.loads((folder / "card.json").read_text())
    test_rows = sum(1 for e in dataset.real_examples() if e.split == "test")
    assert card["backend"] == "ensemble" and card["evaluation"]["real_test"]["rows"] == test_rows
    ens = model_registry.load(folder.name)
    a, b, c = (m.predict(TEXTS) for m in (model_registry.load("sk"), model_registry.load("tf"), ens))
    gated = ens.config.get("flags_need_cue", ())
    for text, p, q, r in zip(TEXTS, a, b, c):
        cued = {cue.flag for cue in find_cues(normalize(text).text)}
        for f in FLAGS:
            if f in gated and f not in cued:
                # A major flag with no cue of its own in the text is 0, whatever the members say.
                assert r.confidence["flags"][f] == 0.0 and f not in r.flags
                continue
            mean = (p.confidence["flags"][f] + q.confidence["flags"][f]) / 2
            assert r.confidence["flags"][f] == pytest.approx(mean, abs=2e-4)
        assert set(r.to_dict()) == set(p.to_dict()) and r.model == folder.name
    # Both members' evidence is there.
    features = {e.feature for r in c for e in r.evidence}
    assert "token" in features and any(not f.startswith(("token", "cue:")) for f in features)

    # A member retrained (its card changed) under the ensemble is refused.
    member_card = registry / "tf" / "card.json"
    member_card.write_text(member_card.read_text().replace('"backend"', '"note": "retrained", "backend"'))
    with pytest.raises(ModelError, match="member tf"):
        model_registry.load(folder.name)


def test_an_ensemble_tuned_on_the_development_rows(registry):
    from training.ensemble import build_ensemble

    folder = build_ensemble(["tf", "sk"], registry=registry, log=lambda m: None, tune_on_dev=True)
    config = json.loads((folder / "model.json").read_text())
    assert config["tuned_on_development_rows"] > 1000
    assert {"decision_bias", "decision_bias_long", "flag_thresholds_long"} <= set(config)
    assert model_registry.load(folder.name).predict(TEXTS)[0].model == folder.name


def test_loading_a_transformer_without_torch_says_how_to_install(registry, monkeypatch):
    model_registry.clear_cache()
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(ModelError, match=r"pip install -e '\.\[transformer\]'"):
        model_registry.load("tf")
    model_registry.clear_cache()


def test_fine_tune_from_a_local_checkpoint(tmp_path):
    from transformers import BertConfig, BertModel, BertTokenizerFast

    rows = few_examples()
    chars = sorted({c for e in rows for c in e.text if not c.isspace()})
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n", encoding="utf-8")
    checkpoint = tmp_path / "local-bert"
    BertTokenizerFast(vocab_file=str(vocab), do_lower_case=False).save_pretrained(checkpoint)
    BertModel(BertConfig(vocab_size=5 + len(chars), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(checkpoint)

    model, figures = fit_transformer(rows, tiny(), "from-checkpoint", base_model=checkpoint, log=lambda m: None,
                                     progress=False)
    assert figures["pretrain"] == {"base_model": str(checkpoint)}
    folder = _save(model, tmp_path / "m")
    assert (folder / "tokenizer").is_dir() and not (folder / "vocab.json").exists()
    loaded = TransformerModel.load(folder)
    assert [p.to_dict() for p in loaded.predict(TEXTS)] == [p.to_dict() for p in model.predict(TEXTS)]
    spans = [e for e in loaded.predict(["行驶中刹车失灵"])[0].evidence if e.feature == "token"]
    assert spans and all(e.text == "行驶中刹车失灵"[e.start:e.end] for e in spans)

    # A tokenizer file the card does not vouch for is refused.
    (folder / "tokenizer" / "added_tokens.json").write_text("{}")
    with pytest.raises(ModelError):
        TransformerModel.load(folder)


def test_cli_trains_a_tiny_transformer_and_classifies_with_it(tmp_path):
    registry = tmp_path / "registry"
    r = subprocess.run([sys.executable, "-m", "triage.cli", "train", "--backend", "transformer", "--tiny", "-q",
                        "--registry", str(registry)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip())
    card = json.loads((folder / "card.json").read_text())
    assert card["backend"] == "transformer" and set(card["artifacts"]) >= {"model.safetensors", "model.json",
                                                                          "vocab.json"}
    assert card["evaluation"]["real_test"]["category"]["n"] > 100
    assert (folder / "card.md").read_text().startswith("# Model card")
    assert not (registry / "CURRENT").exists()  # not made current without --current

    env = {**os.environ, "TRIAGE_MODELS_DIR": str(registry)}
    r = subprocess.run([sys.executable, "-m", "triage.cli", "classify", "行驶中刹车失灵", "--json",
                        "--model", folder.name], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["model"] == folder.name


@pytest.mark.parametrize("make, says", [
    (lambda tmp: tmp / "absent", "not a directory"),
    (lambda tmp: tmp, "missing config.json, tokenizer.json"),
])
def test_cli_refuses_a_base_model_that_is_not_a_checkpoint_before_training(tmp_path, make, says):
    registry = tmp_path / "registry"
    r = subprocess.run([sys.executable, "-m", "triage.cli", "train", "--backend", "transformer", "--tiny", "-q",
                        "--base-model", str(make(tmp_path)), "--registry", str(registry)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr
    assert not registry.exists()


def test_cli_refuses_an_ensemble_of_unknown_members(tmp_path):
    r = subprocess.run([sys.executable, "-m", "triage.cli", "train", "--backend", "ensemble", "--members",
                        "no-such-a", "no-such-b", "--registry", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "no model 'no-such-a'" in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_service_serves_an_ensemble(registry, tmp_path):
    import hashlib
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from api.main import create_app
    from triage.auth.tokens import create as create_token
    from triage.classify.ensemble import EnsembleModel
    from triage.db import init_db, make_engine

    members = [{"name": n, "weight": 1.0, "card_sha256": hashlib.sha256((registry / n / "card.json").read_bytes())
                .hexdigest()} for n in ("sk", "tf")]
    ens = EnsembleModel([model_registry.load("sk"), model_registry.load("tf")], [1.0, 1.0],
                        {"version": "ens", "backend": "ensemble", "members": members})
    _save(ens, registry / "ens", backend="ensemble")
    engine = make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    init_db(engine)
    with Session(engine) as s:
        token = create_token(db_session=s, name="h", role="handler", now=datetime.now(UTC))
        s.commit()
    with TestClient(create_app(engine, lambda: model_registry.load("ens"))) as c:
        headers = {"Authorization": f"Bearer {token}"}
        r = c.post("/v1/triage", json={"text": "行驶中刹车失灵", "channel": "phone",
                                        "received_at": "2026-11-23T10:00:00+08:00"}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["classification"]["model"] == "ens"
        r = c.get("/v1/model", headers=headers)
        assert r.json()["version"] == "ens" and r.json()["card"]["backend"] == "ensemble"


def test_shipped_transformer_and_ensemble_load_and_predict(monkeypatch):
    monkeypatch.delenv("TRIAGE_MODELS_DIR", raising=False)
    shipped = [n for n in model_registry.list_models()
               if model_registry.card(n).get("backend") in ("transformer", "onnx", "ensemble")]
    assert shipped, "the registry ships a transformer and an ensemble"
    for name in shipped:
        card = model_registry.card(name)
        assert card["evaluation"]["real_test"]["rows"] >= 600  # 2020-10 then; the two test months now
        p = model_registry.load(name).predict(["行驶中刹车失灵，差点出事故"])[0]
        assert p.model == name and p.severity in LABELS["severity"]


# ---- the development rows, the pre-training corpus -------------------------------------------
def test_choices_are_made_on_the_development_rows_never_fine_tuned_on():
    from training.experiments import is_dev
    from training.transformer.train import development_split

    rows = [e for e in dataset.real_examples() if e.split == "train"]
    train, dev = development_split(rows, tiny())
    assert dev and all(is_dev(e) for e in dev) and not any(is_dev(e) for e in train)
    assert {e.date[:7] for e in dev} == {"2020-11", "2024-02"}
    assert len(train) + len(dev) == len(rows)


def test_the_pre_training_corpus_holds_no_text_of_the_test_months(monkeypatch, tmp_path):
    import training.transformer.train as transformer_train

    seen: list[str] = []

    class Stop(Exception):
        pass

    def record(texts, *args, **kwargs):
        seen.extend(texts)
        raise Stop

    monkeypatch.setattr(transformer_train, "pretrain", record)
    with pytest.raises(Stop):
        transformer_train.train_transformer(tiny(), registry=tmp_path, log=lambda m: None, progress=False)
    from triage.text.normalize import normalize

    examples = dataset.build()
    body = tiny().max_length - 2
    assert seen and max(len(t) for t in seen) <= body  # long texts in pieces the encoder reads whole
    corpus = set(seen)
    trained = {normalize(e.text).text for e in examples if e.split == "train"}
    held_out = {normalize(e.text).text for e in examples if e.split == "test"} - trained
    short = [t for t in held_out if len(t) <= body]
    assert len(short) > 1000 and not any(t in corpus for t in short)
    development = [normalize(e.text).text for e in examples if e.split == "train" and e.source == "real"
                   and e.date[:7] in ("2020-11", "2024-02")]
    assert len(development) > 1000
    assert all(t in corpus for t in development if 0 < len(t) <= body)  # pre-trained on, never fine-tuned on


# ---- served without torch: ONNX -----------------------------------------------------------
@pytest.fixture(scope="module")
def onnx_folder(tiny_model, tmp_path_factory):
    # Part of the transformer extra this file requires (onnx exports, onnxruntime serves).
    import onnxruntime  # noqa: F401
    import onnxscript  # noqa: F401

    from training.transformer.onnx_export import export

    folder = tmp_path_factory.mktemp("onnx") / "ox"
    hashes = export(tiny_model, folder, {**tiny_model.config, "version": "ox"})
    (folder / "card.json").write_text(json.dumps({"version": "ox", "backend": "onnx", "artifacts": hashes}))
    return folder


LONG = "我的车在4S店修了三次，" * 20 + "变速箱还是顿挫，要求退车"


def test_onnx_export_gives_torch_probabilities(tiny_model, onnx_folder):
    from training.transformer.onnx_export import largest_difference
    from triage.classify.transformer.onnx_backend import OnnxTransformerModel

    served = OnnxTransformerModel.load(onnx_folder)
    texts = [*TEXTS, LONG, "漏"]  # a batch of one character and one over the encoder's length
    assert largest_difference(tiny_model, served, texts) < 1e-4
    for window in ("head", "head_tail", "chunks"):
        tiny_model.text_encoder.window = served.text_encoder.window = window
        assert largest_difference(tiny_model, served, [LONG, *TEXTS]) < 1e-4
    tiny_model.text_encoder.window = served.text_encoder.window = "head"
    ours, theirs = served.predict(texts), tiny_model.predict(texts)
    for p, q in zip(ours, theirs):
        a, b = p.to_dict(), q.to_dict()
        # Probabilities (confidences, the alternatives' p) agree to 1e-4, not to the rounding.
        assert {k: v for k, v in a.items() if k not in ("confidence", "model", "alternatives")} == \
            {k: v for k, v in b.items() if k not in ("confidence", "model", "alternatives")}
        for head in HEADS:
            assert [x["label"] for x in a["alternatives"][head]] == [x["label"] for x in b["alternatives"][head]]
            assert np.allclose([x["p"] for x in a["alternatives"][head]], [x["p"] for x in b["alternatives"][head]],
                               atol=2e-4)


def test_the_onnx_model_loads_and_predicts_without_torch(onnx_folder):
    code = ("import sys\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'transformers', 'safetensors'):\n"
            "            raise ImportError('no torch here: ' + name)\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "from triage.classify import registry\n"
            "p = registry.load('ox').predict(['行驶中刹车失灵'])[0]\n"
            "assert p.model == 'ox', p.model\n"
            "print(p.category)\n")
    env = {**os.environ, "TRIAGE_MODELS_DIR": str(onnx_folder.parent), "TRIAGE_TORCH_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in LABELS["category"]


def test_a_tampered_onnx_file_is_refused(onnx_folder, tmp_path):
    import shutil

    from triage.classify.transformer.onnx_backend import FILES, OnnxTransformerModel

    assert "model.onnx" in FILES and len(FILES) >= 2, FILES  # every file the model loads is checked below
    refused = []
    for name in FILES:
        folder = tmp_path / name
        shutil.copytree(onnx_folder, folder)
        data = bytearray((folder / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (folder / name).write_bytes(bytes(data))
        with pytest.raises(ModelError, match="SHA-256") as refusal:
            OnnxTransformerModel.load(folder)
        refused.append(name if name in str(refusal.value) else str(refusal.value))
    assert refused == list(FILES)


def test_an_ensemble_with_the_onnx_member(onnx_folder, small_model, monkeypatch):
    import hashlib

    from triage.classify.ensemble import EnsembleModel

    root = onnx_folder.parent
    if not (root / "sk").exists():
        _save(small_model, root / "sk", backend="sklearn")
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(root))
    members = [{"name": n, "weight": 1.0, "card_sha256": hashlib.sha256((root / n / "card.json").read_bytes())
                .hexdigest()} for n in ("sk", "ox")]
    ens = EnsembleModel([model_registry.load("sk"), model_registry.load("ox")], [1.0, 1.0],
                        {"version": "ens-ox", "backend": "ensemble", "members": members})
    _save(ens, root / "ens-ox", backend="ensemble")
    p = model_registry.load("ens-ox").predict(["行驶中刹车失灵"])[0]
    assert p.model == "ens-ox" and "token" in {e.feature for e in p.evidence}
    for head in HEADS:  # the ensemble decodes as every backend: its averaged probabilities' alternatives
        alternatives = p.alternatives[head]
        assert 1 <= len(alternatives) <= 3 and all(a["label"] in ens.classes[head] for a in alternatives)
        assert [a["p"] for a in alternatives] == sorted((a["p"] for a in alternatives), reverse=True)
