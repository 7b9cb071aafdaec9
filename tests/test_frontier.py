"""training.frontier, the harness of issue 12's choices on the development rows: its levers
do what they say on tiny data (the real measurement is `python -m training.frontier`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import small_examples
from training import experiments
from training.dataset import Example
from training.frontier import (
    SummedHead,
    Variant,
    across_folds,
    aligned,
    cross_validated,
    evaluate,
    fine_label,
    fit_heads,
    is_long,
    latest_months,
    mixed_on,
    nb_scale,
    noisy_rows,
    pooled_probabilities,
    severity_frontier,
    with_long_copy,
)
from training.train import TrainConfig, _expand, _fit_head
from triage.classify.features import FeatureSpace
from triage.text.normalize import normalize

LONG = "我的车买了半年，发动机一直有异响，去店里看了三次都说是正常现象，" * 3


def _dev() -> list[Example]:
    return [Example("d1", LONG, "real", "train", "narrative", "2024-02", {"severity": ("complaint",)}, {}),
            Example("d2", LONG + "行驶中刹车失灵", "real", "train", "narrative", "2024-02",
                    {"severity": ("major",)}, {}),
            Example("d3", "发动机异响", "real", "train", "summary", "2020-11", {"severity": ("grumble",)}, {})]


@pytest.fixture(scope="module")
def sweep(small_model) -> dict[tuple[float, float], dict]:
    lines = severity_frontier(small_examples(), _dev(), TrainConfig(folds=3), shares=(0.0, 0.5), grid=(0.0, 50.0),
                              model=small_model)
    return {(line["char_head"], line["major_bias_long"]): line for line in lines}


def test_a_major_bias_on_long_texts_moves_the_narratives_alone(sweep):
    for share in (0.0, 0.5):
        biased = sweep[(share, 50.0)]
        assert biased["narrative"]["major_recall"] == 1.0 and biased["narrative"]["recall"]["complaint"] == 0.0
        assert biased["summary"] == sweep[(share, 0.0)]["summary"]


def test_the_severity_sweep_scores_each_register_on_its_annotated_rows(sweep):
    assert set(sweep) == {(0.0, 0.0), (0.0, 50.0), (0.5, 0.0), (0.5, 50.0)}
    line = sweep[(0.0, 0.0)]
    assert (line["narrative"]["n"], line["narrative"]["major_support"]) == (2, 1)
    assert (line["summary"]["n"], line["summary"]["major_support"]) == (1, 0)


def test_the_long_copy_holds_the_long_rows_features_a_second_time():
    X = sp.csr_matrix(np.array([[1.0, 2.0], [3.0, 0.0]], dtype=np.float32))
    got = with_long_copy(X, np.array([False, True]), 0.5).toarray()
    assert got.tolist() == [[1.0, 2.0, 0.0, 0.0], [3.0, 0.0, 1.5, 0.0]]
    assert is_long(["短", "长" * 41], TrainConfig()).tolist() == [False, True]


def test_a_member_is_mixed_into_the_chosen_rows_only_over_the_heads_classes():
    theirs = aligned(np.array([[0.2, 0.8], [0.6, 0.4]]), ["service", "product_quality"],
                     ["other", "product_quality", "service"])
    assert theirs.tolist() == [[0.0, 0.8, 0.2], [0.0, 0.4, 0.6]]
    ours = np.array([[0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])
    got = mixed_on(ours, theirs, np.array([True, False]), 0.25)
    assert np.allclose(got[0], [0.075, 0.275, 0.65]) and got[1].tolist() == ours[1].tolist()


def _heads(v: Variant, rows: list[Example], groups: dict[str, tuple[str, ...]] | None = None):
    texts = [normalize(e.text).text for e in rows]
    space = FeatureSpace(1, 5000, 5000).fit(texts)
    X = space.transform(texts)
    n_words = len(space.word_terms_)
    char_cols = np.arange(n_words, n_words + len(space.char_terms_))
    if v.long_copy:
        X = with_long_copy(X, is_long(texts, v.cfg), v.long_copy)
    return space, fit_heads(rows, X, v, char_cols, groups=groups)


def _narratives(gold: dict[str, tuple[str, ...]], start: int) -> list[Example]:
    return [Example(f"n{i}", LONG + f"第{i}次", "real", "train", "narrative", "2024-01", dict(gold), {})
            for i in range(start, start + 6)]


SALES = _narratives({"business_line": ("sales",), "category": ("service",)}, 0)
REPAIR = _narratives({"business_line": ("after_sales",), "category": ("product_quality",)}, 6)


def test_the_long_copy_gives_long_texts_weights_of_their_own():
    rows = small_examples() + SALES + REPAIR
    space, heads = _heads(Variant(cfg=TrainConfig(folds=3), long_copy=1.0), rows)
    width = len(space.names_)
    coef = heads["category"].coef
    assert coef.shape[1] == 2 * width and np.abs(coef[:, width:]).sum() > 0
    _, plain = _heads(Variant(cfg=TrainConfig(folds=3)), rows)
    assert plain["category"].coef.shape[1] == width


def test_a_class_weight_on_long_texts_weighs_the_narratives_of_that_class_alone():
    rows = small_examples() + SALES + REPAIR
    space, plain = _heads(Variant(cfg=TrainConfig(folds=3)), rows)
    _, heavy = _heads(Variant(cfg=TrainConfig(folds=3), long_class_weight={"business_line": {"sales": 20.0}}), rows)
    X = space.transform([normalize(e.text).text for e in SALES + REPAIR])
    sales = plain["business_line"].classes.index("sales")
    p_plain, p_heavy = (h["business_line"].predict_proba(X)[:, sales] for h in (plain, heavy))
    assert p_heavy.mean() > p_plain.mean() + 0.05
    assert np.allclose(heavy["category"].coef, plain["category"].coef)


def test_recent_weight_weighs_each_registers_latest_month_alone():
    later = [Example(f"m{i}", e.text, "real", "train", "narrative", "2024-02",
                     {"business_line": ("sales",), "category": ("service",)}, {}) for i, e in enumerate(REPAIR)]
    rows = small_examples() + SALES + REPAIR + later
    assert latest_months(rows)["narrative"] == "2024-02"
    space, plain = _heads(Variant(cfg=TrainConfig(folds=3)), rows)
    _, recent = _heads(Variant(cfg=TrainConfig(folds=3), recent_weight=20.0), rows)
    # The same texts are sales in the latest month and after-sales before it: weighing the
    # latest month up moves them towards sales.
    X = space.transform([normalize(e.text).text for e in REPAIR])
    sales = plain["business_line"].classes.index("sales")
    assert recent["business_line"].predict_proba(X)[:, sales].mean() > \
        plain["business_line"].predict_proba(X)[:, sales].mean() + 0.05


def test_pooled_probabilities_read_each_sentence_with_the_same_heads(small_model):
    texts = ["行驶中刹车失灵，4S店服务态度很差。销售经理不回电话", "发动机异响"]
    rows = [Example(f"p{i}", t, "real", "train", "narrative", "2024-02", {}, {}) for i, t in enumerate(texts)]
    pooled = pooled_probabilities(small_model, rows)
    pieces = ["行驶中刹车失灵", "4S店服务态度很差", "销售经理不回电话"]
    for head in ("business_line", "category"):
        ours = small_model.heads[head].predict_proba(small_model.space.transform(pieces))
        assert np.allclose(pooled[head]["first"][0], ours[0])
        assert np.allclose(pooled[head]["mean"][0], ours.mean(axis=0))
        # A text of one piece is its own mean and first, and the whole is read as a whole.
        whole = small_model.heads[head].predict_proba(small_model.space.transform([normalize(t).text for t in texts]))
        assert np.allclose(pooled[head]["whole"], whole)
        assert np.allclose(pooled[head]["mean"][1], whole[1]) and np.allclose(pooled[head]["first"][1], whole[1])


def test_nb_scale_weighs_up_the_text_columns_that_tell_the_classes_apart():
    # columns: one in every row, one in the sales rows alone, one in one row of each class; a cue column
    X = sp.csr_matrix(np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 0, 1], [1, 0, 1, 0], [1, 0, 0, 0],
                                [1, 0, 0, 1]], dtype=np.float32))
    ys = ["sales"] * 3 + ["after_sales"] * 3
    scale = nb_scale(X, ys, np.ones(6), n_text=3, share=1.0)
    assert scale[1] > scale[0] and scale[1] > scale[2] and scale[3] == 1.0 and np.isclose(scale[:3].mean(), 1.0)
    assert np.allclose(nb_scale(X, ys, np.ones(6), n_text=3, share=0.0), 1.0)
    half = nb_scale(X, ys, np.ones(6), n_text=3, share=0.5)
    assert np.allclose(half[:3], 0.5 + 0.5 * scale[:3])
    # by register: each register's ratio apart, a column's the larger. Column 2 is in one row of each class
    # overall, but in the narratives' sales row alone; a register of one class tells nothing apart.
    X2 = sp.csr_matrix(np.array([[1, 0, 1, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0],
                                 [1, 0, 1, 0]], dtype=np.float32))
    narrative = np.array([True, False, False, True, False, False])
    pooled = nb_scale(X2, ys, np.ones(6), n_text=3, share=1.0)
    apart = nb_scale(X2, ys, np.ones(6), n_text=3, share=1.0, groups=narrative)
    assert apart[2] / apart[0] > 2 * pooled[2] / pooled[0]
    one_class = nb_scale(X, ys, np.ones(6), n_text=3, share=1.0, groups=np.array([True] * 3 + [False] * 3))
    assert np.allclose(one_class, 1.0)


def test_nb_scale_folds_into_the_heads_coefficients():
    """A head fitted on the scaled columns, served on the plain ones: its coefficients carry the scale."""
    rows = small_examples() + SALES + REPAIR
    cfg = TrainConfig(folds=3)
    texts = [normalize(e.text).text for e in rows]
    space = FeatureSpace(1, 5000, 5000).fit(texts)
    X = space.transform(texts)
    n_text = len(space.word_terms_) + len(space.char_terms_)
    _, heads = _heads(Variant(cfg=cfg, nb_scale=1.0), rows)
    idx, ys, ws = _expand(rows, "business_line", cfg.rare_share["business_line"])
    scale = nb_scale(X[idx], ys, ws, n_text, 1.0)
    by_hand = _fit_head((X @ sp.diags(scale)).tocsr()[idx], ys, ws, cfg.C["business_line"], cfg,
                        cfg.class_weight["business_line"], softmax=True)
    assert np.allclose(heads["business_line"].coef, by_hand.coef * scale, atol=1e-6)
    assert np.allclose(heads["business_line"].predict_proba(X), by_hand.predict_proba((X @ sp.diags(scale)).tocsr()),
                       atol=1e-5)
    _, plain = _heads(Variant(cfg=cfg), rows)
    assert not np.allclose(plain["business_line"].coef, heads["business_line"].coef, atol=1e-3)


def test_a_fine_label_is_the_label_with_the_sites_group_that_gave_it():
    groups = {"s1": ("A12", "I281"), "n1": ("area:发动机",)}
    one_liner = Example("s1", "发动机异响厂家不解决", "real", "train", "summary", "2020-10", {}, {})
    assert fine_label(one_liner, "category", "product_quality", groups) == "product_quality|A"
    assert fine_label(one_liner, "category", "service", groups) == "service|I"
    assert fine_label(one_liner, "business_line", "after_sales", groups) == "after_sales|A"
    # I281 (互相推诿) does not decide the business line, and no code of the row allows sales.
    assert fine_label(one_liner, "business_line", "sales", groups) == "sales"
    narrative = Example("n1", LONG, "real", "train", "narrative", "2024-01", {}, {})
    assert fine_label(narrative, "category", "product_quality", groups) == "product_quality|area:发动机"
    written = Example("s1", "发动机异响", "written", "train", "summary", "", {}, {})
    assert fine_label(written, "category", "product_quality", groups) == "product_quality"
    # by register, not by the site's groups
    by = {kind: [fine_label(e, "category", "service", groups, kind) for e in (one_liner, narrative, written)]
          for kind in ("narrative", "register", "apart")}
    assert by == {"narrative": ["service", "service|narrative", "service"],
                  "register": ["service|summary", "service|narrative", "service|summary"],
                  "apart": ["service", "service|apart", "service|apart"]}


def test_fine_classes_are_summed_back_to_the_labels():
    rows = small_examples() + SALES + REPAIR
    groups = {**{e.id: ("area:发动机",) for e in REPAIR[:3]}, **{e.id: ("area:车身",) for e in REPAIR[3:]},
              **{e.id: ("area:销售欺诈",) for e in SALES}}
    space, heads = _heads(Variant(cfg=TrainConfig(folds=3), fine_min_rows=3), rows, groups)
    X = space.transform([normalize(e.text).text for e in rows])
    category = heads["category"]
    assert isinstance(category, SummedHead)
    assert {"product_quality|area:发动机", "product_quality|area:车身", "service|area:销售欺诈"} <= \
        set(category.fine.classes)
    assert category.classes == sorted({g for e in rows for g in e.gold.get("category") or ()})
    p, fine = category.predict_proba(X), category.fine.predict_proba(X)
    assert np.allclose(p.sum(axis=1), 1.0)
    product = [j for j, c in enumerate(category.fine.classes) if c.split("|")[0] == "product_quality"]
    assert len(product) >= 3
    assert np.allclose(p[:, category.classes.index("product_quality")], fine[:, product].sum(axis=1))
    # Groups smaller than fine_min_rows fold into their label: no fine class is left, nor a SummedHead.
    _, folded = _heads(Variant(cfg=TrainConfig(folds=3), fine_min_rows=7), rows, groups)
    assert not isinstance(folded["category"], SummedHead)
    assert folded["category"].classes == category.classes


def _fold(ids: str, p_sales: list[float], register: str = "summary") -> tuple[list[Example], dict, dict]:
    """Rows whose first half is sales, second half after-sales (category product quality, read right),
    with the business-line head's sales probability `p_sales`."""
    half = len(p_sales) // 2
    rows = [Example(f"{ids}{i}", "文本", "real", "train", register, "", {
        "business_line": ("sales",) if i < half else ("after_sales",), "category": ("product_quality",)}, {})
        for i in range(len(p_sales))]
    bl = np.array([[1 - p, p] for p in p_sales])
    cat = np.tile([0.8, 0.2], (len(p_sales), 1))
    return rows, {"business_line": bl, "category": cat}, {
        "business_line": ["after_sales", "sales"], "category": ["product_quality", "service"]}


def _two_registers(ids: str, p_sales: list[float]) -> tuple[list[Example], tuple[dict, dict]]:
    s_rows, s_p, classes = _fold(ids + "s", p_sales)
    n_rows, n_p, _ = _fold(ids + "n", p_sales, "narrative")
    return s_rows + n_rows, ({h: np.vstack([s_p[h], n_p[h]]) for h in s_p}, classes)


def test_cross_validation_chooses_one_bias_on_every_folds_rows_and_scores_each_fold_at_it():
    # Fold 0's sales row needs a sales bias of 0.6 or more (log 0.6/0.4), fold 1's 1.4 (log 0.8/0.2);
    # no after-sales row turns before 2.0.
    dev0, probs0 = _two_registers("a", [0.4, 0.1])
    dev1, probs1 = _two_registers("b", [0.2, 0.05])
    alone = evaluate(dev0, *probs0)
    assert alone["summary.business_line"]["bias"] == {"sales": 0.6}
    res = cross_validated([dev0, dev1], [probs0, probs1])
    for register in ("summary", "narrative"):
        bl = res[f"{register}.business_line"]
        assert bl["bias"] == {"sales": 1.4}
        assert (bl["accuracy"], bl["unbiased_accuracy"]) == (1.0, 0.5)
        assert bl["recall"] == {"sales": 1.0, "after_sales": 1.0} and bl["unbiased_recall"]["sales"] == 0.0
        assert res["fold_accuracy"][f"{register}.business_line"] == [1.0, 1.0]
        assert res["fold_accuracy"][f"{register}.category"] == [1.0, 1.0]
    # At fold 0's own bias, fold 1's sales row is lost: what the pooled choice mends.
    at_fold0 = evaluate(dev1, *probs1, biases={k: v["bias"] for k, v in alone.items()})
    assert at_fold0["summary.business_line"]["accuracy"] == 0.5


def test_cross_validation_refuses_folds_whose_heads_differ():
    dev0, probs0 = _two_registers("a", [0.4, 0.1])
    dev1, (p1, classes1) = _two_registers("b", [0.2, 0.05])
    with pytest.raises(ValueError, match="different classes"):
        cross_validated([dev0, dev1], [probs0, (p1, {**classes1, "category": ["service", "product_quality"]})])


def _odd_ids(odd: bool, n: int) -> list[str]:
    """Ids whose hash puts a 2024-02 narrative in fold 0 (odd) or fold 1."""
    return [i for i in (f"n{k}" for k in range(200)) if experiments._odd(i) == odd][:n]


def test_every_line_is_scored_once_per_fold_then_on_the_folds_together():
    def dated(rows: list[Example], summary_month: str, narrative_month: str, narrative_ids: list[str]):
        ids = iter(narrative_ids)
        return [replace(e, date=f"{summary_month}-05") if e.register == "summary" else
                replace(e, id=next(ids), date=f"{narrative_month}-05") for e in rows]

    dev0, probs0 = _two_registers("a", [0.4, 0.1])
    dev1, probs1 = _two_registers("b", [0.2, 0.05])
    dev0 = dated(dev0, "2020-11", "2024-02", _odd_ids(True, 2))
    dev1 = dated(dev1, "2020-10", "2024-02", _odd_ids(False, 2))
    fitted = [Example("w1", "文本", "written", "train", "summary", "", {}, {}),
              Example("t1", "文本", "real", "test", "summary", "2020-12-05", {}, {})]
    calls = []

    def lines(names, fit_rows, dev):
        fold = 0 if dev[0].id.startswith("a") else 1
        calls.append((fold, sorted(e.id for e in fit_rows)))
        probs = probs0 if fold == 0 else probs1
        yield "served", probs, None
        yield "lever", probs, None
        yield "served", probs, None  # a second lever refits the served heads: scored once

    out = list(across_folds(["x"], fitted + dev0 + dev1, 2, lines))
    assert [(r["variant"], r["fold"]) for r in out] == [
        ("served", 0), ("lever", 0), ("served", 1), ("lever", 1), ("served", "pooled"), ("lever", "pooled")]
    # Each fold is fitted on the other fold's rows and the written ones, never on a test month's.
    assert calls == [(0, sorted(["w1"] + [e.id for e in dev1])), (1, sorted(["w1"] + [e.id for e in dev0]))]
    assert out[0]["summary.business_line"]["bias"] == {"sales": 0.6}
    pooled = out[4]
    assert pooled["summary.business_line"]["bias"] == {"sales": 1.4}
    assert pooled["fold_accuracy"]["narrative.business_line"] == [1.0, 1.0]


def test_noisy_rows_are_real_rows_whose_gold_the_folds_find_unlikely():
    """Confident learning's pruning (Variant.prune_below): forty rows of each class, each class
    with its own words; two real rows and one written row carry the other class's words under
    this class's label. The two real ones are found, the written one is kept (written rows are
    the team's, not a site's coding), and no clean row is touched."""
    rows, texts = [], []
    for i in range(80):
        label = "sales" if i < 40 else "after_sales"
        words = "提车 加价 定金 合同" if label == "sales" else "保养 维修 更换 配件"
        flipped = i in (3, 7, 50)
        if flipped:
            words = "保养 维修 更换 配件" if label == "sales" else "提车 加价 定金 合同"
        source = "written" if i == 50 else "real"
        rows.append(Example(f"r{i}", f"{words} 第{i}号", source, "train", "summary", "2020-10",
                            {"business_line": (label,)}, {}))
        texts.append(f"{words} 第{i}号")
    X = sp.csr_matrix(FeatureSpace(min_df=1).fit(texts).transform(texts))
    idx, ys, ws = _expand(rows, "business_line")
    flagged = noisy_rows(rows, X, idx, ys, ws, Variant(prune_below=0.3), "business_line")
    assert [rows[idx[i]].id for i in np.flatnonzero(flagged)] == ["r3", "r7"]
    assert not noisy_rows(rows, X, idx, ys, ws, Variant(prune_below=0.0001), "business_line").any()
