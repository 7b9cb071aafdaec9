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


def test_a_figure_with_nothing_to_count_is_not_zero():
    """A flag never labelled and never predicted scored 0.0000, as if the model had failed it."""
    import json

    from triage.classify.evaluate import format_report

    s = Scorer()
    P = dict(business_line="after_sales", category="product_quality", severity="grumble")
    s.add({}, frozenset({"safety"}), P, ["safety"])
    s.add({}, frozenset({"repeat"}), P, [])
    s.add({}, frozenset(), P, ["legal"])
    flags = s.result()["flags"]["per_flag"]
    assert flags["media"] == {"precision": None, "recall": None, "f1": None, "support": 0, "predicted": 0}
    assert (flags["repeat"]["precision"], flags["repeat"]["recall"], flags["repeat"]["f1"]) == (None, 0.0, 0.0)
    assert (flags["legal"]["precision"], flags["legal"]["recall"], flags["legal"]["f1"]) == (0.0, None, 0.0)
    assert flags["safety"]["f1"] == 1.0
    assert '"media": {"precision": null, "recall": null, "f1": null' in json.dumps(s.result())
    report = {line.split()[0]: line.split()[1:] for line in format_report(s.result()).splitlines()[3:]}
    assert report["media"] == ["n/a", "n/a", "n/a", "0", "0"]
    assert report["repeat"] == ["n/a", "0.0000", "0.0000", "1", "0"]
    assert report["safety"] == ["1.0000", "1.0000", "1.0000", "1", "1"]
