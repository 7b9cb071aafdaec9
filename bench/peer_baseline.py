"""The peer to beat, measured on the same held-out month as the shipped model: character
1-3-gram TF-IDF with logistic regression, one per head, trained on the same real rows
(first gold label of each row), plus a bare keyword list for safety.

    .venv/bin/python bench/peer_baseline.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from training import dataset
from triage.classify import registry
from triage.classify.evaluate import Scorer

SAFETY_KEYWORDS = ("刹车失灵", "失灵", "熄火", "自燃", "起火", "着火", "事故", "安全", "隐患", "失控", "气囊", "受伤",
                   "爆胎", "断裂")


def main() -> None:
    real = dataset.real_examples()
    train = [e for e in real if e.split == "train"]
    test = [e for e in real if e.split == "test"]
    out = {}
    for head in ("business_line", "category"):
        rows = [e for e in train if e.gold[head]]
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
        clf = LogisticRegression(max_iter=2000).fit(vec.fit_transform([e.text for e in rows]),
                                                    [e.gold[head][0] for e in rows])
        scored = [e for e in test if e.gold[head]]
        s = Scorer()
        for e, p in zip(scored, clf.predict(vec.transform([e.text for e in scored]))):
            s.add({head: e.gold[head]}, None, {head: p}, [])
        out[f"peer_{head}"] = s.result()[head]
    s = Scorer()
    for e in test:
        s.add({}, frozenset({"safety"}) if e.flags["safety"] else frozenset(), {},
              ["safety"] if any(k in e.text for k in SAFETY_KEYWORDS) else [])
    out["keyword_safety"] = s.result()["flags"]["per_flag"]["safety"]
    out["ours"] = {k: registry.card()["evaluation"]["real_test"][k] for k in ("business_line", "category")}
    out["ours"]["safety"] = registry.card()["evaluation"]["real_test"]["flags"]["per_flag"]["safety"]
    for name, fig in out.items():
        if "accuracy" in fig:
            print(name, {"accuracy": fig["accuracy"], **{c: v["recall"] for c, v in fig["per_class"].items()}})
        elif name == "ours":
            for k, v in fig.items():
                extra = {c: x["recall"] for c, x in v["per_class"].items()} if "per_class" in v else v
                print(f"ours_{k}", {"accuracy": v.get("accuracy"), **extra} if "accuracy" in v else extra)
        else:
            print(name, json.dumps(fig))


if __name__ == "__main__":
    main()
