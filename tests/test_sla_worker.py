"""The SLA worker on a real SQLite database with a clock we move: breaches escalate once,
a worker that was down catches up, repair-quality cases close themselves after 3 months."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from triage.case.models import Case
from triage.case.service import IntakeRequest, act, intake, review, suggest
from triage.case.worker import run_sla_pass
from triage.db import init_db
from triage.policy.calendar import TZ
from triage.policy.loader import load_policy

from .conftest import PG_URL, drop_all

POLICY = load_policy()
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)


def dispatched_case(engine, small_model, corrections=None, text="发动机异响，希望尽快处理"):
    with Session(engine) as s:
        case, _ = intake(db_session=s, request=IntakeRequest("phone", text, T0), policy=POLICY, actor="care")
        suggest(db_session=s, case=case, model=small_model, policy=POLICY, now=T0)
        review(db_session=s, case_id=case.id, reviewer="care", policy=POLICY, now=T0 + timedelta(minutes=10),
               corrections={"business_line": "after_sales", "category": "product_quality", "severity": "grumble",
                            "flags": [], **(corrections or {})})
        s.commit()
        return case.id


def kinds(engine, case_id, kind):
    with Session(engine) as s:
        return [e.data for e in s.get(Case, case_id).events if e.kind == kind]


def test_first_contact_breach_escalates_once_with_a_notification(engine, small_model):  # 002-E 七 6
    case_id = dispatched_case(engine, small_model)
    with Session(engine) as s:
        assert s.get(Case, case_id).responsible_role == "service_manager"
        did = run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(hours=1))
        assert not [d for d in did if d["did"] != "warning"]
        s.commit()
    with Session(engine) as s:
        did = run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(hours=3))
        s.commit()
    assert {"case": "2026-11-000001", "clock": "first_contact", "did": "escalate"} in did
    escalations = kinds(engine, case_id, "escalated")
    assert escalations == [{"clock": "first_contact", "from_role": "service_manager", "to": "service_director"}]
    assert any(n["clock"] == "first_contact" for n in kinds(engine, case_id, "notification"))
    with Session(engine) as s:
        assert s.get(Case, case_id).responsible_role == "service_director"
        run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(hours=4))  # a second pass, or a second worker
        s.commit()
    assert len(kinds(engine, case_id, "escalated")) == 1


def test_contact_in_time_stops_the_clock(engine, small_model):
    case_id = dispatched_case(engine, small_model)
    with Session(engine) as s:
        act(db_session=s, case_id=case_id, action="contact", actor="handler", policy=POLICY, now=T0 + timedelta(minutes=50))
        s.commit()
    with Session(engine) as s:
        did = run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(hours=5))
        s.commit()
    assert not [d for d in did if d["clock"] == "first_contact"]


def test_a_worker_that_was_down_catches_up_each_breach_once(engine, small_model):
    case_id = dispatched_case(engine, small_model)
    with Session(engine) as s:
        run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(days=5))
        s.commit()
    breaches = {d["clock"]: d for d in kinds(engine, case_id, "sla_breach")}
    assert {"first_contact", "close_ordinary", "handler_form"} <= set(breaches)
    # Breach instants are when the clocks ran out, not when the worker woke up.
    assert breaches["first_contact"]["breached_at"] == (T0 + timedelta(minutes=10, hours=2)).isoformat()
    # One step up the chain per breach; at the top, breaches notify instead.
    assert [e["to"] for e in kinds(engine, case_id, "escalated")] == ["service_director", "general_manager"]
    assert len(kinds(engine, case_id, "notification")) == len(breaches)


def test_repair_quality_closes_itself_after_3_months_without_callback(engine, small_model):  # 002-A §10
    case_id = dispatched_case(engine, small_model, {"category": "repair_quality"})
    with Session(engine) as s:
        act(db_session=s, case_id=case_id, action="contact", actor="handler", policy=POLICY, now=T0 + timedelta(minutes=30))
        act(db_session=s, case_id=case_id, action="resolve", actor="handler", policy=POLICY, now=T0 + timedelta(hours=5))
        s.commit()
    with Session(engine) as s:
        run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(days=60))
        s.commit()
        assert s.get(Case, case_id).state == "resolved"
    with Session(engine) as s:
        run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(days=95))
        s.commit()
        assert s.get(Case, case_id).state == "closed"
    assert kinds(engine, case_id, "auto_closed")[0]["source"] == "002-A §10"


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (TRIAGE_TEST_PG_URL; .ci/run starts one)")
def test_several_workers_never_double_escalate(small_model):
    """Workers on one PostgreSQL database lock the cases they work on (SKIP LOCKED) and
    read what was done: every breach is escalated exactly once."""
    import threading

    from sqlalchemy import create_engine

    engine = create_engine(PG_URL, pool_size=10)
    drop_all(engine)
    init_db(engine)
    ids = []
    with Session(engine) as s:
        for i in range(8):
            req = IntakeRequest("phone", f"第{i}辆车发动机异响", T0, external_id=f"W-{i}")
            case, _ = intake(db_session=s, request=req, policy=POLICY, actor="care")
            suggest(db_session=s, case=case, model=small_model, policy=POLICY, now=T0)
            review(db_session=s, case_id=case.id, reviewer="care", policy=POLICY, now=T0,
                   corrections={"category": "product_quality", "severity": "grumble", "business_line": "after_sales",
                                "flags": []})
            ids.append(case.id)
        s.commit()
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait()
        for _ in range(3):
            with Session(engine) as s:
                run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(hours=3), batch=3)
                s.commit()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine) as s:
        for case_id in ids:
            events = s.get(Case, case_id).events
            assert [e.data["clock"] for e in events if e.kind == "escalated"] == ["first_contact"]
            assert len([e for e in events if e.kind == "sla_breach"]) == 1
    engine.dispose()


def test_report_counts_compliance_repeats_and_focus_vehicles(engine, small_model):  # 002-A §7-3, §8-3; 002-E 七 11
    from triage.case.reports import PeriodError, period_bounds, report

    first = dispatched_case(engine, small_model)
    with Session(engine) as s:
        req = IntakeRequest("phone", "同一辆车发动机又异响", T0 + timedelta(days=2), vin="LSVAB2180E2123456",
                            in_warranty=True)
        case, _ = intake(db_session=s, request=req, policy=POLICY, actor="care")
        s.get(Case, first).vin = "LSVAB2180E2123456"
        suggest(db_session=s, case=case, model=small_model, policy=POLICY, now=T0 + timedelta(days=2))
        review(db_session=s, case_id=case.id, reviewer="care", policy=POLICY, now=T0 + timedelta(days=2),
               corrections={"business_line": "after_sales", "category": "product_quality", "severity": "grumble",
                            "flags": []})
        act(db_session=s, case_id=first, action="contact", actor="handler", policy=POLICY, now=T0 + timedelta(minutes=30))
        s.commit()
    with Session(engine) as s:
        run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(days=2, hours=5))
        s.commit()
        start, end, label = period_bounds(month="2026-11")
        rep = report(db_session=s, start=start, end=end, label=label)
    assert rep["cases"] == 2 and rep["counts"]["category"] == {"product_quality": 2}
    fc = rep["sla_compliance"]["first_contact"]
    assert (fc["cases"], fc["breached"], fc["compliance"]) == (2, 1, 0.5)
    assert rep["repeated_complaints"] == [{"vehicle": "L***************6", "category": "product_quality",
                                           "cases": ["2026-11-000001", "2026-11-000002"]}]
    assert [f["case"] for f in rep["focus_vehicles"]] == ["2026-11-000002"]  # in warranty, product quality
    assert period_bounds(quarter="2026-Q4")[:2] == (datetime(2026, 10, 1, tzinfo=TZ), datetime(2027, 1, 1, tzinfo=TZ))
    with pytest.raises(PeriodError):
        period_bounds(month="2026-1")
