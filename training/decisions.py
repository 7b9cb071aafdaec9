"""The decision settings of a backend chosen on the development rows from its
probabilities there: per register, the decision biases (training.experiments' rule: the
grid point with the highest mean recall among those within `ACCURACY_SLACK` of the best
accuracy) and the flag thresholds on longer texts (the highest F1). The transformer
(training/transformer/train.py) and the ensemble (training/ensemble.py) use it after
fitting; the scikit-learn model goes through training.experiments.

The grids are wider than training.experiments' on both sides: a transformer fine-tuned
mostly on one-liners reads a narrative's dealership and 客服 words as service, so its
long-text bias may need to go against the small classes (below 0), and its flag
probabilities on narratives sit low, so thresholds go down to 0.05.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from training import experiments
from training.dataset import Example

BIAS_GRID: dict[str, dict[str, tuple[float, ...]]] = {
    "business_line": {"sales": (-1.2, -0.8, -0.4, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)},
    "category": {"service": (-1.6, -1.2, -0.8, -0.4, 0.0, 0.2, 0.4, 0.6, 0.8),
                 "repair_quality": (-1.8, -1.2, -0.6, 0.0, 0.3, 0.6, 0.9, 1.2)},
}
THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)


def choose_bias(rows: Sequence[Example], probs: np.ndarray, classes: list[str], head: str) -> dict[str, float]:
    return experiments.choose_bias(rows, probs, classes, head, log=lambda line: None, grids=BIAS_GRID)


def choose_thresholds(rows: Sequence[Example], probs: dict[str, np.ndarray]) -> dict[str, float]:
    """Per flag with at least 3 positives, the threshold of the highest F1 (the higher one
    on a tie); none where no threshold finds a positive."""
    out = {}
    for flag, (_, curve) in experiments.flag_curves(rows, probs, THRESHOLDS).items():
        f1, t = max((2 * p * r / (p + r) if p + r else 0.0, t) for t, p, r in curve)
        if f1 > 0:
            out[flag] = t
    return out


def choose_decisions(dev: Sequence[Example], probs: dict[str, np.ndarray], classes: dict[str, list[str]],
                     thresholds_long: dict[str, float] | None = None) -> dict[str, Any]:
    """{"decision_bias", "decision_bias_long", "flag_thresholds_long"} for model.json, from
    the probabilities of `dev` (rows in order) per head (and flags.<flag>)."""
    settings: dict[str, Any] = {"decision_bias": {}, "decision_bias_long": {}}
    for register, key in (("summary", "decision_bias"), ("narrative", "decision_bias_long")):
        for head in BIAS_GRID:
            idx = [i for i, e in enumerate(dev) if e.register == register and e.gold.get(head)]
            if not idx:
                continue
            bias = choose_bias([dev[i] for i in idx], probs[head][idx], classes[head], head)
            if bias:
                settings[key][head] = bias
    narratives = [i for i, e in enumerate(dev) if e.register == "narrative"]
    settings["flag_thresholds_long"] = {**(thresholds_long or {}), **choose_thresholds(
        [dev[i] for i in narratives], {k: v[narratives] for k, v in probs.items()})}
    return settings
