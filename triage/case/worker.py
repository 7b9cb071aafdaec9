"""The SLA worker: a pass evaluates every clock of the policy on the event log of each case
that is due (Case.next_due_at, kept by the case service), records warnings and breaches
once, and carries out the breach actions (escalate to the next role of the chain with a
notification, notify, or close automatically through the case's state machine). A worker
that was down catches up: the clocks are evaluated at the present, with the breach instants
they had. A pass costs what the due cases cost, not what the open backlog holds.

Several workers on one PostgreSQL database never act on the same case at once: each
locks the case rows it works on with FOR UPDATE SKIP LOCKED, and the events a pass writes
say what was already done. On SQLite the write lock serialises them.

One case that cannot be evaluated (a date the calendar cannot place, a log the policy
cannot read) is recorded as such on the case and retried later; the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from triage.case.clocks import clock_events, escalation_chain, facts, iso, next_due, recorded_marks
from triage.case.models import Case
from triage.case.service import move, record_event, store_due
from triage.policy.calendar import WorkCalendar, work_calendar
from triage.policy.clocks import evaluate
from triage.policy.model import Policy

WORKER = "sla-worker"
OPEN_STATES = ("received", "suggested", "confirmed", "in_progress", "resolved", "reopened", "verified")
RETRY_AFTER = timedelta(minutes=10)
"""When a case whose evaluation failed is tried again (its sla_error event says why)."""
log = logging.getLogger("triage.worker")


def run_sla_pass(*, db_session: Session, policy: Policy, now: datetime, cal: WorkCalendar | None = None,
                 batch: int = 500) -> list[dict[str, Any]]:
    """One pass of the worker: every case due by `now`, `batch` at a time until none is left;
    returns what it did. Each batch is committed, so that locks are held briefly (SQLite has
    one writer at a time) and a pass that stops halfway keeps what it did."""
    cal = cal or work_calendar(policy)
    due = (select(Case).where(Case.next_due_at <= now).order_by(Case.next_due_at, Case.id).limit(batch)
           .options(selectinload(Case.events)).with_for_update(skip_locked=True, of=Case))
    done: list[dict[str, Any]] = []
    while True:
        cases = db_session.scalars(due).all()
        if not cases:
            return done
        for case in cases:
            done.extend(_check_case(db_session, case, policy, now, cal))
        db_session.commit()


def _check_case(db_session: Session, case: Case, policy: Policy, now: datetime,
                cal: WorkCalendar) -> list[dict[str, Any]]:
    """One case, in its own savepoint: what it did, or, if it failed, nothing of it but the
    failure recorded on the case."""
    number = case.number
    savepoint = db_session.begin_nested()
    try:
        did = _act_on_clocks(case, policy, now, cal) if case.state != "closed" else []
        db_session.flush()
        due = next_due(case, policy, now, cal)
        # Everything due by now was just recorded; a later instant keeps the pass from looping.
        store_due(db_session=db_session, case=case, due=max(due, now + timedelta(seconds=1)) if due else None)
        savepoint.commit()
        return did
    except Exception as exc:
        savepoint.rollback()
        message = f"{type(exc).__name__}: {exc}"
        log.exception("case %s: SLA check failed, retried after %s", number, RETRY_AFTER)
        _record_failure(db_session, case, message, now)
        return [{"case": number, "clock": None, "did": "error", "error": message}]


def _record_failure(db_session: Session, case: Case, message: str, now: datetime) -> None:
    """The failure, on the case's log (once while it repeats unchanged), and a retry later."""
    latest = case.events[-1] if case.events else None
    if latest is None or latest.kind != "sla_error" or latest.data.get("message") != message:
        record_event(case, "sla_error", WORKER, now, message=message, retry_at=iso(now + RETRY_AFTER))
    db_session.flush()
    store_due(db_session=db_session, case=case, due=now + RETRY_AFTER)


def _act_on_clocks(case: Case, policy: Policy, now: datetime, cal: WorkCalendar) -> list[dict[str, Any]]:
    """Record the case's warnings and breaches due by `now` and carry out the breach actions."""
    events = list(case.events)
    seen = recorded_marks(events)
    chain = escalation_chain(events)
    case_facts = facts(case)
    done: list[dict[str, Any]] = []
    for clock in policy.clocks:
        if not clock.when.matches(case_facts):
            continue
        found = clock_events(clock, events)
        if not found:
            continue
        state = evaluate(clock, found, now, cal, chain, case.responsible_role)
        if state.warned and not state.breached and ("sla_warning", clock.id) not in seen:
            record_event(case, "sla_warning", WORKER, now, clock=clock.id, deadline=iso(state.deadline))
            done.append({"case": case.number, "clock": clock.id, "did": "warning"})
        if state.breached and ("sla_breach", clock.id) not in seen:
            action = state.action  # evaluate() always gives the action of a breach
            record_event(case, "sla_breach", WORKER, now, clock=clock.id, breached_at=iso(state.breached_at),
                         action=action.kind)
            if action.kind == "escalate":
                record_event(case, "escalated", WORKER, now, clock=clock.id, from_role=case.responsible_role,
                             to=action.to_role)
                case.responsible_role = action.to_role
            record_event(case, "notification", WORKER, now, clock=clock.id, to=action.to_role,
                         message=action.message)
            if action.kind == "auto_close" and case.state == "resolved":
                move(case, "auto_close", WORKER, now, {"clock": clock.id, "source": clock.source})
            done.append({"case": case.number, "clock": clock.id, "did": action.kind})
            seen.add(("sla_breach", clock.id))
    return done


def sla_loop(engine: Engine, policy: Policy, interval: float, once: bool = False,
             stop: threading.Event | None = None) -> None:
    """Passes every `interval` seconds until `stop` is set (or one pass, with `once`). A pass
    that fails (the database gone for a moment) is logged and the next one comes: the
    worker thread of `triage serve` must not die while the API goes on serving."""
    while True:
        try:
            with Session(engine) as session:
                done = run_sla_pass(db_session=session, policy=policy, now=datetime.now(UTC))
                session.commit()
            for d in done:
                log.warning("case %s: clock %s: %s", d["case"], d["clock"], d["did"])
        except Exception:
            log.exception("SLA pass failed; the next one in %s s", interval)
        if once or (stop is not None and stop.wait(interval)):
            return
        if stop is None:
            time.sleep(interval)
