"""The serving model: the exported arrays reproduce scikit-learn, survive a round trip,
refuse a tampered file, and point their evidence at the text the user wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from training.train import TrainConfig, _fit_head
from triage.classify.base import Decoder
from triage.classify.features import FeatureSpace
from triage.classify.labels import FLAGS
from triage.classify.registry import ModelError
from triage.classify.sklearn import LinearHead, SklearnModel
from triage.text.mask import find_pii, name_pii
from triage.text.normalize import TextError, normalize

TEXTS = ["大众朗逸变速箱顿挫", "4S店服务态度恶劣", "多次维修未解决", "新车加价提车", "发动机异响", "销售承诺不兑现"] * 8
Y3 = ["pq", "service", "rq", "service", "pq", "service"] * 8


@pytest.mark.parametrize("labels", [Y3, ["a", "b", "a", "b", "a", "a"] * 8])
def test_exported_head_reproduces_sklearn(labels):
    X = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit_transform(TEXTS).tocsr().astype(np.float32)
    head = _fit_head(X, labels, np.ones(len(labels)), 2.0, TrainConfig(folds=3))
    from sklearn.model_selection import StratifiedKFold
    ref = CalibratedClassifierCV(LogisticRegression(C=2.0, class_weight="balanced", max_iter=3000), method="sigmoid",
                                 ensemble=False, cv=StratifiedKFold(3, shuffle=True, random_state=13))
    ref.fit(X, labels, sample_weight=np.ones(len(labels)))
    assert head.classes == list(ref.classes_)
    np.testing.assert_allclose(head.predict_proba(X), ref.predict_proba(X), atol=1e-5)


def test_feature_space_round_trip():
    space = FeatureSpace(min_df=1).fit(TEXTS)
    again = FeatureSpace.from_arrays(space.to_arrays())
    a, b = space.transform(TEXTS[:6]), again.transform(TEXTS[:6])
    assert (abs(a - b) > 1e-6).nnz == 0
    assert list(space.names_) == list(again.names_)


def test_save_load_round_trip_and_tamper(small_model, tmp_path):
    hashes = small_model.save(tmp_path)
    (tmp_path / "card.json").write_text(json.dumps({"artifacts": hashes}))
    loaded = SklearnModel.load(tmp_path)
    texts = ["东风日产天籁行驶中刹车失灵", "4S店态度恶劣不予解决", "我要找记者曝光"]
    before, after = small_model.predict(texts), loaded.predict(texts)
    assert [p.to_dict() for p in before] == [p.to_dict() for p in after]

    data = bytearray((tmp_path / "model.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "model.npz").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256"):
        SklearnModel.load(tmp_path)


def test_load_without_card_is_refused(small_model, tmp_path):
    small_model.save(tmp_path)
    with pytest.raises(ModelError, match="card"):
        SklearnModel.load(tmp_path)


def test_prediction_shape(small_model):
    d = small_model.predict(["已经打了12315投诉，市场监管局也来了"])[0].to_dict()
    assert set(d) >= {"id", "business_line", "category", "severity", "flags", "confidence", "evidence"}
    assert set(d["confidence"]["flags"]) == set(FLAGS)
    assert all(0.0 <= d["confidence"][h] <= 1.0 for h in ("business_line", "category", "severity"))


def _decode(flag_p: dict[str, float], severity_p=(0.8, 0.15, 0.05)):
    """One row decoded from probabilities we choose: severity (grumble, complaint, major) and
    the flags' probabilities; every flag's threshold is 0.5."""
    classes = {"business_line": ["after_sales", "sales"], "category": ["product_quality", "service"],
               "severity": ["grumble", "complaint", "major"], **{f"flags.{f}": ["0", "1"] for f in FLAGS}}
    probs = {"business_line": np.array([[0.9, 0.1]]), "category": np.array([[0.7, 0.3]]),
             "severity": np.array([severity_p]),
             **{f"flags.{f}": np.array([[1 - flag_p.get(f, 0.01), flag_p.get(f, 0.01)]]) for f in FLAGS}}
    decoder = Decoder(classes, {"version": "t", "flag_thresholds": {f: 0.5 for f in FLAGS}})
    evidence = lambda chosen: {h: [[]] for h in ("business_line", "category", "severity")}  # noqa: E731
    return decoder.decode([("r1", normalize("车主反映的问题"))], probs, [[]], evidence)[0]


@pytest.mark.parametrize("flag", sorted(f for f in FLAGS if f != "repeat"))
def test_any_flag_but_repeat_makes_it_major_with_the_rule_cited(flag):  # rules.md §2, 002-C 四
    p = _decode({flag: 0.83})
    assert p.flags == [flag] and p.severity == "major"
    assert p.confidence["severity"] == 0.83  # the flag's probability: the flag is the reason
    assert p.rules == [f"severity=major: flag {flag} (rules.md §2, 002-C 四)"]
    assert "severity" not in p.low_confidence


def test_repeat_alone_and_flags_under_threshold_leave_severity_to_the_model():
    for flag_p in ({"repeat": 0.9}, {"safety": 0.45, "media": 0.3}):
        p = _decode(flag_p)
        assert p.severity == "grumble" and p.confidence["severity"] == 0.8 and p.rules == []


def test_a_major_severity_cites_the_rule_but_keeps_its_own_confidence():
    p = _decode({"legal": 0.7, "government": 0.95}, severity_p=(0.05, 0.05, 0.9))
    assert p.flags == ["legal", "government"] and p.severity == "major" and p.confidence["severity"] == 0.9
    assert p.rules == ["severity=major: flag legal, government (rules.md §2, 002-C 四)"]


def test_evidence_points_at_original_text(small_model):
    original = "客戶反映：東風日產天籁　行駛中刹車失靈，已經報警了！電話13912345678"
    p = small_model.predict([original])[0]
    assert p.evidence
    for e in p.evidence:
        assert 0 <= e.start < e.end <= len(original)
        assert e.text == name_pii(original, find_pii(original), e.start, e.end)  # personal data named, not shown
    assert "13912345678" not in json.dumps(p.to_dict(), ensure_ascii=False)


def test_bad_rows_become_errors_and_others_still_predict(small_model):
    out = small_model.predict_rows([("a", "发动机异响"), ("b", "   "), ("c", "x\x00y"), ("d", "刹车失灵"),
                                    ("e", "刹车\ud800失灵"), ("f", "变速箱顿挫")])
    assert [type(o).__name__ for o in out] == ["Prediction", "RowError", "RowError", "Prediction", "RowError",
                                               "Prediction"]
    assert out[1].row == 2 and "empty" in out[1].error
    assert out[4].row == 5 and "lone surrogate (U+D800 at character 3)" in out[4].error
    with pytest.raises(TextError):
        small_model.predict(["ok", ""])


def _binary_columns(texts):
    """The cue and register columns, built the plain way: one 0/1 column per cue and register."""
    import scipy.sparse as sp

    from triage.classify.cues import CUE_NAMES, find_cues
    from triage.classify.features import META_NAMES, meta_columns

    dense = np.zeros((len(texts), len(CUE_NAMES) + len(META_NAMES)), dtype=np.float32)
    for r, text in enumerate(texts):
        for cue in find_cues(text):
            dense[r, CUE_NAMES.index(cue.key)] = 1.0
        for m in meta_columns(text):
            dense[r, len(CUE_NAMES) + m] = 1.0
    return sp.csr_matrix(dense)


def test_fast_transform_equals_sklearn_tfidf():
    import scipy.sparse as sp

    texts = TEXTS + ["行驶中刹车失灵，已经报警，修了三次", "多多多 多多 多", "一"]
    space = FeatureSpace(min_df=1).fit(texts)
    ref = sp.hstack([space.words_.transform(texts), space.chars_.transform(texts), _binary_columns(texts)],
                    format="csr")
    got = space.transform(texts)
    assert got.shape == ref.shape
    assert abs(got - ref).max() < 1e-6


def test_to_dict_is_the_whole_prediction(small_model):
    import dataclasses

    p = small_model.predict(["行驶中刹车失灵，已经报警了"])[0]
    assert p.to_dict() == dataclasses.asdict(p)


def test_decision_bias_moves_close_calls_to_the_small_class(small_model):
    texts = ["大众朗逸变速箱顿挫", "4S店态度差", "修了三次没修好"]
    config = {**small_model.config, "decision_bias": {"category": {"repair_quality": 50.0}}}
    biased = SklearnModel(small_model.space, small_model.heads, config)
    preds = biased.predict(texts)
    assert {p.category for p in preds} == {"repair_quality"}
    plain = small_model.predict(texts)
    # The confidence stays the model's probability of the label it chose.
    same = [(p.confidence["category"], q.confidence["category"]) for p, q in zip(preds, plain)
            if q.category == "repair_quality"]
    assert same and all(a == b for a, b in same)


def test_decision_bias_leaves_long_texts_alone(small_model):
    long_text = "客户：我的车发动机一直异响，去了店里检查说是正常现象，" * 4
    config = {**small_model.config, "decision_bias": {"category": {"repair_quality": 50.0}},
              "decision_bias_max_chars": 60}
    biased = SklearnModel(small_model.space, small_model.heads, config)
    assert biased.predict([long_text])[0].category == small_model.predict([long_text])[0].category
    assert biased.predict(["发动机异响"])[0].category == "repair_quality"


def test_transform_finds_exactly_the_terms_a_dict_lookup_finds_on_real_text():
    """The vectorised look-up (word and character n-grams by key) against the plain one:
    jieba's words and Python dicts, term by term, on real complaints of both registers."""
    import csv
    from collections import Counter
    from pathlib import Path

    import scipy.sparse as sp

    from triage.classify.features import char_features
    from triage.text.tokenize import _DROP, tokenizer

    real = Path(__file__).resolve().parents[1] / "training" / "data" / "real"
    texts = []
    for name, step in (("complaints_aqsiq_2024-01_03.csv", 4), ("complaints_12365auto_2020-06_12.csv", 40)):
        with (real / name).open(encoding="utf-8") as f:
            texts += [normalize(r["text"]).text for i, r in enumerate(csv.DictReader(f)) if i % step == 0]
    space = FeatureSpace(min_df=2).fit(texts[::2])  # half the texts unseen: terms out of the vocabulary
    vocab = {t: i for i, t in enumerate(space.names_.tolist())}
    rows, cols, counts = [], [], []
    for r, text in enumerate(texts):
        ws = [w for w in tokenizer().lcut(text, HMM=False) if w not in _DROP]
        terms = Counter(["w:" + w for w in ws] + [f"w:{a} {b}" for a, b in zip(ws, ws[1:])]
                        + ["c:" + c for c in char_features(text)])
        for term, count in terms.items():
            if term in vocab:
                rows.append(r)
                cols.append(vocab[term])
                counts.append(count)
    ref = sp.csr_matrix((counts, (rows, cols)), shape=(len(texts), space.n_text_))
    ref.sort_indices()
    got = space.transform(texts, [[] for _ in texts])[:, :space.n_text_]
    assert np.array_equal(got.indptr, ref.indptr) and np.array_equal(got.indices, ref.indices)
    sk = sp.hstack([space.words_.transform(texts), space.chars_.transform(texts)], format="csr")
    assert abs(got - sk).max() < 1e-6


def test_serving_imports_neither_scikit_learn_nor_scipy(small_registry):
    """scikit-learn and scipy are for training: importing them took most of a second, then a
    third of a second, of every `triage predict`."""
    import os
    import subprocess
    import sys

    code = ("import sys; from triage.classify import registry; registry.load().predict(['行驶中刹车失灵，4S店不管']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, "TRIAGE_MODELS_DIR": str(small_registry)})
    assert out.stdout.strip() == "[]"


def test_artifact_is_stored_uncompressed_and_still_verified(small_model, tmp_path):
    import zipfile

    hashes = small_model.save(tmp_path)
    with zipfile.ZipFile(tmp_path / "model.npz") as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
    (tmp_path / "card.json").write_text(json.dumps({"artifacts": hashes}))
    SklearnModel.load(tmp_path)
    data = bytearray((tmp_path / "model.npz").read_bytes())
    data[-len(data) // 3] ^= 0x01  # inside an array: loads fine, hashes differently
    (tmp_path / "model.npz").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256"):
        SklearnModel.load(tmp_path)


def test_a_compressed_artifact_of_earlier_models_predicts_the_same(small_model, tmp_path):
    from triage.classify.registry import sha256

    new, old = tmp_path / "new", tmp_path / "old"
    hashes = small_model.save(new)
    (new / "card.json").write_text(json.dumps({"artifacts": hashes}))
    small_model.save(old)
    with np.load(old / "model.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    np.savez_compressed(old / "model.npz", **arrays)  # as models were written before
    (old / "card.json").write_text(json.dumps({"artifacts": {**hashes, "model.npz": sha256(old / "model.npz")}}))
    texts = ["东风日产天籁行驶中刹车失灵", "4S店态度恶劣不予解决，我已经打了12315", "我要找记者曝光", "ABC"]
    assert ([p.to_dict() for p in SklearnModel.load(old).predict(texts)]
            == [p.to_dict() for p in SklearnModel.load(new).predict(texts)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_rows_equal_scipys_matrix_and_product(seed):
    """The serving matrix (NumPy only) against scipy's COO to CSR with the duplicates summed:
    empty rows (first, inner, last), repeated pairs, and its product with dense weights."""
    import scipy.sparse as sp

    from triage.classify.sparse import SparseRows

    rng = np.random.default_rng(seed)
    n_rows, n_cols = 9, 40
    rows = rng.choice([1, 2, 4, 5, 7], size=300)  # rows 0, 3, 6 and 8 stay empty
    cols = rng.integers(0, n_cols, size=300)
    X, entry_rows = SparseRows.from_pairs(rows, cols, (n_rows, n_cols))
    ref = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(n_rows, n_cols))
    ref.sum_duplicates()
    assert X.indptr.tolist() == ref.indptr.tolist()
    assert X.indices.tolist() == ref.indices.tolist()
    assert X.data.tolist() == ref.data.tolist()
    assert entry_rows.tolist() == np.repeat(np.arange(n_rows), np.diff(ref.indptr)).tolist()
    W = rng.normal(size=(n_cols, 3)).astype(np.float32)
    np.testing.assert_allclose(X @ W, ref @ W, rtol=1e-6)
    assert (X @ W)[[0, 3, 6, 8]].tolist() == [[0.0] * 3] * 4
    assert (X.to_scipy() != ref).nnz == 0


def test_platt_heads_give_scipys_expit():
    """The logistic function without scipy, against scipy.special.expit, overflow included."""
    from scipy.special import expit

    d = np.array([[-800.0], [-30.0], [-1.5], [0.0], [2.0], [40.0], [800.0]])
    head = LinearHead(["no", "yes"], np.zeros((1, 1)), np.zeros(1), np.array([1.7]), np.array([-0.3]))
    with np.errstate(over="raise"):
        p = head.proba_from_decision(d)
    np.testing.assert_allclose(p[:, 1], expit(-(d[:, 0] * 1.7 - 0.3)), rtol=1e-12, atol=1e-300)
    assert p.shape == (7, 2) and np.allclose(p.sum(axis=1), 1.0) and p[0, 1] > 0.999 and p[-1, 1] < 1e-300


@pytest.mark.parametrize("flipped", [0.25, 0.01])
def test_platt_fit_is_the_one_calibrated_classifier_cv_makes(flipped):
    """training.train._platt against scikit-learn's public sigmoid calibration on the same
    cross-validated decisions: the same slope and intercept, weighted or not, and with
    decisions large enough to be rescaled (|d| >= 30)."""
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold

    from training.train import _platt

    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 5))
    y = ((X[:, 0] > 0.3) ^ (rng.random(400) < flipped)).astype(int)  # nearly separable: large decisions
    w = rng.uniform(0.5, 2.0, 400)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    base = LogisticRegression(C=1e4, max_iter=5000)
    cal = CalibratedClassifierCV(base, method="sigmoid", ensemble=False, cv=cv).fit(X, y, sample_weight=w)
    d = np.zeros(len(y))
    for tr, te in cv.split(X, y):
        d[te] = clone(base).fit(X[tr], y[tr], sample_weight=w[tr]).decision_function(X[te])
    assert (np.abs(d).max() >= 30) == (flipped < 0.1)
    a, b = _platt(d, y, w)
    platt = cal.calibrated_classifiers_[0].calibrators[0]
    assert (a, b) == pytest.approx((platt.a_, platt.b_), rel=1e-6)
    assert a < 0  # higher decisions, higher probability
    assert _platt(d, y, np.ones(len(y))) != pytest.approx((a, b), rel=1e-3)


def test_flag_with_a_character_member_is_the_platt_scaled_mixture_of_both():
    """TrainConfig.flag_char_head: each member on its own Platt log-odds, shared, Platt-scaled once
    more, and exported as one sigmoid head that gives the same probabilities."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    from training.train import _platt

    texts = ["行驶中刹车失灵", "高速行驶中熄火", "转向卡滞影响安全", "发动机异响", "车机卡顿死机", "车门异响",
             "轮胎爆胎", "座椅掉皮"] * 6
    labels = ["1", "1", "1", "0", "0", "0", "1", "0"] * 6
    labels[3] = labels[12] = "1"  # a few hard rows, so that the members disagree somewhere
    words = TfidfVectorizer(analyzer="char", ngram_range=(2, 2)).fit_transform(texts)
    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 1)).fit_transform(texts)
    import scipy.sparse as sp
    X = sp.hstack([words, chars]).tocsr().astype(np.float32)
    char_cols = np.arange(words.shape[1], X.shape[1])
    w = np.ones(len(labels))
    cfg = TrainConfig(folds=3)
    head = _fit_head(X, labels, w, 2.0, cfg, char_columns=char_cols, char_share=0.5)

    y = np.array([int(v) for v in labels])
    cv = StratifiedKFold(3, shuffle=True, random_state=cfg.seed)
    base = LogisticRegression(C=2.0, class_weight="balanced", max_iter=3000)
    mixed_cv, mixed = np.zeros(len(y)), np.zeros(len(y))
    for Xm in (X, X[:, char_cols]):
        d = np.zeros(len(y))
        for tr, te in cv.split(Xm, y):
            d[te] = clone(base).fit(Xm[tr], y[tr]).decision_function(Xm[te])
        a, b = _platt(d, y, w)
        mixed_cv += 0.5 * -(a * d + b)
        mixed += 0.5 * -(a * clone(base).fit(Xm, y).decision_function(Xm) + b)
    a, b = _platt(mixed_cv, y, w)
    expected = 1 / (1 + np.exp(a * mixed + b))

    assert head.method == "sigmoid" and head.classes == ["0", "1"]
    np.testing.assert_allclose(head.predict_proba(X)[:, 1], expected, atol=1e-5)
    alone = _fit_head(X, labels, w, 2.0, cfg)
    assert np.abs(alone.predict_proba(X)[:, 1] - expected).max() > 1e-3
    # The evidence is the member over all columns: its character weights are not the mixture's.
    assert head.evidence_coef is not None and head.evidence_coef.shape == head.coef.shape
    assert not np.allclose(head.evidence_coef[0, char_cols], head.coef[0, char_cols])


def test_fit_gives_the_configured_flags_their_character_member(small_model):
    assert TrainConfig().flag_char_head == {"safety": 0.5}
    assert small_model.heads["flags.safety"].evidence_coef is not None
    assert {f for f in FLAGS if small_model.heads[f"flags.{f}"].evidence_coef is not None} == {"safety"}


def test_names_come_out_whole_and_in_any_order_when_they_overlap():
    from training.train import without_names

    for names in (("华晨宝马", "宝马3系"), ("宝马3系", "华晨宝马")):
        assert without_names("华晨宝马3系油箱漏油", names) == "油箱漏油"
    assert without_names("元元的元", ("元",)) == "的"
    assert without_names("比亚迪汉新车", ("", "汉")) == "比亚迪新车"
    assert without_names("刹车失灵", ()) == "刹车失灵"


def test_brand_columns_are_the_vehicle_name_and_its_edges():
    from training.dataset import Example
    from training.train import brand_columns

    texts = ["东风日产逍客变速箱异响", "东风日产逍客刹车异响", "变速箱漏油", "刹车异响"]
    rows = [Example(f"r{i}", t, "real", "train") for i, t in enumerate(texts)]
    space = FeatureSpace(1, None, None).fit([normalize(t).text for t in texts])
    X = space.transform([normalize(t).text for t in texts])
    brand = brand_columns(space, X, rows, {"r0": ("东风日产", "逍客"), "r1": ("东风日产", "逍客")}, 0.1)
    names = set(space.names_[brand])
    assert {"c:逍", "c:逍客", "c:东风", "c:客变", "c:客刹"} <= names, sorted(names)
    assert not names & {"c:变", "c:变速", "c:异响", "c:刹车", "c:漏油"}
    assert not brand[space.n_text_:].any()  # cues and register columns are never the brand's
    # Rows without a known name tell nothing about it.
    assert not brand_columns(space, X, rows, {}, 0.1).any()


def test_a_brand_blind_head_has_no_weight_on_the_vehicle_name_and_the_others_do(small_model):
    from dataclasses import replace

    from tests.conftest import small_examples
    from training.dataset import vehicle_names
    from training.train import brand_columns, fit

    rows = small_examples()
    blind, _ = fit(rows, replace(TrainConfig(folds=3), brand_blind=("category",)), "test-blind")
    texts = [normalize(e.text).text for e in rows]
    brand = brand_columns(blind.space, blind.space.transform(texts), rows, vehicle_names(), 0.1)
    assert brand.sum() == blind.config["brand_columns"] > 0
    assert not blind.heads["category"].coef[:, brand].any()
    assert np.abs(blind.heads["category"].coef[:, ~brand]).sum() > 0
    assert np.abs(blind.heads["business_line"].coef[:, brand]).sum() > 0
    # The served setting reads the make (TrainConfig.brand_blind is empty): nothing is left out.
    assert small_model.config["brand_columns"] == 0
    assert np.abs(small_model.heads["category"].coef[:, brand]).sum() > 0
