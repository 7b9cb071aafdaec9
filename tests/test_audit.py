"""The blind audit of the test months' gold (training/audit.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from training import audit, dataset
from triage.classify.labels import LABELS


def _row(i: int, stratum: str, bl: str) -> audit.AuditRow:
    return audit.AuditRow(f"r{i}", "summary", stratum, {"business_line": frozenset(bl.split("|")),
                                                        "category": frozenset({"service"})})


def test_estimate_weights_each_stratum_by_its_size():
    # 10 rows read of a 1,000-row "agreed" stratum (9 agree with the reader), 4 of a
    # 20-row "disagreed" stratum (1 agrees): 0.9 * 1000 + 0.25 * 20 over 1,020 rows.
    rows = [_row(i, "agreed", "after_sales") for i in range(9)] + [_row(9, "agreed", "sales")]
    rows += [_row(10, "disagreed", "sales|after_sales")] + [_row(11 + i, "disagreed", "sales") for i in range(3)]
    est = audit.estimate(rows, {"agreed": 1000, "disagreed": 20}, "business_line", lambda r: "after_sales")
    assert est == pytest.approx((900 + 5) / 1020)
    # Unweighted, the same rows would say 10 / 14.
    assert abs(est - 10 / 14) > 0.1
    # Two acceptable labels on the labeller's side agree when either is the reader's.
    assert audit.estimate(rows, {"agreed": 1000, "disagreed": 20}, "business_line",
                          lambda r: ("sales", "after_sales")) == 1.0


def test_estimate_refuses_a_stratum_with_rows_and_no_reading():
    rows = [_row(0, "agreed", "sales")]
    with pytest.raises(ValueError, match="disagreed"):
        audit.estimate(rows, {"agreed": 10, "disagreed": 5}, "business_line", lambda r: "sales")
    with pytest.raises(ValueError, match="no rows"):
        audit.estimate(rows, {"agreed": 0}, "business_line", lambda r: "sales")


def test_audit_file_is_a_blind_reading_of_test_month_rows_that_training_never_sees():
    rows = audit.load()
    assert len(rows) == 636 and len({r.id for r in rows}) == 636
    assert Counter((r.register, r.stratum) for r in rows) == {
        ("summary", "disagreed"): 168, ("summary", "agreed"): 168,
        ("narrative", "disagreed"): 150, ("narrative", "agreed"): 150}
    for r in rows:
        for head in audit.HEADS:
            assert r.reading[head] and r.reading[head] <= set(LABELS[head]), (r.id, head, r.reading[head])
    examples = {e.id: e for e in dataset.build()}
    assert all(examples[r.id].split == "test" for r in rows)
    # training.dataset reads annotations/, never audits/: the audit's labels are not gold.
    assert audit.AUDIT_CSV.parent.name == "audits"
    assert audit.AUDIT_CSV not in dataset.ANNOTATIONS.rglob("*")
