"""The bootstrap of the evaluation figures: the same figures as Scorer on the rows themselves,
and paired intervals that tell a real gap from noise."""

import random

import numpy as np
import pytest

from triage.classify.bootstrap import figures, flatten, paired, resamples
from triage.classify.evaluate import score
from triage.classify.labels import FLAGS, HEADS, LABELS


def random_rows(seed: int, n: int) -> list[tuple]:
    """Rows as Scorer.add takes them, with every awkward case: a head without gold, a row with
    two gold ids, rows without flag annotation, classes predicted but never gold."""
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        gold, predicted = {}, {}
        for head in HEADS:
            classes = list(LABELS[head])
            r = rnd.random()
            gold[head] = None if r < 0.1 else tuple(rnd.sample(classes, 2)) if r < 0.2 else (rnd.choice(classes[:2]),)
            predicted[head] = rnd.choice(classes)
        gold_flags = None if rnd.random() < 0.3 else frozenset(f for f in FLAGS if rnd.random() < 0.2)
        rows.append((gold, gold_flags, predicted, [f for f in FLAGS if rnd.random() < 0.25]))
    return rows


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_figures_of_all_rows_are_the_scorers(seed):
    rows = random_rows(seed, 300)
    mine = figures(rows, np.ones((1, len(rows))))
    theirs = flatten(score(rows))
    assert mine.keys() == theirs.keys()
    assert len(mine) == 3 * 2 + 2 * (2 + 5 + 3) + 2 + 2 * len(FLAGS)  # every figure, none left out
    for key, value in mine.items():
        expected = theirs[key]
        assert (expected is None) == bool(np.isnan(value[0])), key
        if expected is not None:
            # Scorer's macro-F1 averages F1s of rounded precision and recall: a last digit apart
            tolerance = 2e-4 if key[-1] == "macro_f1" else 0
            assert abs(round(float(value[0]), 4) - expected) <= tolerance, key


def test_a_resample_is_scored_as_the_rows_it_drew():
    rows = random_rows(3, 120)
    weights = np.vstack(list(resamples(len(rows), draws=4, seed=11)))
    assert weights.shape == (4, 120) and (weights.sum(axis=1) == 120).all()
    drawn = figures(rows, weights)
    for d in range(4):
        repeated = [row for row, k in zip(rows, weights[d]) for _ in range(int(k))]
        theirs = flatten(score(repeated))
        for key in (("category", "accuracy"), ("category", "service", "recall"), ("severity", "macro_f1"),
                    ("major", "precision"), ("flags", "safety", "recall")):
            assert abs(round(float(drawn[key][d]), 4) - theirs[key]) <= (2e-4 if key[-1] == "macro_f1" else 0), (d, key)


def test_a_system_against_itself_differs_by_nothing():
    rows = random_rows(4, 200)
    intervals = paired(rows, rows, draws=200)
    assert intervals and all((i.difference, i.low, i.high) == (0, 0, 0) and not i.clear for i in intervals.values())


def test_a_gap_on_many_rows_is_clear_and_on_a_few_is_not():
    rows = random_rows(5, 1000)
    for gold, _, predicted, _ in rows:  # the base is right on every row with one gold id
        if gold["category"]:
            predicted["category"] = gold["category"][0]

    def wrong_on(k: int) -> list[tuple]:
        out, changed = [], 0
        for gold, flags, predicted, raised in rows:
            p = dict(predicted)
            if gold["category"] and changed < k:
                p["category"] = next(c for c in LABELS["category"] if c not in gold["category"])
                changed += 1
            out.append((gold, flags, p, raised))
        return out

    many = paired(rows, wrong_on(100))[("category", "accuracy")]
    few = paired(rows, wrong_on(2))[("category", "accuracy")]
    assert many.clear and many.high < 0 and -0.14 < many.low < many.difference < many.high
    assert not few.clear and few.difference < 0
    assert paired(rows, wrong_on(100))[("business_line", "accuracy")].difference == 0


def test_pairs_must_score_the_same_rows():
    rows = random_rows(6, 50)
    with pytest.raises(ValueError, match="number"):
        paired(rows, rows[:-1])
    shuffled = rows[1:] + rows[:1]
    with pytest.raises(ValueError, match="same gold"):
        paired(rows, shuffled)


def test_resamples_come_in_blocks_and_give_the_same_intervals(monkeypatch):
    """A year's rows by a thousand draws would be 800 MB of counts at once: they come in blocks, and
    the blocks are the same draws."""
    from triage.classify import bootstrap

    rows = random_rows(7, 300)
    other = random_rows(8, 300)
    other = [(g, f, p, r) for (g, f, _, _), (_, _, p, r) in zip(rows, other)]
    whole = paired(rows, other, draws=50)
    monkeypatch.setattr(bootstrap, "_CELLS", 300 * 7)
    blocks = list(resamples(300, draws=50))
    assert [len(b) for b in blocks] == [7] * 7 + [1]
    assert paired(rows, other, draws=50) == whole and any(i.clear for i in whole.values())
