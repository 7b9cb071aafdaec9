"""The SLA worker on a real SQLite database with a clock we move: breaches escalate once,
a worker that was down catches up, repair-quality cases close themselves after 3 months,
a pass reaches every due case (and only those), and one bad case stops nothing."""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from triage.case.models import Case, CaseEvent
from triage.case.service import IntakeRequest, act, intake, record_event, refresh_due, review, suggest
from triage.case.worker import RETRY_AFTER, recheck_all, run_sla_pass, sla_loop
from triage.policy.calendar import TZ
from triage.policy.loader import load_policy

from .record_data import RESOLVE, SATISFIED, approve

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
        act(db_session=s, case_id=case_id, action="contact", actor="handler", policy=POLICY,
            now=T0 + timedelta(minutes=50))
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
        act(db_session=s, case_id=case_id, action="contact", actor="handler", policy=POLICY,
            now=T0 + timedelta(minutes=30))
        act(db_session=s, case_id=case_id, action="resolve", actor="handler", policy=POLICY,
            now=T0 + timedelta(hours=5), data=RESOLVE)
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


def test_several_workers_never_double_escalate(engine, small_model):
    """Workers on one database: on PostgreSQL each locks the cases it works on (SKIP
    LOCKED), on SQLite each takes the write lock before reading the due cases; each reads
    what was done. Every breach is escalated exactly once."""
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
        act(db_session=s, case_id=first, action="contact", actor="handler", policy=POLICY,
            now=T0 + timedelta(minutes=30))
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
                                           "cases": ["2026-11-000001", "2026-11-000002"],
                                           "long_term_measure": None}]
    assert [f["case"] for f in rep["focus_vehicles"]] == ["2026-11-000002"]  # in warranty, product quality
    assert period_bounds(quarter="2026-Q4")[:2] == (datetime(2026, 10, 1, tzinfo=TZ), datetime(2027, 1, 1, tzinfo=TZ))
    with pytest.raises(PeriodError):
        period_bounds(month="2026-1")


def due_at(engine, case_id):
    with Session(engine) as s:
        return s.get(Case, case_id).next_due_at


def test_next_due_follows_every_event(engine, small_model):
    """The next instant the worker has something to do, kept by every event: the nearest
    warning or breach not recorded yet; none once closed."""
    case_id = dispatched_case(engine, small_model)  # dispatched at T0 + 10 min
    # first contact: 2 hours from dispatch, warned at 80 %
    assert due_at(engine, case_id) == T0 + timedelta(minutes=10 + 96)
    with Session(engine) as s:
        assert [d["did"] for d in run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(hours=2))] == [
            "warning"]
    assert due_at(engine, case_id) == T0 + timedelta(minutes=10 + 120)  # then its breach
    with Session(engine) as s:
        act(db_session=s, case_id=case_id, action="contact", actor="handler", policy=POLICY,
            now=T0 + timedelta(hours=2, minutes=5))
        s.commit()
    assert due_at(engine, case_id) == T0 + timedelta(hours=24 * 0.8)  # close_ordinary's warning (24 h)
    with Session(engine) as s:
        act(db_session=s, case_id=case_id, action="resolve", actor="handler", policy=POLICY,
            now=T0 + timedelta(hours=3), data=RESOLVE)
        approve(s, case_id, POLICY, T0 + timedelta(hours=3))
        s.commit()
    assert due_at(engine, case_id) == T0 + timedelta(hours=3 + 72 * 0.8)  # callback verification's warning
    with Session(engine) as s:
        act(db_session=s, case_id=case_id, action="callback", actor="care", policy=POLICY,
            now=T0 + timedelta(hours=4), data=SATISFIED)
        act(db_session=s, case_id=case_id, action="close", actor="care", policy=POLICY, now=T0 + timedelta(hours=4))
        s.commit()
    assert due_at(engine, case_id) is None


def test_a_paused_clock_is_not_due_until_it_resumes(engine, small_model):
    case_id = dispatched_case(engine, small_model)

    def log(kind, at):
        with Session(engine) as s:
            case = s.get(Case, case_id)
            record_event(case, kind, "handler", at, clock="first_contact", reason="customer_unreachable")
            s.flush()
            refresh_due(db_session=s, case=case, policy=POLICY, now=at)
            s.commit()

    log("paused", T0 + timedelta(minutes=30))  # 20 of its 120 minutes counted
    assert due_at(engine, case_id) == T0 + timedelta(hours=24 * 0.8)  # the next clock's warning
    with Session(engine) as s:
        assert run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(hours=5)) == []
    log("resumed", T0 + timedelta(hours=5))
    assert due_at(engine, case_id) == T0 + timedelta(hours=5, minutes=96 - 20)


def test_the_worker_own_actions_keep_next_due(engine, small_model):
    """An escalation starts the escalation report clock (24 h): the case is due again then
    (a major complaint's own closing clock runs in working days, later)."""
    case_id = dispatched_case(engine, small_model, {"severity": "major"})
    now = T0 + timedelta(hours=3)
    with Session(engine) as s:
        assert "escalate" in [d["did"] for d in run_sla_pass(db_session=s, policy=POLICY, now=now)]
    assert due_at(engine, case_id) == now + timedelta(hours=24 * 0.8)


def clone(engine, case_id: int, copies: int) -> None:
    """`copies` more cases like `case_id`, with its whole log, written in two statements."""
    columns = [c.name for c in Case.__table__.columns if c.name not in ("id", "number", "external_id")]
    with engine.begin() as conn:
        conn.execute(text(
            f"INSERT INTO cases (number, external_id, {', '.join(columns)}) "
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :copies) "
            f"SELECT 'C-' || n.i, 'clone-' || n.i, {', '.join('c.' + c for c in columns)} FROM cases c, n "
            "WHERE c.id = :id"), {"copies": copies, "id": case_id})
        conn.execute(text(
            "INSERT INTO case_events (case_id, kind, at, actor, data) "
            "SELECT c.id, e.kind, e.at, e.actor, e.data FROM cases c JOIN case_events e ON e.case_id = :id "
            "WHERE c.id <> :id ORDER BY c.id, e.id"), {"id": case_id})


def test_every_breached_case_is_escalated_in_one_pass(engine, small_model):
    """10,000 cases whose first contact ran out: one pass reaches every one of them."""
    case_id = dispatched_case(engine, small_model)
    clone(engine, case_id, 9_999)
    with Session(engine) as s:
        did = run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(hours=3))
        s.commit()
    assert len([d for d in did if d["clock"] == "first_contact"]) == 10_000
    with Session(engine) as s:
        escalated = s.scalar(select(func.count(func.distinct(CaseEvent.case_id))).where(CaseEvent.kind == "escalated"))
        assert escalated == 10_000
        # Nothing is due any more until the next warnings: a second pass has nothing to read.
        assert s.scalar(select(func.count()).where(Case.next_due_at <= T0 + timedelta(hours=3))) == 0
        assert run_sla_pass(db_session=s, policy=POLICY, now=T0 + timedelta(hours=3, minutes=1)) == []


def test_a_case_that_cannot_be_evaluated_is_recorded_and_the_rest_go_on(engine, small_model, caplog):
    good = [dispatched_case(engine, small_model, text=f"第{i}辆车发动机异响") for i in range(3)]
    bad = dispatched_case(engine, small_model, text="变速箱顿挫")
    with Session(engine) as s:  # a pause the policy does not allow: its clock cannot be evaluated
        case = s.get(Case, bad)
        record_event(case, "paused", "handler", T0 + timedelta(minutes=20), clock="first_contact", reason="lunch")
        s.flush()
        refresh_due(db_session=s, case=case, policy=POLICY, now=T0 + timedelta(minutes=20))
        s.commit()
    now = T0 + timedelta(hours=3)
    with caplog.at_level(logging.ERROR, logger="triage.worker"), Session(engine) as s:
        did = run_sla_pass(db_session=s, policy=POLICY, now=now)
    assert {d["case"] for d in did if d["did"] == "escalate"} == {f"2026-11-00000{i}" for i in (1, 2, 3)}
    assert [d["did"] for d in did if d["case"] == "2026-11-000004"] == ["error"]
    assert "2026-11-000004" in caplog.text and "lunch" in caplog.text
    errors = kinds(engine, bad, "sla_error")
    assert len(errors) == 1 and "lunch" in errors[0]["message"]
    assert kinds(engine, bad, "sla_breach") == [] and due_at(engine, bad) == now + RETRY_AFTER
    assert all(len(kinds(engine, g, "escalated")) == 1 for g in good)
    with Session(engine) as s:  # retried later; the same failure is not logged on the case again
        assert run_sla_pass(db_session=s, policy=POLICY, now=now + timedelta(minutes=1)) == []
        run_sla_pass(db_session=s, policy=POLICY, now=now + RETRY_AFTER)
    assert len(kinds(engine, bad, "sla_error")) == 1 and due_at(engine, bad) == now + 2 * RETRY_AFTER


def test_the_loop_survives_a_failing_pass(engine, monkeypatch):
    """`triage serve` runs the loop in a thread: a pass that raises must not end it."""
    calls = []
    stop = threading.Event()

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away for a moment")
        if len(calls) >= 3:
            stop.set()
        return []

    monkeypatch.setattr("triage.case.worker.run_sla_pass", flaky)
    worker = threading.Thread(target=sla_loop, args=(engine, POLICY, 0.01, False, stop))
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive() and len(calls) >= 3


def test_after_a_policy_change_every_open_case_is_checked_again(engine, small_model):
    """A case's due instant was computed with the policy of its last event; when the policy
    or the calendar changes, recheck_all makes every open case due and the next pass
    stores the instants of the new policy."""
    case_id = dispatched_case(engine, small_model)
    assert due_at(engine, case_id) == T0 + timedelta(minutes=10 + 96)
    stricter = replace(POLICY, clocks=tuple(replace(c, warning_at=0.5) if c.id == "first_contact" else c
                                            for c in POLICY.clocks))
    now = T0 + timedelta(minutes=20)
    with Session(engine) as s:
        assert recheck_all(db_session=s, now=now) == 1
        s.commit()
        assert run_sla_pass(db_session=s, policy=stricter, now=now) == []
    assert due_at(engine, case_id) == T0 + timedelta(minutes=10 + 60)


def test_a_case_the_database_refuses_is_recorded_and_the_rest_are_written(engine, small_model):
    """The batch is written in a few statements; if the database refuses them, the cases are
    written one by one and only the refused one is left out, with the failure on its log."""
    good = [dispatched_case(engine, small_model, text=f"第{i}辆车发动机异响") for i in range(3)]
    bad = dispatched_case(engine, small_model, text="变速箱顿挫")
    with Session(engine) as s:  # a role too long for the column: PostgreSQL refuses the escalation
        dispatched = next(e for e in s.get(Case, bad).events if e.kind == "dispatched")
        dispatched.data = {**dispatched.data, "routing": {**dispatched.data["routing"], "escalation": ["x" * 100]}}
        s.commit()
    if engine.dialect.name == "sqlite":  # SQLite stores any length: refuse it here the way PostgreSQL does
        @event.listens_for(engine, "before_cursor_execute")
        def refuse(conn, cursor, statement, parameters, context, executemany):
            if statement.startswith("UPDATE cases SET state") and "x" * 100 in str(parameters):
                raise sqlite3.DataError("value too long for type character varying(60)")

    now = T0 + timedelta(hours=3)
    with Session(engine) as s:
        did = run_sla_pass(db_session=s, policy=POLICY, now=now)
    assert {d["case"] for d in did if d["did"] == "escalate"} == {f"2026-11-00000{i}" for i in (1, 2, 3)}
    assert all(len(kinds(engine, g, "escalated")) == 1 for g in good)
    assert kinds(engine, bad, "escalated") == [] and kinds(engine, bad, "sla_breach") == []
    assert "too long" in kinds(engine, bad, "sla_error")[0]["message"]
    assert due_at(engine, bad) == now + RETRY_AFTER


def test_the_loop_checks_every_open_case_again_when_a_notice_is_loaded(engine, monkeypatch, tmp_path):
    """A year's official notice moves deadlines: a worker that sees the calendar change makes
    every open case due again, so that stored due instants computed by the rules are redone."""
    from triage.policy.calendar import invalidate_calendars
    from triage.policy.notice import install_notice

    from .test_routing import NOTICE_2027, _notice_policy

    policy = load_policy(_notice_policy(tmp_path, None))
    rechecks, passes = [], []
    stop = threading.Event()

    def counted_recheck(**kwargs):
        rechecks.append(kwargs["now"])
        return 0

    def one_pass(**kwargs):
        passes.append(kwargs["cal"].signature)
        if len(passes) == 1:  # an administrator loads the 2027 notice between two passes
            notice = tmp_path / "2027-notice.yaml"
            notice.write_text(NOTICE_2027, encoding="utf-8")
            install_notice(notice, tmp_path / "notices")
            invalidate_calendars()
        if len(passes) >= 3:
            stop.set()
        return []

    monkeypatch.setattr("triage.case.worker.run_sla_pass", one_pass)
    monkeypatch.setattr("triage.case.worker.recheck_all", counted_recheck)
    worker = threading.Thread(target=sla_loop, args=(engine, policy, 0.01, False, stop))
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert passes[0] != passes[1] == passes[2]  # the calendar changed once
    assert len(rechecks) == 1
