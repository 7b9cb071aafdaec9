"""The decision settings of any backend chosen on the development rows from its
probabilities there: per register, the decision biases (training.experiments' grid and
rule, as for the scikit-learn model) and the flag thresholds on longer texts. The
transformer (training/transformer/train.py) and the ensemble (training/ensemble.py) use it
after fitting; the scikit-learn model through training.experiments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from training.dataset import Example
from training.experiments import BIAS_GRID, choose_bias, choose_thresholds


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
            bias = choose_bias([dev[i] for i in idx], probs[head][idx], classes[head], head, log=lambda line: None)
            if bias:
                settings[key][head] = bias
    narratives = [i for i, e in enumerate(dev) if e.register == "narrative"]
    settings["flag_thresholds_long"] = {**(thresholds_long or {}), **choose_thresholds(
        [dev[i] for i in narratives], {k: v[narratives] for k, v in probs.items()}, log=lambda line: None)}
    return settings
