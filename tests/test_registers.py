"""Both registers of real complaints: the labelled set keeps each source's test month unseen,
heads keep their own argmax, each register has its own biases and thresholds, a major
flag needs a word of its own, and a long text's evidence is the clause that decided it."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from training import compare, dataset
from training.codes import labels_from_area, labels_from_codes, labels_of_code
from training.experiments import dev_fold, is_dev
from training.peers import CharTfidfLR, FastTextPeer
from training.train import TrainConfig, _fit_head, fit
from triage.classify.base import Decoder
from triage.classify.cues import find_cues_batch
from triage.classify.labels import FLAGS, REGISTER
from triage.classify.sklearn import LinearHead, SklearnModel
from triage.text.normalize import normalize

TEXTS = ["大众朗逸变速箱顿挫", "4S店服务态度恶劣", "多次维修未解决", "新车加价提车", "发动机异响", "销售承诺不兑现"] * 8
Y3 = ["pq", "service", "rq", "service", "pq", "service"] * 8


@pytest.mark.parametrize(("area", "kind", "expected"), [
    ("发动机", "异响", (("after_sales",), ("product_quality",))),
    ("销售欺诈", "变更价格", (("sales",), None)),
    ("销售欺诈", "过度保养", (("after_sales",), ("service",))),
    ("服务态度", "态度蛮横", (None, ("service",))),
    ("服务态度", "不予索赔", (("after_sales",), ("service",))),
    ("承诺不兑现", "未按时交付", (("sales",), ("service",))),
    ("人员技术", "多次返修", (("after_sales",), ("repair_quality",))),
    ("配件争议", "无零配件", (("after_sales",), ("service", "product_quality"))),
    ("其他原因", "厂家不召回", (("after_sales",), ("product_quality", "service"))),
    ("", "", (None, None)),
])
def test_narrative_problem_areas_map_as_the_data_readme_says(area, kind, expected):
    assert labels_from_area(area, kind) == expected


@pytest.mark.parametrize(("codes", "expected"), [
    (["A9"], (("after_sales",), ("product_quality",))),
    (["J298"], (("after_sales",), ("repair_quality",))),
    (["I281"], (None, ("service",))),
    (["M279"], (("sales",), None)),
    (["K309"], (("sales",), ("service", "other"))),
    # the union of what each code allows, in the codes' order; unknown and blank codes decide nothing
    (["A9", "H146", "I297"], (("after_sales",), ("product_quality", "service"))),
    (["M280", "A12"], (("sales", "after_sales"), ("product_quality",))),
    (["P1", " ", "Q7"], (None, None)),
])
def test_one_liner_codes_map_as_the_data_readme_says(codes, expected):
    assert labels_from_codes(codes) == expected


def test_one_code_says_what_it_allows_and_nothing_where_it_does_not_decide():
    assert labels_of_code("I281") == ((), ("service",))
    assert labels_of_code(" B12 ") == (("after_sales",), ("product_quality",))
    assert labels_of_code("P1") == ((), ()) and labels_of_code("  ") == ((), ())


def test_the_sites_own_groups_are_read_for_every_real_row():
    groups = dataset.site_groups()
    real = dataset.real_examples()
    assert len(groups) == len(real) == 26_102 + 2_667
    summaries = [groups[e.id] for e in real if e.register == "summary"]
    narratives = [groups[e.id] for e in real if e.register == "narrative"]
    assert sum(1 for g in summaries if g) == 24_726 and not any(c.startswith("area:") for g in summaries for c in g)
    assert len(summaries) == 26_102 and len(narratives) == 2_667
    assert sum(1 for g in narratives if len(g) == 1 and g[0].startswith("area:")) == 2_667
    assert sum(1 for g in narratives if g == ("area:",)) == 1  # the one row the site left without an area
    assert len({g[0] for g in narratives}) == 20


def test_each_source_keeps_its_latest_month_unseen():
    real = dataset.real_examples()
    by_register = {r: [e for e in real if e.register == r] for r in ("summary", "narrative")}
    assert len(by_register["summary"]) == 26_102 and len(by_register["narrative"]) == 2_667
    for register, month in dataset.TEST_MONTHS.items():
        rows = by_register[register]
        assert {e.split for e in rows if e.date.startswith(month)} == {"test"}
        assert {e.split for e in rows if not e.date.startswith(month)} == {"train"}
        assert max(e.date for e in rows if e.split == "train") < month


def test_the_development_folds_hold_out_two_one_liner_months_and_every_training_narrative():
    examples = dataset.build()
    folds = Counter((dev_fold(e), e.register) for e in examples)
    assert folds[(0, "summary")] == 4_650 and folds[(1, "summary")] == 5_100
    assert folds[(0, "narrative")] == 449 and folds[(1, "narrative")] == 522
    assert folds[(0, "narrative")] + folds[(1, "narrative")] == 95 + 876  # 2024-01 and 2024-02, all of them
    held = [e for e in examples if dev_fold(e) is not None]
    assert len(held) == 4_650 + 5_100 + 449 + 522
    assert {(e.source, e.split) for e in held} == {("real", "train")}
    assert {e.date[:7] for e in held if e.register == "summary"} == {"2020-10", "2020-11"}
    # Fold 0 is the development split every earlier choice was made on.
    train = [e for e in examples if e.split == "train"]
    assert len(train) == 21_931 + 1_268
    assert sum(1 for e in train if is_dev(e)) == 4_650 + 449
    assert [dev_fold(e) == 0 for e in train] == [is_dev(e) for e in train]


def test_annotated_narratives_carry_severity_and_every_flag():
    narratives = [e for e in dataset.narrative_examples() if e.gold["severity"]]
    assert len(narratives) == 875
    assert sum(1 for e in narratives if all(e.flags[f] is not None for f in FLAGS)) == 875
    # The guide's rule holds in the gold: a flag other than repeat makes the complaint major
    # (major without one is allowed: harm to the brand's name).
    flagged = [e for e in narratives if any(e.flags[f] for f in FLAGS if f != "repeat")]
    assert flagged and all(e.gold["severity"] == ("major",) for e in flagged)


def test_a_softmax_head_keeps_the_models_own_argmax():
    X = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit_transform(TEXTS).tocsr().astype(np.float32)
    head = _fit_head(X, Y3, np.ones(len(Y3)), 2.0, TrainConfig(folds=3), None, softmax=True)
    assert head.method == "softmax" and head.calib_a[0] > 0
    p = head.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert (p.argmax(axis=1) == head.decision(X).argmax(axis=1)).all()


def test_a_character_member_is_mixed_into_one_linear_head():
    """TrainConfig.char_head: the full model's and a character-only model's tempered logits,
    summed by share, served as one head; the character member has no weight off its columns."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from training.train import _fit_softmax_head

    X = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit_transform(TEXTS).tocsr().astype(np.float32)
    y, w = np.array(Y3), np.ones(len(Y3))
    chars = np.arange(X.shape[1] // 2, X.shape[1])
    base = LogisticRegression(C=2.0, max_iter=3000)
    cv = StratifiedKFold(3, shuffle=True, random_state=13)
    alone = _fit_softmax_head(X, y, w, base, cv, [(chars, 1.0)])
    assert not alone.coef[:, :chars[0]].any() and alone.coef[:, chars].any()
    full = clone(base).fit(X, y, sample_weight=w)
    char_only = clone(base).fit(X[:, chars], y, sample_weight=w)
    mixed = _fit_softmax_head(X, y, w, base, cv, [(None, 0.5), (chars, 0.5)])
    d = mixed.decision(X)
    # The mixture is a positive combination of the two members' decisions, per class alike.
    a, b = np.linalg.lstsq(np.column_stack([full.decision_function(X).ravel(),
                                            char_only.decision_function(X[:, chars]).ravel()]),
                           d.ravel(), rcond=None)[0]
    np.testing.assert_allclose(d, a * full.decision_function(X) + b * char_only.decision_function(X[:, chars]),
                               rtol=1e-4, atol=1e-4)
    assert a > 0 and b > 0
    assert mixed.calib_a[0] > 0 and mixed.classes == alone.classes == ["pq", "rq", "service"]
    # The evidence is the full member's: the same weights off the character columns, its own on them.
    assert alone.evidence_coef is None and mixed.evidence_coef is not None
    np.testing.assert_allclose(mixed.evidence_coef[:, :chars[0]], mixed.coef[:, :chars[0]], rtol=1e-6)
    assert not np.allclose(mixed.evidence_coef[:, chars], mixed.coef[:, chars])


def test_evidence_is_read_from_the_evidence_weights(small_model, tmp_path):
    import dataclasses
    import hashlib

    head = small_model.heads["category"]
    assert head.evidence_coef is not None  # TrainConfig.char_head mixes a character member into it
    words = np.array([n.startswith("w:") for n in small_model.space.names_.tolist()])
    heads = {**small_model.heads, "category": dataclasses.replace(head, evidence_coef=head.coef * words)}
    words_only = SklearnModel(small_model.space, heads, small_model.config)
    texts = ["4S店服务态度恶劣，销售承诺不兑现", "发动机异响，多次维修未解决"]
    kinds = {e.feature.split(":")[0] for p in words_only.predict(texts) for e in p.evidence if e.head == "category"}
    assert kinds == {"w"}
    words_only.save(tmp_path / "m")
    hashes = {n: hashlib.sha256((tmp_path / "m" / n).read_bytes()).hexdigest() for n in ("model.npz", "model.json")}
    loaded = SklearnModel.load(tmp_path / "m", hashes)
    np.testing.assert_array_equal(loaded.heads["category"].evidence_coef, heads["category"].evidence_coef)
    assert [p.to_dict() for p in loaded.predict(texts)] == [p.to_dict() for p in words_only.predict(texts)]


def test_a_binary_softmax_head_turns_one_decision_into_two_columns():
    head = LinearHead(["a", "b"], np.zeros((1, 3), np.float32), np.zeros(1), np.array([2.0]), np.zeros(1),
                      method="softmax")
    p = head.proba_from_decision(np.array([[0.0], [1.0], [-1.0]]))
    np.testing.assert_allclose(p[:, 1], [0.5, 1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(2.0))])
    assert p.shape == (3, 2) and np.allclose(p.sum(axis=1), 1.0)


def test_the_calibration_method_survives_a_round_trip(small_model, tmp_path):
    small_model.save(tmp_path / "m")
    import hashlib

    hashes = {n: hashlib.sha256((tmp_path / "m" / n).read_bytes()).hexdigest() for n in ("model.npz", "model.json")}
    loaded = SklearnModel.load(tmp_path / "m", hashes)
    assert {n: h.method for n, h in loaded.heads.items()} == {n: h.method for n, h in small_model.heads.items()}
    assert small_model.heads["category"].method == "softmax"
    assert small_model.heads["flags.safety"].method == "sigmoid"
    texts = ["发动机异响", "4S店态度差，" * 20]
    assert [p.to_dict() for p in loaded.predict(texts)] == [p.to_dict() for p in small_model.predict(texts)]


LONG = "我的车买了半年，发动机一直有异响，去店里看了三次都说是正常现象，" * 3


def _with(model: SklearnModel, **config) -> SklearnModel:
    return SklearnModel(model.space, model.heads, {**model.config, **config})


def test_each_register_has_its_own_decision_bias(small_model):
    short_bias = _with(small_model, decision_bias={"category": {"repair_quality": 50.0}}, decision_bias_long={},
                       decision_bias_max_chars=40)
    assert short_bias.predict(["发动机异响"])[0].category == "repair_quality"
    assert short_bias.predict([LONG])[0].category == small_model.predict([LONG])[0].category
    long_bias = _with(small_model, decision_bias={}, decision_bias_long={"category": {"other": 50.0}},
                      decision_bias_max_chars=40)
    assert long_bias.predict([LONG])[0].category == "other"
    assert long_bias.predict(["发动机异响"])[0].category == small_model.predict(["发动机异响"])[0].category


def test_each_register_has_its_own_flag_thresholds(small_model):
    m = _with(small_model, flag_thresholds={**small_model.config["flag_thresholds"], "repeat": 1.1},
              flag_thresholds_long={"repeat": 0.0}, decision_bias_max_chars=40, flags_need_cue=[])
    assert "repeat" not in m.predict(["发动机异响"])[0].flags
    assert "repeat" in m.predict([LONG])[0].flags


def test_a_one_liners_cue_of_a_flag_lowers_its_threshold_there_only(small_model):
    never = {**small_model.config["flag_thresholds"], "safety": 1.1}
    plain = _with(small_model, flag_thresholds=never, flag_thresholds_long=never, flag_thresholds_cued={},
                  decision_bias_max_chars=40)
    cued = _with(plain, flag_thresholds_cued={"safety": 1e-9})
    texts = ["行驶中刹车失灵", "发动机异响", LONG + "行驶中刹车失灵"]
    assert ["safety" in p.flags for p in plain.predict(texts)] == [False, False, False]
    # Only a one-liner with a safety cue: the one without is at the plain threshold, the long text at its own.
    assert ["safety" in p.flags for p in cued.predict(texts)] == [True, False, False]


def _reading_every_text(model: SklearnModel, register: str) -> SklearnModel:
    """`model` with a register head that reads every text as `register` (p = 0.993)."""
    width = model.space.n_features_
    b = -5.0 if register == "summary" else 5.0  # p(summary) = 1 / (1 + e^b)
    head = LinearHead(["narrative", "summary"], np.zeros((1, width), dtype=np.float32), np.zeros(1),
                      np.ones(1), np.array([b]))
    return SklearnModel(model.space, {**model.heads, REGISTER: head}, model.config)


def test_a_short_text_read_as_told_in_full_gets_the_longer_texts_settings(small_model):
    settings = dict(decision_bias={"category": {"repair_quality": 50.0}},
                    decision_bias_long={"category": {"other": 50.0}},
                    flag_thresholds={**small_model.config["flag_thresholds"], "repeat": 1.1},
                    flag_thresholds_long={"repeat": 0.0}, decision_bias_max_chars=40, flags_need_cue=[])
    base = _with(small_model, **settings)
    told = _reading_every_text(base, "narrative").predict(["没有任何处理", LONG])
    summary = _reading_every_text(base, "summary").predict(["没有任何处理", LONG])
    by_length = base.predict(["没有任何处理", LONG])
    assert [p.category for p in told] == ["other", "other"]
    assert ["repeat" in p.flags for p in told] == [True, True]
    # Read as a summary, a short text keeps the one-line settings; a long text is long whatever it reads.
    assert [p.category for p in summary] == ["repair_quality", "other"]
    assert ["repeat" in p.flags for p in summary] == [False, True]
    assert [p.category for p in by_length] == ["repair_quality", "other"]


def test_the_decoder_reads_the_register_head_only_on_short_texts():
    classes = {"business_line": ["after_sales", "sales"], "category": ["product_quality", "service"],
               "severity": ["grumble", "major"], REGISTER: ["narrative", "summary"]}
    decoder = Decoder(classes, {"decision_bias": {"business_line": {"sales": 1.6}},
                                "decision_bias_long": {"business_line": {"sales": -0.2}},
                                "decision_bias_max_chars": 40})
    texts = ["没有任何处理", "大众朗逸4S店加价提车", LONG]
    probs = {"business_line": np.array([[0.7, 0.3]] * 3), "category": np.array([[0.9, 0.1]] * 3),
             "severity": np.array([[0.9, 0.1]] * 3), REGISTER: np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 0.8]])}
    assert decoder.short(texts, probs).tolist() == [False, True, False]
    assert decoder.short(texts).tolist() == [True, True, False]  # no probabilities: by length
    assert decoder.choose(texts, probs)["business_line"].tolist() == [0, 1, 0]
    without = {k: v for k, v in probs.items() if k != REGISTER}
    assert decoder.choose(texts, without)["business_line"].tolist() == [1, 1, 0]


def test_the_register_head_is_fitted_on_the_short_rows_of_known_register():
    from tests.conftest import small_examples

    summaries = small_examples()  # 400 real one-liners and 30 written ones, all short
    narratives = [replace(e, gold={**e.gold, "severity": ("grumble",)}, flags={})
                  for e in dataset.real_examples() if e.split == "train" and e.register == "narrative"]
    told = [e for e in narratives if len(normalize(e.text).text) <= 40]
    long = [e for e in narratives if len(normalize(e.text).text) > 200][:20]
    correction = replace(told[150], id="fb-1", source="feedback")  # filed as a summary, its register unknown
    model, counts = fit([*summaries, *told[:150], correction, *long], TrainConfig(folds=3), "test-register", ())
    assert counts[REGISTER] == {"summary": 430, "narrative": 150}  # no correction, no long narrative

    held = [e for e in dataset.real_examples() if e.split == "test" and e.register == "summary"][:300] + told[151:301]
    texts = [normalize(e.text).text for e in held]
    probs, _ = model.head_probabilities(texts, find_cues_batch(texts))
    read = probs[REGISTER][:, model.heads[REGISTER].classes.index("summary")] >= 0.5
    right = Counter(e.register for e, r in zip(held, read) if r == (e.register == "summary"))
    assert right["summary"] >= 270 and right["narrative"] >= 105, right  # a constant reading fails one

    only_summaries, counts = fit(summaries, TrainConfig(folds=3), "test-register", ())
    assert REGISTER not in only_summaries.heads and counts[REGISTER] == {"summary": 430}


def test_the_shipped_model_reads_most_short_narratives_as_told_in_full_and_one_liners_as_summaries():
    """The served model's register head on the test months: of sklearn-20261202T081629Z, 431 of the
    567 narratives of 40 characters or fewer read as told in full, 3 of the 5,142 one-liners."""
    from triage.classify import registry

    model = registry.load()
    assert REGISTER in model.heads, "the served model has no register head (TrainConfig.register_head)"
    test = [e for e in dataset.real_examples() if e.split == "test"]
    read = {}
    for register in ("summary", "narrative"):
        texts = [t for t in (normalize(e.text).text for e in test if e.register == register) if len(t) <= 40]
        probs, _ = model.head_probabilities(texts, find_cues_batch(texts))
        as_summary = probs[REGISTER][:, model.heads[REGISTER].classes.index("summary")] >= 0.5
        read[register] = (len(texts), int(as_summary.sum()))
    (n_summaries, summaries_read), (n_narratives, narratives_as_summary) = read["summary"], read["narrative"]
    assert n_summaries == 5142 and summaries_read >= 0.99 * n_summaries, read
    assert n_narratives == 567 and n_narratives - narratives_as_summary >= 0.6 * n_narratives, read


def test_a_major_flag_needs_a_cue_of_its_own(small_model):
    everything = {f: 1e-9 for f in FLAGS}
    raise_all = _with(small_model, flag_thresholds=everything, flag_thresholds_long=everything, flags_need_cue=[])
    assert {"media", "legal"} <= set(raise_all.predict(["发动机异响"])[0].flags)
    gated = _with(small_model, flag_thresholds=everything, flag_thresholds_long=everything,
                  flags_need_cue=["media", "legal", "government", "extreme"])
    p = gated.predict(["发动机异响"])[0]
    assert not {"media", "legal", "government", "extreme"} & set(p.flags)
    assert gated.predict(["再不解决我就找记者曝光"])[0].flags.count("media") == 1


def test_a_long_texts_flag_evidence_is_the_clause_that_decided_it(small_model):
    text = "车子买来半年变速箱一直顿挫，4S店一直推诿不处理，我已经向市场监管局投诉了，希望尽快解决。" * 2
    m = _with(small_model, flag_thresholds_long={"government": 1e-9}, decision_bias_max_chars=40)
    p = m.predict([text])[0]
    ev = [e for e in p.evidence if e.head == "flags.government"]
    assert ev and all(text[e.start:e.end] == e.text for e in ev)
    assert any("市场监管局" in e.text and len(e.text) > len("市场监管局") for e in ev)
    short = _with(small_model, flag_thresholds={"government": 1e-9}, decision_bias_max_chars=10**6).predict([text])[0]
    assert {e.text for e in short.evidence if e.head == "flags.government"} <= {"市场监管局", "投诉", "监管局"}


@pytest.mark.parametrize("peer", [CharTfidfLR, FastTextPeer])
def test_a_peer_fits_and_predicts_the_labels_it_saw(peer):
    est = peer().fit(TEXTS, Y3, np.ones(len(Y3)))
    predicted = est.predict(TEXTS[:6])
    assert set(predicted) <= set(Y3)
    assert sum(p == y for p, y in zip(predicted, Y3[:6])) >= 5
    probs, classes = est.predict_proba(TEXTS[:6])
    assert sorted(classes) == sorted(set(Y3)) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert [classes[j] for j in probs.argmax(axis=1)] == predicted


def test_the_comparison_table_marks_the_best_figure_per_row():
    figures = {
        "ours": {"summary": {"category": {"n": 10, "accuracy": 0.9, "per_class": {
            "service": {"recall": 0.8, "precision": 0.7, "n": 5}}}}},
        "peer": {"summary": {"category": {"n": 10, "accuracy": 0.95, "per_class": {
            "service": {"recall": 0.6, "precision": 0.9, "n": 5}}}}},
    }
    table = compare.table(figures)
    assert "| category accuracy (n=10) | 0.900 | **0.950** |" in table
    assert "| category service recall (n=5) | **0.800** | 0.600 |" in table
    assert compare.shortfalls(figures, "ours") == ["summary category accuracy: peer 0.950 > 0.900",
                                                   "summary category service precision: peer 0.900 > 0.700"]


def test_the_shortfalls_list_flags_too_and_says_which_gaps_the_rows_tell_apart():
    """The card listed the heads' shortfalls only, though its docstring promised the flags: a peer's
    higher safety precision never reached the list."""
    from triage.classify.bootstrap import paired

    rnd = np.random.default_rng(0)
    gold = rnd.random(400) < 0.3
    flagged = [({"category": ("service",)}, frozenset({"safety"} if g else ()), {"category": "service"},
                ["safety"] if g or i % 5 == 0 else []) for i, g in enumerate(gold)]
    stricter = [(g, f, {"category": "service" if i >= 2 else "other"}, ["safety"] if "safety" in f else [])
                for i, (g, f, _, _) in enumerate(flagged)]
    comparison = compare.Comparison(
        figures={"ours": {"summary": _scored(flagged)}, "peer": {"summary": _scored(stricter)}},
        intervals={"peer": {"summary": paired(flagged, stricter, draws=300)}})
    ours_precision = comparison.figures["ours"]["summary"]["flags"]["per_flag"]["safety"]["precision"]
    assert 0.5 < ours_precision < 0.8
    (line,) = compare.shortfalls(comparison.figures, "ours", comparison.intervals)
    assert line.startswith(f"summary safety flag precision: peer 1.000 > {ours_precision:.3f} "
                           f"(difference +{1 - ours_precision:.3f} [+")
    assert line.endswith(", beyond noise)")
    leads = compare.clear_leads(comparison, "ours")["peer"]
    behind = f"summary safety flag precision -{1 - ours_precision:.3f}"  # ours minus the peer's
    assert [line.split(" [")[0] for line in leads["peer"]] == [behind]
    # two rows of four hundred: the peer is behind on category, but not so the rows can tell
    category = comparison.intervals["peer"]["summary"][("category", "accuracy")]
    assert category.difference == -0.005 and category.low < 0 <= category.high and not category.clear
    assert not [line for line in leads["ours"] + leads["peer"] if "category" in line]
    assert any(line.startswith("summary category service recall") for line in compare.shortfalls(
        {"ours": comparison.figures["peer"], "peer": comparison.figures["ours"]}, "ours"))
    assert "intervals" in comparison.as_json() and "flags/safety/precision" in comparison.as_json()["intervals"][
        "peer"]["summary"]


def _scored(rows) -> dict:
    from triage.classify.evaluate import score

    return score((gold, flags, {"business_line": "sales", "severity": "grumble", **predicted}, raised)
                 for gold, flags, predicted, raised in rows)
