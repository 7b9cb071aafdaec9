"""The SLA worker: a pass evaluates every clock of the policy on the event log of each case
that is due (Case.next_due_at, kept by the case service), records warnings and breaches
once, and carries out the breach actions (escalate to the next role of the chain with a
notification, notify, or close automatically through the case's state machine). A worker
that was down catches up: the clocks are evaluated at the present, with the breach instants
they had. A pass costs what the due cases cost, not what the open backlog holds.

Several workers on one PostgreSQL database never act on the same case at once: each
locks the case rows it works on with FOR UPDATE SKIP LOCKED, and the events a pass writes
say what was already done. On SQLite the write lock serialises them.

One case that cannot be checked (a date the calendar cannot place, a log the policy cannot
read) gets the failure on its log and is tried again later; the others go on.

A pass reads and writes rows in bulk, not through the ORM's objects: at a year's volume it
has to check a thousand cases a second.

The people a warning, a breach or an escalation concerns are told through the notification
outbox (triage.notify), written with the events in the same statements' transaction: a pass
that is retried finds the events recorded and writes no message twice. A clock that passed
several warning shares at once (a worker that was down) records each, and tells the latest.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from triage.case.clocks import (
    Logged,
    case_clocks,
    due_and_deadline,
    escalation_chain,
    facts_of,
    iso,
    read_clock_logs,
    recorded_marks,
)
from triage.case.models import Case, CaseClock, CaseEvent, clock_list, clocks_in
from triage.case.service import transition
from triage.case.suggestion_accuracy import check_accuracy
from triage.db import write_lock
from triage.notify import service as notify
from triage.notify.messages import CaseFacts
from triage.policy.calendar import WorkCalendar, work_calendar
from triage.policy.clocks import ClockEvent, ClockState, evaluate
from triage.policy.model import Policy

WORKER = "sla-worker"
ACCURACY_EVERY = 3600.0
"""Seconds between two looks of the loop at the suggestions' online accuracy (a month's figure
moves slowly; a drop is told once per month, model and head)."""
RETRY_AFTER = timedelta(minutes=10)
"""When a case whose check failed is tried again (its sla_error event says why)."""
log = logging.getLogger("triage.worker")


@dataclass
class _Due:
    """A due case as a pass reads it, and what the pass is about to write on it."""

    id: int
    number: str
    state: str
    role: str | None
    facts: dict[str, Any]
    received_at: datetime
    breached_clocks: str | None
    events: list[Logged] = field(default_factory=list)
    new_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    new_state: str = ""
    new_role: str | None = None
    due: datetime | None = None
    done: list[dict[str, Any]] = field(default_factory=list)
    notes: list[tuple[int, str, dict[str, Any], datetime | str | None]] = field(default_factory=list)
    """Who is told of the new events: (index in new_events, notification event, its data, the deadline named)."""


class PassResult(list[dict[str, Any]]):
    """What a pass did, one item per action ({"case", "clock", "did"}), and how many due cases
    it examined (`checked`)."""

    checked: int = 0


def run_sla_pass(*, db_session: Session, policy: Policy, now: datetime, cal: WorkCalendar | None = None,
                 batch: int = 500) -> PassResult:
    """One pass of the worker: every case due by `now`, `batch` at a time until none is left;
    returns what it did. Each batch is committed, so that locks are held briefly (SQLite has
    one writer at a time) and a pass that stops halfway keeps what it did."""
    cal = cal or work_calendar(policy)
    done = PassResult()
    while True:
        write_lock(db_session)  # SQLite: no other worker reads these cases before this one has written them
        cases = _read_due(db_session, now, batch)
        if not cases:
            return done
        for due_case in cases:
            try:
                _plan(due_case, policy, now, cal)
            except Exception as exc:
                _failed(due_case, exc, now)
        _write_batch(db_session, cases, now, policy)
        db_session.commit()
        done.extend(d for due_case in cases for d in due_case.done)
        done.checked += len(cases)


def recheck_all(*, db_session: Session, now: datetime) -> int:
    """Make every open case due now, so that the next pass evaluates each once and stores its
    real next instant: for when the due instants may have moved under the cases (a policy
    changed, a year's official holiday notice loaded). Returns how many; the caller commits."""
    result = db_session.execute(update(Case).where(Case.state != "closed").values(next_due_at=now)
                                .execution_options(synchronize_session=False))
    return int(result.rowcount)


def _read_due(db_session: Session, now: datetime, batch: int) -> list[_Due]:
    """The next `batch` cases due by `now` (locked, skipping those another worker holds),
    with their logs; only the event data the clocks read."""
    rows = db_session.execute(
        select(Case.id, Case.number, Case.state, Case.responsible_role, Case.channel, Case.in_warranty, Case.labels,
               Case.suggestion["labels"].label("suggested"), Case.received_at, Case.breached_clocks)
        .where(Case.next_due_at <= now).order_by(Case.next_due_at).limit(batch)
        .with_for_update(skip_locked=True, of=Case)).all()
    # Case.current_labels: the confirmed labels, else the suggestion's.
    cases = {r.id: _Due(r.id, r.number, r.state, r.responsible_role,
                        facts_of(r.labels or r.suggested or {}, r.channel, r.in_warranty), r.received_at,
                        r.breached_clocks)
             for r in rows}
    for case_id, log_ in read_clock_logs(db_session, list(cases)).items():
        cases[case_id].events = log_
    return list(cases.values())


def _plan(due_case: _Due, policy: Policy, now: datetime, cal: WorkCalendar) -> None:
    """The warnings and breaches due by `now` that are not recorded yet, the breach actions,
    and the case's next due instant once they are recorded. Writes nothing, so that a case
    that cannot be checked leaves nothing half-done."""
    due_case.new_state, due_case.new_role = due_case.state, due_case.role
    if due_case.state == "closed":
        return
    events = due_case.events
    seen = recorded_marks(events)
    chain = escalation_chain(events)
    planned = due_case.new_events
    evaluated: dict[str, tuple[list[ClockEvent], ClockState]] = {}
    for clock, found in case_clocks(policy, due_case.facts, events):
        if not found:
            continue
        state = evaluate(clock, found, now, cal, chain, due_case.new_role)
        evaluated[clock.id] = (found, state)
        new = [w for w in state.warnings if w.reached and not seen.warned(clock.id, w.share)]
        if new and not state.breached:
            for warning in new:
                planned.append(("sla_warning", {"clock": clock.id, "share": warning.share,
                                                "deadline": iso(state.deadline)}))
                due_case.done.append({"case": due_case.number, "clock": clock.id, "did": "warning"})
            due_case.notes.append((len(planned) - 1, "sla_warning", {**planned[-1][1], "role": due_case.new_role},
                                   state.deadline))
        if state.breached and not seen.breached(clock.id):
            action = state.action  # evaluate() always gives the action of a breach
            planned.append(("sla_breach", {"clock": clock.id, "breached_at": iso(state.breached_at),
                                           "action": action.kind}))
            due_case.notes.append((len(planned) - 1, "sla_breach", {**planned[-1][1], "role": due_case.new_role},
                                   state.breached_at))
            if action.kind == "escalate":
                planned.append(("escalated", {"clock": clock.id, "from_role": due_case.new_role,
                                              "to": action.to_role}))
                due_case.notes.append((len(planned) - 1, "escalated", planned[-1][1], None))
                due_case.new_role = action.to_role
            planned.append(("notification", {"clock": clock.id, "to": action.to_role, "message": action.message}))
            if action.kind == "auto_close" and due_case.new_state == "resolved":
                due_case.new_state, kind = transition(due_case.new_state, "auto_close", due_case.number)
                planned.append((kind, {"clock": clock.id, "source": clock.source}))
            due_case.done.append({"case": due_case.number, "clock": clock.id, "did": action.kind})
    after = [*events, *(Logged(kind, now, data) for kind, data in planned)]
    due, upcoming = due_and_deadline(due_case.facts, due_case.new_state, after, policy, now, cal, evaluated)
    if any(event == "escalated" for _, event, _, _ in due_case.notes):
        # The role escalated to is told the nearest deadline it now has.
        due_case.notes = [(i, event, data, upcoming if event == "escalated" else deadline)
                          for i, event, data, deadline in due_case.notes]
    # Everything due by now is about to be recorded; a later instant keeps the pass from looping.
    due_case.due = max(due, now + timedelta(seconds=1)) if due is not None else None


def _failed(due_case: _Due, exc: Exception, now: datetime) -> None:
    """A case the pass could not check: logged, the failure on its log (once while the same
    failure repeats), nothing else of it written, and due again after RETRY_AFTER."""
    message = f"{type(exc).__name__}: {exc}"
    log.error("case %s: SLA check failed, retried after %s: %s", due_case.number, RETRY_AFTER, message,
              exc_info=exc)
    latest = due_case.events[-1] if due_case.events else None
    repeated = latest is not None and latest.kind == "sla_error" and latest.data.get("message") == message
    due_case.new_events = [] if repeated else [("sla_error", {"message": message,
                                                              "retry_at": iso(now + RETRY_AFTER)})]
    due_case.notes = []
    due_case.new_state, due_case.new_role = due_case.state, due_case.role
    due_case.due = now + RETRY_AFTER
    due_case.done = [{"case": due_case.number, "clock": None, "did": "error", "error": message}]


def _write_batch(db_session: Session, cases: list[_Due], now: datetime, policy: Policy) -> None:
    """The batch's events and case rows in a few statements; if the database refuses them,
    case by case in savepoints, so that only the case it refuses is left out (with the
    failure on its log)."""
    try:
        with db_session.begin_nested():
            _write(db_session, cases, now, policy)
        return
    except Exception:
        log.exception("SLA pass: writing a batch of %d cases failed; writing them one by one", len(cases))
    for due_case in cases:
        try:
            with db_session.begin_nested():
                _write(db_session, [due_case], now, policy)
        except Exception as exc:
            _failed(due_case, exc, now)
            with db_session.begin_nested():
                _write(db_session, [due_case], now, policy)


def _write(db_session: Session, cases: list[_Due], now: datetime, policy: Policy) -> None:
    events = [{"case_id": c.id, "kind": kind, "at": now, "actor": WORKER, "data": data}
              for c in cases for kind, data in c.new_events]
    if events and any(c.notes for c in cases):
        # The messages name the events that cause them (their key): the ids, in the order written.
        ids = list(db_session.scalars(insert(CaseEvent.__table__).returning(
            CaseEvent.__table__.c.id, sort_by_parameter_order=True), events))
        _notify(db_session, cases, ids, now, policy)
    elif events:
        db_session.execute(insert(CaseEvent.__table__), events)
    table = Case.__table__
    by_id = table.c.id == bindparam("case_id")
    changed = [c for c in cases if (c.new_state, c.new_role) != (c.state, c.role)]
    if changed:  # a change of the case: its version moves, as for any other change
        db_session.execute(
            update(table).where(by_id).values(state=bindparam("to_state"), responsible_role=bindparam("to_role"),
                                              version=table.c.version + 1, next_due_at=bindparam("due")),
            [{"case_id": c.id, "to_state": c.new_state, "to_role": c.new_role, "due": c.due} for c in changed])
    unchanged = [c for c in cases if (c.new_state, c.new_role) == (c.state, c.role)]
    if unchanged:  # the clocks' bookkeeping only: no new version
        db_session.execute(update(table).where(by_id).values(next_due_at=bindparam("due")),
                           [{"case_id": c.id, "due": c.due} for c in unchanged])
    _mark_breached(db_session, [(c, data["clock"]) for c in cases for kind, data in c.new_events
                                if kind == "sla_breach"])


def _notify(db_session: Session, cases: list[_Due], event_ids: list[int], now: datetime, policy: Policy) -> None:
    """The outbox messages of the batch's notes, keyed by the ids of the events just written
    (`event_ids`, in the order of the cases' new events)."""
    noted = [c for c in cases if c.notes]
    texts = dict(db_session.execute(select(Case.id, Case.text).where(Case.id.in_([c.id for c in noted]))).all())
    first = 0
    starts: dict[int, int] = {}
    for c in cases:
        starts[c.id] = first
        first += len(c.new_events)
    messages = []
    for c in noted:
        facts = CaseFacts(c.id, c.number, c.facts, c.new_role, texts.get(c.id) or "")
        for index, event, data, deadline in c.notes:
            messages += notify.for_case_event(policy, event=event, case=facts,
                                              case_event_id=event_ids[starts[c.id] + index], data=data,
                                              deadline=deadline)
    notify.enqueue(db_session=db_session, messages=messages, now=now)


def _mark_breached(db_session: Session, breaches: list[tuple[_Due, str]]) -> None:
    """The lists' and reports' bookkeeping of breaches: the case is listed as breached, and
    its clock counts as breached (its case_clocks row, its breached_clocks, read with the case
    under the pass's lock). Not a change anyone made, so no new version."""
    if not breaches:
        return
    breached: dict[int, set[str]] = {}
    for c, clock in breaches:
        breached.setdefault(c.id, set(clocks_in(c.breached_clocks))).add(clock)
    # One statement per value the column takes, not per case: a batch's cases mostly breach alike.
    alike: dict[str | None, list[int]] = {}
    for case_id, found in breached.items():
        alike.setdefault(clock_list(found), []).append(case_id)
    cases = Case.__table__
    for value, ids in alike.items():
        db_session.execute(update(cases).where(cases.c.id.in_(ids)).values(breached=True, breached_clocks=value))
    clocks = CaseClock.__table__
    existing = set(db_session.execute(select(clocks.c.case_id, clocks.c.clock).where(
        clocks.c.case_id.in_({c.id for c, _ in breaches}))))
    db_session.execute(update(clocks).where(clocks.c.case_id == bindparam("cid"), clocks.c.clock == bindparam("ck"))
                       .values(breached=True), [{"cid": c.id, "ck": clock} for c, clock in breaches])
    new = {(c.id, clock): c.received_at for c, clock in breaches if (c.id, clock) not in existing}
    if new:
        db_session.execute(insert(clocks), [{"case_id": cid, "clock": clock, "breached": True, "received_at": at}
                                            for (cid, clock), at in new.items()])


def sla_loop(engine: Engine, policy: Policy, interval: float, once: bool = False,
             stop: threading.Event | None = None) -> None:
    """Passes every `interval` seconds until `stop` is set (or one pass, with `once`). A pass
    that fails (the database gone for a moment) is logged and the next one comes: the
    worker thread of `triage serve` must not die while the API goes on serving."""
    calendar_seen: str | None = None
    accuracy_checked: float | None = None
    while True:
        try:
            with Session(engine) as session:
                cal = work_calendar(policy)
                if calendar_seen is not None and cal.signature != calendar_seen:
                    # A year's official notice was loaded: the stored due instants may have moved.
                    log.warning("the working-day calendar changed: %d open cases to check again",
                                recheck_all(db_session=session, now=datetime.now(UTC)))
                    session.commit()
                calendar_seen = cal.signature
                done = run_sla_pass(db_session=session, policy=policy, now=datetime.now(UTC), cal=cal)
                session.commit()
            for d in done:
                log.warning("case %s: clock %s: %s", d["case"], d["clock"], d["did"])
            elapsed = time.monotonic()
            if accuracy_checked is None or elapsed - accuracy_checked >= ACCURACY_EVERY:
                accuracy_checked = elapsed
                with Session(engine) as session:
                    check_accuracy(session, policy=policy, now=datetime.now(UTC))
                    session.commit()  # what the notification outbox writes of the drops
        except Exception:
            log.exception("SLA pass failed; the next one in %s s", interval)
        if once or (stop is not None and stop.wait(interval)):
            return
        if stop is None:
            time.sleep(interval)
