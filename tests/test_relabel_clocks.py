"""Correcting a case's labels after its clocks started, with a clock we set: the clocks that
go on keep their counted and paused time, those that no longer apply stop (recorded, what
they counted kept), new ones count from the correction (paused if a pause of theirs is in
force), and the timeline says so; at the review and on a dispatched case, across a pause."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.main import create_app
from triage.case.clocks import clock_states
from triage.case.models import Case, CaseClock
from triage.case.service import (
    CaseError,
    InvalidTransition,
    act,
    record_event,
    refresh_due,
    relabel,
    review,
)
from triage.case.worker import run_sla_pass
from triage.policy.calendar import TZ, deadline, work_calendar
from triage.policy.loader import load_policy

from .test_suggestions import Scripted, suggested_case

POLICY = load_policy()
CAL = work_calendar(POLICY)
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday
H = timedelta(hours=1)


def clock_of(policy_clock_id: str):
    return next(c for c in POLICY.clocks if c.id == policy_clock_id)


def states(engine, case_id: int, now: datetime) -> dict[str, dict]:
    with Session(engine) as s:
        return {c["id"]: c for c in clock_states(s.get(Case, case_id), POLICY, now, CAL)}


def events(engine, case_id: int, kind: str) -> list[dict]:
    with Session(engine) as s:
        return [{**e.data, "at": e.at} for e in s.get(Case, case_id).events if e.kind == kind]


def log(engine, case_id: int, kind: str, at: datetime, **data) -> None:
    """A pause or resume as the handler's tools write it, with the case's next due instant."""
    with Session(engine) as s:
        case = s.get(Case, case_id)
        record_event(case, kind, "handler", at, **data)
        s.flush()
        refresh_due(db_session=s, case=case, policy=POLICY, now=at)
        s.commit()


def dispatched(engine, text: str, contact: bool = True) -> int:
    """Received at T0, accepted at T0 + 10 min, the customer contacted at T0 + 30 min (which stops
    the first-contact clock, whose pauses are not the closing clocks')."""
    case_id = suggested_case(engine, text)
    with Session(engine) as s:
        review(db_session=s, case_id=case_id, reviewer="care", policy=POLICY, now=T0 + timedelta(minutes=10))
        if contact:
            act(db_session=s, case_id=case_id, action="contact", actor="handler", policy=POLICY,
                now=T0 + timedelta(minutes=30))
        s.commit()
    return case_id


def relabelled(engine, case_id: int, at: datetime, **corrections) -> None:
    with Session(engine) as s:
        relabel(db_session=s, case_id=case_id, actor="manager", policy=POLICY, now=at, corrections=corrections)
        s.commit()


def test_a_correction_at_review_stops_the_old_clock_and_starts_the_new_one_then(engine):
    case_id = suggested_case(engine, "sev=complaint")
    assert states(engine, case_id, T0 + H)["close_ordinary"]["status"] == "running"
    with Session(engine) as s:
        review(db_session=s, case_id=case_id, reviewer="care", policy=POLICY, now=T0 + 3 * H,
               corrections={"severity": "major"})
        s.commit()
    [change] = events(engine, case_id, "clocks_changed")
    assert change == {"stopped": ["close_ordinary"], "added": ["close_major"], "started": ["close_major"],
                      "at": T0 + 3 * H}
    now = T0 + 4 * H
    clocks = states(engine, case_id, now)
    old, new = clocks["close_ordinary"], clocks["close_major"]
    assert (old["status"], old["labels_changed"], old["breached"]) == ("stopped", True, False)
    major = clock_of("close_major")
    # From the correction, not from the receipt three hours before it.
    assert new["status"] == "running"
    assert new["deadline"] == deadline(CAL, T0 + 3 * H, major.limit, major.basis).isoformat()
    assert clocks["handover"]["status"] == "stopped" and not clocks["handover"]["labels_changed"]


def test_a_clock_that_starts_late_is_not_breached_for_the_time_before_it_applied(engine):
    """Suggested major, confirmed an ordinary complaint 30 hours later: the 24-hour clock counts
    from the confirmation (counted from receipt, it would be breached and escalated at once)."""
    case_id = suggested_case(engine, "sev=major")
    with Session(engine) as s:
        review(db_session=s, case_id=case_id, reviewer="care", policy=POLICY, now=T0 + 30 * H,
               corrections={"severity": "complaint"})
        s.commit()
    with Session(engine) as s:
        did = run_sla_pass(db_session=s, policy=POLICY, now=T0 + 31 * H)
        s.commit()
    assert not [d for d in did if d["clock"] in ("close_ordinary", "close_major") and d["did"] != "warning"]
    clocks = states(engine, case_id, T0 + 31 * H)
    assert clocks["close_ordinary"]["deadline"] == (T0 + 54 * H).isoformat()
    assert clocks["close_major"]["status"] == "stopped" and clocks["close_major"]["labels_changed"]
    assert clocks["close_ordinary"]["warning_at"] == (T0 + 30 * H + 24 * H * 0.8).isoformat()


def test_a_clock_that_goes_on_keeps_its_counted_and_paused_time_across_a_pause(engine):
    case_id = dispatched(engine, "sev=grumble")
    log(engine, case_id, "paused", T0 + 2 * H, clock="close_ordinary", reason="customer_unreachable")
    relabelled(engine, case_id, T0 + 5 * H, severity="complaint")  # the same closing clock: it goes on
    assert events(engine, case_id, "clocks_changed") == []
    assert events(engine, case_id, "relabeled")[0]["corrections"] == {"severity": {"from": "grumble",
                                                                                   "to": "complaint"}}
    assert states(engine, case_id, T0 + 6 * H)["close_ordinary"]["status"] == "paused"  # still waiting
    log(engine, case_id, "resumed", T0 + 10 * H, clock="close_ordinary")
    ordinary = states(engine, case_id, T0 + 11 * H)["close_ordinary"]
    # 2 hours counted before the pause; 22 left from the resume.
    assert ordinary["status"] == "running" and ordinary["deadline"] == (T0 + 32 * H).isoformat()
    relabelled(engine, case_id, T0 + 12 * H, severity="major")
    [change] = events(engine, case_id, "clocks_changed")
    assert (change["stopped"], change["started"]) == (["close_ordinary"], ["close_major"])
    with Session(engine) as s:
        case = s.get(Case, case_id)
        from triage.case.clocks import case_clocks, facts
        from triage.policy.clocks import evaluate

        found = dict((c.id, (c, e)) for c, e in case_clocks(POLICY, facts(case), case.events))
        clock, clock_events = found["close_ordinary"]
        assert evaluate(clock, clock_events, T0 + 20 * H, CAL).counted == 4 * H  # 2 before, 2 after the pause
    major = clock_of("close_major")
    assert states(engine, case_id, T0 + 13 * H)["close_major"]["deadline"] == deadline(
        CAL, T0 + 12 * H, major.limit, major.basis).isoformat()


def test_a_new_clock_starts_paused_when_a_pause_of_its_own_is_in_force(engine):
    case_id = dispatched(engine, "sev=grumble")
    log(engine, case_id, "paused", T0 + 2 * H, reason="waiting_for_parts")  # every clock that may wait for parts
    relabelled(engine, case_id, T0 + 5 * H, severity="major")
    clocks = states(engine, case_id, T0 + 6 * H)
    assert clocks["close_major"]["status"] == "paused" and clocks["close_major"]["deadline"] is None
    assert clocks["close_ordinary"]["status"] == "stopped"
    with Session(engine) as s:
        assert s.get(Case, case_id).next_due_at is None  # everything that runs is waiting for the parts
    log(engine, case_id, "resumed", T0 + 8 * H)
    major = clock_of("close_major")
    assert states(engine, case_id, T0 + 9 * H)["close_major"]["deadline"] == deadline(
        CAL, T0 + 8 * H, major.limit, major.basis).isoformat()


def test_a_breach_before_the_correction_stays_a_breach(engine):
    case_id = dispatched(engine, "sev=complaint")
    with Session(engine) as s:
        run_sla_pass(db_session=s, policy=POLICY, now=T0 + 25 * H)
        s.commit()
    assert "close_ordinary" in {b["clock"] for b in events(engine, case_id, "sla_breach")}
    relabelled(engine, case_id, T0 + 30 * H, severity="major", category="repair_quality")
    ordinary = states(engine, case_id, T0 + 31 * H)["close_ordinary"]
    assert ordinary["status"] == "stopped" and ordinary["breached"]
    assert ordinary["breached_at"] == (T0 + 24 * H).isoformat()
    with Session(engine) as s:
        rows = {r.clock: r.breached for r in s.scalars(select(CaseClock).where(CaseClock.case_id == case_id))}
        assert rows["close_ordinary"] is True  # still counted breached in the reports
        run_sla_pass(db_session=s, policy=POLICY, now=T0 + 32 * H)
        s.commit()
    assert [b["clock"] for b in events(engine, case_id, "sla_breach")].count("close_ordinary") == 1
    # repair_quality's automatic close starts on resolution: it applies now, and starts then.
    [change] = events(engine, case_id, "clocks_changed")
    assert "repair_auto_close" in change["added"] and "repair_auto_close" not in change["started"]


def test_relabelling_is_for_dispatched_open_cases_and_keeps_the_role(engine):
    suggested = suggested_case(engine, "sev=grumble")
    with Session(engine) as s, pytest.raises(InvalidTransition, match="only a dispatched, open case"):
        relabel(db_session=s, case_id=suggested, actor="m", policy=POLICY, now=T0, corrections={"severity": "major"})
    case_id = dispatched(engine, "sev=grumble")
    with Session(engine) as s:
        with pytest.raises(CaseError, match="by escalation"):
            relabel(db_session=s, case_id=case_id, actor="m", policy=POLICY, now=T0,
                    corrections={"responsible_role": "general_manager"})
        role = s.get(Case, case_id).responsible_role
        case = relabel(db_session=s, case_id=case_id, actor="m", policy=POLICY, now=T0 + H,
                       corrections={"severity": "grumble"})  # nothing changes: nothing logged
        assert not [e for e in case.events if e.kind == "relabeled"]
        case = relabel(db_session=s, case_id=case_id, actor="m", policy=POLICY, now=T0 + H,
                       corrections={"flags": ["safety"]})
        assert case.labels["severity"] == "major" and case.severity == "major"  # the major rule holds here too
        assert case.responsible_role == role
        s.commit()


def test_the_case_page_timeline_shows_the_change(engine):
    from triage.auth.service import create_account
    from triage.auth.tokens import create as create_token

    from .console_seed import PASSWORD

    case_id = dispatched(engine, "sev=grumble")
    with Session(engine) as s:
        create_account(db_session=s, username="care", display_name="李关爱", role="customer_care",
                       password=PASSWORD, now=T0)
        token = create_token(db_session=s, name="care-1", role="customer_care", now=T0)
        version = s.get(Case, case_id).version
        s.commit()
    now = [T0 + 3 * H]
    app = create_app(engine, Scripted, POLICY, clock=lambda: now[0])
    with TestClient(app, base_url="http://console.test") as client:
        r = client.post(f"/v1/cases/{case_id}/labels", json={"version": version, "corrections": {"severity": "major"}},
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["labels"]["severity"] == "major"
        assert [e["kind"] for e in r.json()["events"]][-2:] == ["relabeled", "clocks_changed"]
        client.post("/login", data={"username": "care", "password": PASSWORD, "next": "/"})
        page = client.get(f"/cases/{case_id}").text
        assert "修改分类" in page and "严重度 抱怨 → 重大投诉" in page
        assert "时限随分类变更" in page and "停止：一般抱怨封闭；开始计时：重大投诉封闭" in page
        assert "分类变更后不再适用，已停止" in page
        # The console's own form: back to a complaint, the major clock stops in its turn.
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        now[0] = T0 + 4 * H
        r = client.post(f"/cases/{case_id}/labels", data={
            "csrf": csrf, "version": version + 1, "business_line": "after_sales", "category": "service",
            "severity": "complaint"}, follow_redirects=False)
        assert r.status_code == 303, r.text
    changes = events(engine, case_id, "clocks_changed")
    assert [(c["stopped"], c["started"]) for c in changes] == [(["close_ordinary"], ["close_major"]),
                                                                (["close_major"], ["close_ordinary"])]
    # Started afresh at the second correction: the clock a correction stopped does not resume.
    assert states(engine, case_id, T0 + 5 * H)["close_ordinary"]["deadline"] == (T0 + 28 * H).isoformat()
