"""The rule that picks the decision biases (training.experiments), and the served biases
against its grid."""

from __future__ import annotations

import numpy as np
import pytest

from training import experiments
from training.dataset import Example
from training.train import TrainConfig


def _rows(golds: list[str]) -> list[Example]:
    return [Example(id=f"r{i}", text="t", source="real", split="train", register="summary", date="2020-11-01",
                    gold={"business_line": (g,)}, flags={}) for i, g in enumerate(golds)]


@pytest.mark.parametrize("key", ["decision_bias", "decision_bias_long"])
def test_served_biases_are_inside_the_grid_they_were_chosen_on(key):
    """A bias at the grid's edge means the rule was cut short: the grid must reach past it."""
    served = [(head, cls, bias, {**experiments.BIAS_GRID[head], **experiments.CUSTOMER_ISSUE_GRID.get(head, {})}[cls])
              for head, biases in getattr(TrainConfig(), key).items() for cls, bias in biases.items()]
    assert served, "no bias is served"
    outside = [(head, cls, bias, grid) for head, cls, bias, grid in served
               if bias not in grid or not min(grid) < bias < max(grid)]
    assert outside == [], "a served bias is off its grid or at its edge"


def test_bias_rule_takes_the_best_small_class_recall_within_the_slack_of_the_best_accuracy():
    # 1,000 after-sales and 20 sales rows (one row is 0.001 of accuracy, the slack three rows).
    # A sales bias b takes a row as sales when p / (1 - p) > exp(-b): above 0.5, 0.40, 0.31,
    # 0.23, 0.17 and 0.12 for the grid below. Correct rows: 1010, 1012, 1013, 1014 (the best),
    # 1011 (within the slack, sales recall 0.9) and 999.
    sales = [0.7] * 10 + [0.45] * 2 + [0.35] * 2 + [0.27] * 2 + [0.2] * 2 + [0.14, 0.05]
    after_sales = [0.35, 0.27] + [0.2] * 5 + [0.14] * 13 + [0.05] * 980
    p_sales = np.array(after_sales + sales)
    probs = np.c_[1 - p_sales, p_sales]
    rows = _rows(["after_sales"] * 1000 + ["sales"] * 20)
    classes = ["after_sales", "sales"]
    grid = (0.0, 0.4, 0.8, 1.2, 1.6, 2.0)
    figures = {b: experiments.head_figures(rows, probs, classes, "business_line", {"sales": b}) for b in grid}
    assert [round(figures[b]["accuracy"] * 1020) for b in grid] == [1010, 1012, 1013, 1014, 1011, 999]

    chosen = experiments.choose_bias(rows, probs, classes, "business_line", log=lambda _: None,
                                     grids={"business_line": {"sales": grid}})
    assert chosen == {"sales": 1.6}
    assert figures[1.6]["recall"]["sales"] == pytest.approx(0.9)
    # The same rows with a grid cut at 1.2 stop at the best accuracy, its edge.
    assert experiments.choose_bias(rows, probs, classes, "business_line", log=lambda _: None,
                                   grids={"business_line": {"sales": grid[:4]}}) == {"sales": 1.2}


def _flag_rows(golds: list[bool]) -> list[Example]:
    return [Example(id=f"f{i}", text="t", source="real", split="train", register="summary", date="2020-11-01",
                    gold={}, flags={"safety": g}) for i, g in enumerate(golds)]


def test_a_cued_threshold_is_taken_only_when_its_f2_beats_the_plain_one():
    # 10 safety rows the plain 0.4 finds; 4 more with a cue at 0.08 (found at 0.05 only); 2 rows
    # without a cue at 0.15 that no cued threshold may reach; 90 clean rows at 0.01.
    p = np.array([0.9] * 10 + [0.08] * 4 + [0.15] * 2 + [0.01] * 90)
    gold = [True] * 14 + [True, True] + [False] * 90
    cued = np.array([False] * 10 + [True] * 4 + [False] * 2 + [False] * 90)
    probs = {"flags.safety": np.c_[1 - p, p]}
    lines: list[str] = []
    assert experiments.choose_cued_thresholds(_flag_rows(gold), probs, {"safety": cued}, {"safety": 0.4},
                                              log=lines.append) == {"safety": 0.05}
    assert len(lines) == 1 + len(experiments.CUED_GRID)
    # The same cued rows as false alarms: the plain threshold is kept, and nothing is chosen.
    gold = [True] * 10 + [False] * 4 + [True, True] + [False] * 90
    assert experiments.choose_cued_thresholds(_flag_rows(gold), probs, {"safety": cued}, {"safety": 0.4},
                                              log=lines.append) == {}
