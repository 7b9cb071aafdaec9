"""The SLA worker's pass over open cases: evaluate every clock of the policy on each case's
event log at `now`, record warnings and breaches once, and carry out the breach actions
(escalate to the next role of the chain with a notification, notify, or close
automatically). A worker that was down catches up: the clocks are evaluated at the
present, with the breach instants they had.

Several workers on one PostgreSQL database never act on the same case at once: each
locks the case rows it works on with FOR UPDATE SKIP LOCKED, and the events a pass writes
say what was already done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.case.models import Case, CaseEvent
from triage.case.service import record_event
from triage.policy.calendar import WorkCalendar
from triage.policy.clocks import ClockEvent, evaluate
from triage.policy.model import Clock, Policy
from triage.policy.routing import work_calendar

WORKER = "sla-worker"
OPEN_STATES = ("received", "suggested", "confirmed", "in_progress", "resolved", "reopened", "verified")

# Clock events of the policy -> case event kinds of the log.
_EVENT_KINDS: dict[str, tuple[str, ...]] = {
    "received": ("received",), "dispatched": ("dispatched",), "first_contact": ("first_contact",),
    "resolved": ("resolved",), "verified": ("verified",), "closed": ("closed", "auto_closed"),
    "reopened": ("reopened",), "escalated": ("escalated",), "form_rejected": ("form_rejected",),
    "form_returned": ("form_returned", "resolved"),
}


def _facts(case: Case) -> dict[str, Any]:
    return {**case.current_labels, "channel": case.channel, "in_warranty": case.in_warranty}


def _clock_events(clock: Clock, events: list[CaseEvent]) -> list[ClockEvent]:
    """The clock's start, pauses and stop, from the case log. A clock that starts on an
    event which happens again (resolved after a reopen) runs from its latest start."""
    # Events are in log order (the relationship orders by id; one not yet written comes last).
    starts = [i for i, e in enumerate(events) if e.kind in _EVENT_KINDS[clock.starts_on]]
    if not starts:
        return []
    start = events[starts[-1]]
    out = [ClockEvent("start", start.at)]
    stop_kinds = {k for ev in clock.stops_on for k in _EVENT_KINDS[ev]}
    for e in events[starts[-1] + 1:]:
        if e.at < start.at:
            continue
        if e.kind in stop_kinds:
            out.append(ClockEvent("stop", e.at))
            break
        if e.kind in ("paused", "resumed") and e.data.get("clock") in (None, clock.id):
            out.append(ClockEvent("pause" if e.kind == "paused" else "resume", e.at, str(e.data.get("reason", ""))))
    return out


def run_sla_pass(session: Session, policy: Policy, now: datetime, cal: WorkCalendar | None = None,
                 batch: int = 200) -> list[dict[str, Any]]:
    """One pass of the worker; returns what it did. The caller commits."""
    cal = cal or work_calendar(policy)
    query = (select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.id).limit(batch)
             .with_for_update(skip_locked=True))
    done: list[dict[str, Any]] = []
    for case in session.scalars(query):
        events = list(case.events)
        seen = {(e.kind, e.data.get("clock")) for e in events}
        dispatched = [e for e in events if e.kind == "dispatched"]
        # The whole chain from the role first dispatched to: escalation moves one step up it at a time.
        chain = ([dispatched[-1].data.get("to"), *dispatched[-1].data.get("routing", {}).get("escalation", [])]
                 if dispatched else [])
        facts = _facts(case)
        for clock in policy.clocks:
            if not clock.when.matches(facts):
                continue
            clock_events = _clock_events(clock, events)
            if not clock_events:
                continue
            state = evaluate(clock, clock_events, now, cal, chain, case.responsible_role)
            if state.warned and not state.breached and ("sla_warning", clock.id) not in seen:
                record_event(case, "sla_warning", WORKER, now, clock=clock.id, deadline=_iso(state.deadline))
                done.append({"case": case.number, "clock": clock.id, "did": "warning"})
            if state.breached and ("sla_breach", clock.id) not in seen:
                action = state.action  # evaluate() always gives the action of a breach
                record_event(case, "sla_breach", WORKER, now, clock=clock.id, breached_at=_iso(state.breached_at),
                             action=action.kind)
                if action.kind == "escalate":
                    record_event(case, "escalated", WORKER, now, clock=clock.id, from_role=case.responsible_role,
                                 to=action.to_role)
                    case.responsible_role = action.to_role
                record_event(case, "notification", WORKER, now, clock=clock.id, to=action.to_role,
                             message=action.message)
                if action.kind == "auto_close" and case.state == "resolved":
                    case.state = "closed"
                    record_event(case, "auto_closed", WORKER, now, clock=clock.id, source=clock.source)
                done.append({"case": case.number, "clock": clock.id, "did": action.kind})
                seen.add(("sla_breach", clock.id))
        session.flush()
    return done


def clock_states(case: Case, policy: Policy, now: datetime, cal: WorkCalendar | None = None
                 ) -> list[dict[str, Any]]:
    """Every clock of the policy that applies to the case, as it stands at `now`: for live
    countdowns and for sorting a handler's cases (breached first, then the nearest deadline)."""
    cal = cal or work_calendar(policy)
    events = list(case.events)
    facts = _facts(case)
    out = []
    for clock in policy.clocks:
        if not clock.when.matches(facts):
            continue
        clock_events = _clock_events(clock, events)
        state = evaluate(clock, clock_events, now, cal) if clock_events else None
        out.append({"id": clock.id, "name": clock.name, "limit": str(clock.limit), "source": clock.source,
                    "starts_on": clock.starts_on,
                    "status": state.status if state else "not_started",
                    "deadline": _iso(state.deadline) if state else None,
                    "warning_at": _iso(state.warning_at) if state else None,
                    "warned": bool(state and state.warned), "breached": bool(state and state.breached),
                    "breached_at": _iso(state.breached_at) if state else None})
    return out


def urgency_key(clocks: list[dict[str, Any]]) -> tuple[int, float]:
    """Breached (and still running) first, then the nearest running deadline."""
    running = [c for c in clocks if c["status"] == "running"]
    breached = any(c["breached"] for c in running)
    deadlines = [datetime.fromisoformat(c["deadline"]).timestamp() for c in running if c["deadline"]]
    return (0 if breached else 1, min(deadlines) if deadlines else float("inf"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def intake_rows(session: Session, rows: Any, policy: Policy, model: Any, actor: str, now: datetime,
                channel: str | None = None) -> dict[str, Any]:
    """Cases from a file of complaints (an OEM export, a hotline day): each row is one intake,
    idempotent on (channel, id), with the model's suggestion; a bad row is reported and the
    others go on. Columns: id, text, and optionally channel, received_at (ISO, with zone),
    customer_name, customer_phone, plate, vin."""
    from triage.case.service import CaseError, IntakeRequest, intake, suggest
    from triage.prediction import RowError

    created = existing = 0
    errors: list[str] = []
    for row in rows:
        if isinstance(row, RowError):
            errors.append(row.error)
            continue
        savepoint = session.begin_nested()
        try:
            f = row.fields
            received = datetime.fromisoformat(f["received_at"]) if f.get("received_at") else now
            req = IntakeRequest(channel=f.get("channel") or channel or "", text=row.text, received_at=received,
                                external_id=row.id, customer_name=f.get("customer_name") or None,
                                customer_phone=f.get("customer_phone") or None, plate=f.get("plate") or None,
                                vin=f.get("vin") or None)
            case, new = intake(session, req, policy, actor)
            if new:
                suggest(session, case, model, policy, now)
            savepoint.commit()
            created, existing = created + new, existing + (not new)
        except (CaseError, ValueError) as exc:
            savepoint.rollback()
            errors.append(f"row {row.row} ({row.id}): {exc}")
    return {"created": created, "existing": existing, "errors": errors}
