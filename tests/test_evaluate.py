"""The evaluation figures, checked by hand on a small case."""

from triage.classify.evaluate import Scorer


def test_figures_by_hand():
    s = Scorer()
    P = dict(business_line="after_sales", severity="grumble")
    s.add({"category": ("product_quality",)}, frozenset({"safety"}), {**P, "category": "product_quality"}, ["safety"])
    s.add({"category": ("product_quality", "service")}, frozenset(), {**P, "category": "service"}, ["safety"])
    s.add({"category": ("repair_quality",)}, frozenset({"safety"}), {**P, "category": "product_quality"}, [])
    s.add({"category": None}, None, {**P, "category": "other"}, ["media"])
    r = s.result()
    assert r["rows"] == 4
    cat = r["category"]
    assert cat["n"] == 3 and cat["accuracy"] == round(2 / 3, 4)
    # The multi-gold row counts under "service" (predicted and acceptable).
    assert cat["per_class"]["service"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "n": 1}
    assert cat["per_class"]["product_quality"]["precision"] == 0.5
    assert cat["per_class"]["repair_quality"]["recall"] == 0.0
    safety = r["flags"]["per_flag"]["safety"]
    assert r["flags"]["n"] == 3
    assert (safety["precision"], safety["recall"], safety["support"]) == (0.5, 0.5, 2)
    assert "business_line" not in r and "major" not in r


def test_major_precision_and_recall():
    s = Scorer()
    for gold, pred in [("major", "major"), ("major", "complaint"), ("grumble", "major"), ("grumble", "grumble")]:
        s.add({"severity": (gold,)}, None, {"business_line": "sales", "category": "other", "severity": pred}, [])
    assert s.result()["major"] == {"n": 4, "precision": 0.5, "recall": 0.5}
