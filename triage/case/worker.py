"""The SLA worker: a pass over open cases evaluates every clock of the policy on each case's
event log at `now`, records warnings and breaches once, and carries out the breach actions
(escalate to the next role of the chain with a notification, notify, or close
automatically through the case's state machine). A worker that was down catches up: the
clocks are evaluated at the present, with the breach instants they had.

Several workers on one PostgreSQL database never act on the same case at once: each
locks the case rows it works on with FOR UPDATE SKIP LOCKED, and the events a pass writes
say what was already done.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from triage.case.clocks import clock_events, facts, iso
from triage.case.models import Case
from triage.case.service import mark_breached, move, record_event
from triage.policy.calendar import WorkCalendar, work_calendar
from triage.policy.clocks import evaluate
from triage.policy.model import Policy

WORKER = "sla-worker"
OPEN_STATES = ("received", "suggested", "confirmed", "in_progress", "resolved", "reopened", "verified")
log = logging.getLogger("triage.worker")


def run_sla_pass(*, db_session: Session, policy: Policy, now: datetime, cal: WorkCalendar | None = None,
                 batch: int = 200) -> list[dict[str, Any]]:
    """One pass of the worker; returns what it did. The caller commits."""
    cal = cal or work_calendar(policy)
    query = (select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.id).limit(batch)
             .with_for_update(skip_locked=True))
    done: list[dict[str, Any]] = []
    for case in db_session.scalars(query):
        events = list(case.events)
        seen = {(e.kind, e.data.get("clock")) for e in events}
        dispatched = [e for e in events if e.kind == "dispatched"]
        # The whole chain from the role first dispatched to: escalation moves one step up it at a time.
        chain = ([dispatched[-1].data.get("to"), *dispatched[-1].data.get("routing", {}).get("escalation", [])]
                 if dispatched else [])
        case_facts = facts(case)
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
                mark_breached(case, clock.id)
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
        db_session.flush()
    return done


def sla_loop(engine: Engine, policy: Policy, interval: float, once: bool = False,
             stop: threading.Event | None = None) -> None:
    """Passes every `interval` seconds until `stop` is set (or one pass, with `once`)."""
    while True:
        with Session(engine) as session:
            done = run_sla_pass(db_session=session, policy=policy, now=datetime.now(UTC))
            session.commit()
        for d in done:
            log.warning("case %s: clock %s: %s", d["case"], d["clock"], d["did"])
        if once or (stop is not None and stop.wait(interval)):
            return
        if stop is None:
            time.sleep(interval)
