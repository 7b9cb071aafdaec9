"""The annotators' second, blind pass (training/second_pass.py): its figures and its files."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from training import dataset, second_pass
from training.second_pass import Pair
from triage.classify.labels import FLAGS, LABELS


def _pair(i: int, first: str, second: str, weight: float = 1.0) -> Pair:
    return Pair(f"r{i}", {"severity": "major" if "safety" in first else "grumble", "flags": first},
                {"severity": "major" if "safety" in second else "grumble", "flags": second}, weight)


def test_kappa_of_a_known_table():
    # Observed 0.7; chance 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa (0.7 - 0.5) / 0.5.
    assert second_pass.kappa({("1", "1"): 20, ("1", "0"): 5, ("0", "1"): 10, ("0", "0"): 15}) == pytest.approx(0.4)
    assert second_pass.kappa({("1", "1"): 3, ("0", "0"): 7}) == pytest.approx(1.0)
    # One label throughout on both sides: chance agreement is complete, kappa undefined.
    assert second_pass.kappa({("0", "0"): 9}) is None
    with pytest.raises(ValueError):
        second_pass.kappa({})


def test_agreement_weights_each_row_by_its_stratum():
    # A 100-row stratum read 4 times (one disagreement) and a 5-row stratum read in full.
    rows = [_pair(0, "safety", "none", 25.0)] + [_pair(i, "none", "none", 25.0) for i in range(1, 4)]
    rows += [_pair(10 + i, "safety", "safety") for i in range(5)]
    a = second_pass.agreement(rows, "safety")
    assert (a.first_positives, a.second_positives, a.both, a.total) == (30.0, 5.0, 5.0, 105.0)
    assert a.agreement == pytest.approx(80 / 105)
    # Unweighted, the same rows would say 8 of 9.
    assert abs(a.agreement - 8 / 9) > 0.1
    raised = {p.id: frozenset({"safety"}) if p.id == "r0" else frozenset() for p in rows}
    # The model finds r0 (25 rows' worth) and misses the five: recall 25 / 30 on the first pass.
    assert second_pass.recall_precision(rows, "safety", raised, "first") == pytest.approx((25 / 30, 1.0))


def test_pairs_refuse_rows_without_a_first_pass_or_stratum(tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("id,severity,flags\na,grumble,none\n", encoding="utf-8")
    second = tmp_path / "second.csv"
    second.write_text("id,severity,flags,stratum\nb,grumble,none,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no first pass"):
        second_pass.pairs(second, first)
    second.write_text("id,severity,flags,stratum\na,grumble,none,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown stratum"):
        second_pass.pairs(second, first, {"y": 3})
    assert second_pass.pairs(second, first, {"x": 3})[0].weight == 3.0


def test_the_one_liner_second_pass_is_blind_stratified_and_not_gold():
    with second_pass.SUMMARIES_SECOND.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 180 and len({r["id"] for r in rows}) == 180
    # The guide: major iff a flag other than repeat (no one-liner here harms the brand otherwise).
    malformed = [r for r in rows if r["severity"] not in LABELS["severity"]
                 or not second_pass.flags_of(r["flags"]) <= set(FLAGS)
                 or (r["severity"] == "major") != bool(second_pass.flags_of(r["flags"]) - {"repeat"})]
    assert malformed == []
    # The strata as drawn: the three read in full hold every row of their stratum, and each row
    # read is in the stratum the draw gave it.
    sizes = second_pass.summary_stratum_sizes()
    assert sizes == {"safety_first_not_model": 23, "safety_model_not_first": 40, "repeat_first": 17,
                     "safety_both": 382, "neither_filter": 1129, "neither_random": 293}
    read = Counter(r["stratum"] for r in rows)
    assert read == {"safety_first_not_model": 23, "safety_model_not_first": 40, "repeat_first": 17,
                    "safety_both": 40, "neither_filter": 40, "neither_random": 20}
    in_full = ("safety_first_not_model", "safety_model_not_first", "repeat_first")
    assert {s: read[s] for s in in_full} == {s: sizes[s] for s in in_full}
    drawn = {i: s for s, ids in second_pass.first_pass_strata().items() for i in ids}
    assert [drawn[r["id"]] for r in rows] == [r["stratum"] for r in rows]
    first = {r["id"]: r for r in csv.DictReader(second_pass.SUMMARIES_FIRST.open(encoding="utf-8"))}
    # Recomputed with the model that drew them and today's cues, the strata are the drawn ones but
    # for the rows a later change of the cues moved: a camshaft's breaking is no safety cue since
    # 2026-12-01, and the model no longer flags it; since 2026-12-02 a cracked rim (轮毂开裂), a wheel
    # locking (车轮抱死), a broken frame (大架断裂) and power steering failing (助力转向故障) are cues,
    # and the model flags them.
    now = second_pass.recomputed_strata(second_pass.SAMPLED_WITH)
    assert {i: (drawn[i], now[i]) for i in drawn if drawn[i] != now[i]} == {
        "12365auto:551871": ("safety_model_not_first", "neither_filter"),
        "12365auto:551068": ("safety_first_not_model", "repeat_first"),
        "12365auto:555463": ("safety_first_not_model", "safety_both"),
        "12365auto:556727": ("safety_first_not_model", "safety_both"),
        "12365auto:558501": ("neither_filter", "safety_model_not_first")}
    # The draw is reproducible: the same rows, in the order they were shown.
    assert second_pass.draw() == [r["id"] for r in rows]
    # Training reads the first pass: where the passes differ, the example carries the first's flags.
    examples = {e.id: e for e in dataset.build()}
    differ = [r for r in rows if second_pass.flags_of(r["flags"]) != second_pass.flags_of(first[r["id"]]["flags"])]
    assert len(differ) == 15  # 12 on safety, 3 on repeat
    not_first = [r["id"] for r in differ if {f for f, v in examples[r["id"]].flags.items() if v}
                 != set(second_pass.flags_of(first[r["id"]]["flags"]))]
    assert not_first == []


def test_strata_as_drawn_are_refused_when_they_do_not_hold_the_first_pass(tmp_path, monkeypatch):
    drawn = second_pass.SUMMARIES_STRATA.read_text(encoding="utf-8").splitlines()
    short = tmp_path / "short.csv"
    short.write_text("\n".join(drawn[:-1]) + "\n", encoding="utf-8")
    monkeypatch.setattr(second_pass, "SUMMARIES_STRATA", short)
    with pytest.raises(ValueError, match=r"short.csv does not hold the 1884 rows of summaries_2020-12.csv"):
        second_pass.first_pass_strata()
    odd = tmp_path / "odd.csv"
    odd.write_text("\n".join([*drawn[:-1], drawn[-1].rsplit(",", 1)[0] + ",safety_maybe"]) + "\n", encoding="utf-8")
    monkeypatch.setattr(second_pass, "SUMMARIES_STRATA", odd)
    with pytest.raises(ValueError, match=r"odd.csv: unknown stratum \['safety_maybe'\]"):
        second_pass.first_pass_strata()
    whole = tmp_path / "whole.csv"
    whole.write_text("\n".join(drawn) + "\n", encoding="utf-8")
    monkeypatch.setattr(second_pass, "SUMMARIES_STRATA", whole)
    assert sum(len(ids) for ids in second_pass.first_pass_strata().values()) == 1884


def test_the_september_second_pass_reads_the_drawn_rows_by_another_annotator():
    second = list(csv.DictReader(second_pass.SEPTEMBER_SECOND.open(encoding="utf-8", newline="")))
    first = {r["id"]: r for r in csv.DictReader(second_pass.SEPTEMBER_FIRST.open(encoding="utf-8", newline=""))}
    assert len(second) == 120 and [r["id"] for r in second] == second_pass.september_draw()
    assert {r["annotator"] for r in second} == {"annotator-16"}
    assert [r["id"] for r in second if first[r["id"]]["annotator"] == "annotator-16"] == []
    # The figures the annotations README gives, out of the two files row by row, each weighing one.
    pairs = second_pass.pairs(second_pass.SEPTEMBER_SECOND, second_pass.SEPTEMBER_FIRST)
    safety = second_pass.agreement(pairs, "safety")
    assert (safety.first_positives, safety.second_positives, safety.both, safety.total) == (26, 26, 26, 120)
    assert safety.agreement == 1.0 and safety.kappa == pytest.approx(1.0)
    severity = second_pass.agreement(pairs, "severity")
    assert severity.agreement == pytest.approx(119 / 120) and severity.kappa == pytest.approx(0.98, abs=0.005)
