"""Decision settings chosen on the development rows (training/decisions.py): a long-text
bias may go against a small class, and a flag no threshold finds keeps its default."""

from __future__ import annotations

import numpy as np

from training.dataset import Example
from training.decisions import choose_decisions
from triage.classify.labels import FLAGS

CATEGORY = ["customer_issue", "other", "product_quality", "repair_quality", "service"]


def _row(i: int, register: str, category: str, government: bool = False) -> Example:
    return Example(f"r{i}", "x", "real", "train", register, "", {"business_line": ("after_sales",),
                                                                 "category": (category,)},
                   {f: (government if f == "government" else False) for f in FLAGS})


def test_a_narrative_bias_may_go_against_service_and_a_useless_threshold_is_not_kept():
    # Narratives about a defect that the model reads as service by a small margin.
    rows = [_row(i, "narrative", "product_quality", government=i < 5) for i in range(40)]
    rows += [_row(100 + i, "narrative", "service") for i in range(5)]
    cat = np.tile([0.01, 0.01, 0.45, 0.03, 0.50], (45, 1))
    cat[40:] = [0.01, 0.01, 0.10, 0.03, 0.85]
    probs = {"business_line": np.tile([0.9, 0.1], (45, 1)), "category": cat,
             **{f"flags.{f}": np.tile([1.0, 0.0], (45, 1)) for f in FLAGS}}
    chosen = choose_decisions(rows, probs, {"business_line": ["after_sales", "sales"], "category": CATEGORY},
                              {"safety": 0.4})
    assert chosen["decision_bias_long"]["category"]["service"] < 0
    assert chosen["decision_bias"] == {}  # no one-liner among the rows
    # Government has 5 positives but a probability of 0 everywhere: no threshold is chosen.
    assert chosen["flag_thresholds_long"] == {"safety": 0.4}
