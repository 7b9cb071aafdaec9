"""A case's SLA clocks, read from its event log: which clocks of the policy apply to it, when
each started, paused and stopped, and where each stands at a given instant. The worker acts
on these; the console shows them as live countdowns. `read_clock_logs` reads the part of
many cases' logs that the clocks need, in one query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import JSON, ColumnElement, select, type_coerce
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from triage.case.models import Case, CaseEvent
from triage.policy.calendar import WorkCalendar, work_calendar
from triage.policy.clocks import ClockEvent, ClockState, evaluate
from triage.policy.model import Clock, Policy

# Clock events of the policy -> case event kinds of the log.
EVENT_KINDS: dict[str, tuple[str, ...]] = {
    "received": ("received",), "dispatched": ("dispatched",), "first_contact": ("first_contact",),
    "resolved": ("resolved",), "verified": ("verified",), "closed": ("closed", "auto_closed"),
    "reopened": ("reopened",), "escalated": ("escalated",), "form_rejected": ("form_rejected",),
    "form_returned": ("form_returned", "resolved"),
}


CLOCKS_CHANGED = "clocks_changed"
"""A person changed the labels, and with them the clocks the policy calls for: its data lists
the clocks `stopped` (they no longer apply: they stop there, with the time they counted), the
clocks `added` (they apply from then on: they count from there, not from their start event
before it, in the state the case is in: paused if a pause of theirs is in force) and of those
the `started` ones (their start event already came). The clocks in both sets go on as they
were, their counted and paused time kept."""

DATA_KINDS = frozenset({"paused", "resumed", "sla_warning", "sla_breach", "sla_error", CLOCKS_CHANGED})
"""The events whose data the clocks read whole; of a dispatched event they read the role
and the escalation chain (escalation_chain). The SLA worker loads no other event data
(whole suggestions and routing decisions among them)."""
CLOCK_KINDS = frozenset({k for kinds in EVENT_KINDS.values() for k in kinds} | DATA_KINDS)
"""The events the clocks read at all: the SLA worker loads no others (a case's log also
holds every read of its personal data, notifications, assignments)."""


class LogEntry(Protocol):
    """An entry of a case's log as the clocks read it: a CaseEvent, or a lighter row."""

    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def data(self) -> dict[str, Any]: ...


class Logged(NamedTuple):
    """A log entry reduced to what the clocks read (a LogEntry without the ORM's cost)."""

    kind: str
    at: datetime
    data: dict[str, Any]


def clock_log(events: Sequence[CaseEvent]) -> list[Logged]:
    """The entries of a case's log that the clocks read, with the data of those whose data
    they read (the others' payloads stay unloaded when deferred)."""
    return [Logged(e.kind, e.at, e.data if e.kind in DATA_KINDS else {}) for e in events if e.kind in CLOCK_KINDS]


def read_clock_logs(db_session: Session, case_ids: Sequence[int], *, dispatches: bool = True
                    ) -> dict[int, list[Logged]]:
    """The clocks' part of the logs of many cases in one query (in log order): the entries
    they read, the data of those whose data they read, and, with `dispatches`, of a dispatch
    the role and the escalation chain (escalation_chain: what the worker acts on at a breach);
    the database sends no other payload. Without `dispatches` a dispatch comes without data,
    as clock_log gives it: the clocks' states do not read it, and the database need not take
    the role and chain out of some 3 KB of JSON text per case."""
    out: dict[int, list[Logged]] = {case_id: [] for case_id in case_ids}
    if not out:
        return out
    dispatched = CaseEvent.kind == "dispatched"
    columns = [CaseEvent.case_id, CaseEvent.kind, CaseEvent.at,
               _json_if(CaseEvent.kind.in_(DATA_KINDS), CaseEvent.data).label("data")]
    if dispatches:
        columns += [_json_if(dispatched, CaseEvent.data["to"]).label("to"),
                    _json_if(dispatched, CaseEvent.data[("routing", "escalation")]).label("escalation")]
    query = (select(*columns).where(CaseEvent.case_id.in_(out), CaseEvent.kind.in_(CLOCK_KINDS))
             .order_by(CaseEvent.case_id, CaseEvent.id))
    for case_id, kind, at, data, *dispatch in db_session.execute(query):
        if kind == "dispatched" and dispatches:
            to, escalation = dispatch
            data = {"to": to, "routing": {"escalation": escalation or []}}
        out[case_id].append(Logged(kind, at, data or {}))
    return out


def _json_if(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
    """`value` (JSON) where `condition` holds, else NULL: the database leaves the rest unsent."""
    return type_coerce(sql_case((condition, value)), JSON)


def facts(case: Case) -> dict[str, Any]:
    """What a clock's `when` condition tests on a case."""
    return facts_of(case.current_labels, case.channel, case.in_warranty)


def facts_of(labels: dict[str, Any], channel: str, in_warranty: bool | None) -> dict[str, Any]:
    return {**labels, "channel": channel, "in_warranty": in_warranty}


Change = tuple[str, datetime]
"""The latest change of labels that touched a clock: ("stopped" or "added", when)."""


def label_changes(events: Sequence[LogEntry]) -> dict[str, Change]:
    """Per clock, the latest change of labels that stopped or added it (CLOCKS_CHANGED)."""
    out: dict[str, Change] = {}
    for e in events:
        if e.kind == CLOCKS_CHANGED:
            for kind in ("stopped", "added"):
                for clock_id in e.data.get(kind, ()):
                    out[clock_id] = (kind, e.at)
    return out


def case_clocks(policy: Policy, case_facts: dict[str, Any], events: Sequence[LogEntry]
                ) -> list[tuple[Clock, list[ClockEvent]]]:
    """The case's clocks with their clock events: those its labels call for, and those a change
    of its labels stopped (shown stopped, what they counted kept; a breach they had before
    stays a breach). The one place that says which clocks a case has."""
    changes = label_changes(events) if any(e.kind == CLOCKS_CHANGED for e in events) else {}
    out = []
    for clock in policy.clocks:
        change = changes.get(clock.id)
        if clock.when.matches(case_facts) or (change and change[0] == "stopped"):
            out.append((clock, clock_events(clock, events, change)))
    return out


def clock_events(clock: Clock, events: Sequence[LogEntry], change: Change | None = None) -> list[ClockEvent]:
    """The clock's start, pauses and stop, from the case log. A clock that starts on an
    event which happens again (resolved after a reopen) runs from its latest start. `change`:
    the latest change of labels that stopped the clock (it stops then) or added it (it counts
    from then on)."""
    found = _own_clock_events(clock, events)
    if change is None or not found:
        return found
    kind, at = change
    if kind == "stopped":
        kept = [e for e in found if e.at <= at]
        if kept and kept[-1].kind != "stop":
            kept.append(ClockEvent("stop", at, "labels_changed"))
        return kept
    if found[0].at >= at:  # it starts on its own event, after the change
        return found
    # Its state at the change carries over: a pause in force goes on; a clock already stopped
    # by its own event stays stopped, having counted nothing.
    status, reason = "running", ""
    for e in found:
        if e.at > at:
            break
        if e.kind in ("pause", "stop"):
            status, reason = e.kind, e.reason
        elif e.kind == "resume":
            status = "running"
    out = [ClockEvent("start", at)]
    if status != "running":
        out.append(ClockEvent(status, at, reason))
    return out if status == "stop" else out + [e for e in found if e.at > at]


def _own_clock_events(clock: Clock, events: Sequence[LogEntry]) -> list[ClockEvent]:
    """The clock's events by its own start, pause and stop events alone."""
    # Events are in log order (the relationship orders by id; one not yet written comes last).
    starts = [i for i, e in enumerate(events) if e.kind in EVENT_KINDS[clock.starts_on]]
    if not starts:
        return []
    start = events[starts[-1]]
    out = [ClockEvent("start", start.at)]
    stop_kinds = {k for ev in clock.stops_on for k in EVENT_KINDS[ev]}
    for e in events[starts[-1] + 1:]:
        if e.at < start.at:
            continue
        if e.kind in stop_kinds:
            out.append(ClockEvent("stop", e.at))
            break
        if e.kind in ("paused", "resumed") and e.data.get("clock") in (None, clock.id):
            out.append(ClockEvent("pause" if e.kind == "paused" else "resume", e.at, str(e.data.get("reason", ""))))
    return out


def clock_states(case: Case, policy: Policy, now: datetime, cal: WorkCalendar | None = None,
                 running_only: bool = False, labels: dict[str, Any] | None = None,
                 log: Sequence[LogEntry] | None = None) -> list[dict[str, Any]]:
    """Every clock of the policy that applies to the case, as it stands at `now`: for live
    countdowns and for sorting a handler's cases (breached first, then the nearest deadline).
    With `running_only`, the clocks not started or already stopped are left out unevaluated;
    `labels` and `log`, when given, are the case's current labels (from its list columns) and
    its clocks' log (read_clock_logs), read for many cases at once."""
    cal = cal or work_calendar(policy)
    events = list(log) if log is not None else clock_log(case.events)
    case_facts = facts(case) if labels is None else facts_of(labels, case.channel, case.in_warranty)
    out = []
    for clock, found in case_clocks(policy, case_facts, events):
        if running_only and (not found or found[-1].kind == "stop"):
            continue
        state = evaluate(clock, found, now, cal) if found else None
        out.append({"id": clock.id, "name": clock.name, "limit": str(clock.limit), "source": clock.source,
                    "starts_on": clock.starts_on,
                    "status": state.status if state else "not_started",
                    "deadline": iso(state.deadline) if state else None,
                    "warning_at": iso(state.warning_at) if state else None,
                    "warned": bool(state and state.warned), "breached": bool(state and state.breached),
                    "breached_at": iso(state.breached_at) if state else None,
                    "calendar_provisional": bool(state and state.calendar_provisional),
                    "labels_changed": bool(found) and found[-1].reason == "labels_changed"})
    return out


class Marks:
    """The warnings and breaches already recorded on a case: each breach once per clock, each
    warning once per clock and share. A warning recorded before clocks had several shares
    (no `share` in its data) stands for all of its clock's."""

    def __init__(self, events: Sequence[LogEntry]) -> None:
        self.breaches: set[str | None] = set()
        self.warnings: set[tuple[str | None, float | None]] = set()
        for e in events:
            if e.kind == "sla_breach":
                self.breaches.add(e.data.get("clock"))
            elif e.kind == "sla_warning":
                self.warnings.add((e.data.get("clock"), e.data.get("share")))

    def breached(self, clock: str) -> bool:
        return clock in self.breaches

    def warned(self, clock: str, share: float) -> bool:
        return (clock, share) in self.warnings or (clock, None) in self.warnings


def recorded_marks(events: Sequence[LogEntry]) -> Marks:
    """The warnings and breaches already recorded: each is recorded once."""
    return Marks(events)


def escalation_chain(events: Sequence[LogEntry]) -> list[str]:
    """The whole chain from the role a case was last dispatched to: escalation moves one step
    up it at a time."""
    dispatched = [e for e in events if e.kind == "dispatched"]
    if not dispatched:
        return []
    return [dispatched[-1].data.get("to"), *dispatched[-1].data.get("routing", {}).get("escalation", [])]


def next_due(case: Case, policy: Policy, now: datetime, cal: WorkCalendar | None = None) -> datetime | None:
    """The next instant the SLA worker has something to do on the case: the earliest warning
    or breach (and so a breach's escalation, notification or automatic close) of its clocks
    that is not recorded yet. One already passed comes back as it is, so that a case with
    something overdue (a backlog imported late, a worker that was down) is due at once.

    None when nothing can come due without a new event: a closed case, or one whose clocks
    are stopped, paused (a paused clock has no deadline until it resumes) or done."""
    return next_due_of(facts(case), case.state, list(case.events), policy, now, cal)


def next_due_of(case_facts: dict[str, Any], state: str, events: Sequence[LogEntry], policy: Policy, now: datetime,
                cal: WorkCalendar | None = None,
                known: dict[str, tuple[list[ClockEvent], ClockState]] | None = None) -> datetime | None:
    """next_due, from a case's facts, state and log (the worker asks it of the log it is
    about to write). `known`: clock states already evaluated at `now`, by clock, with the
    clock events they were evaluated on; one whose clock events are still the same is not
    evaluated again."""
    return due_and_deadline(case_facts, state, events, policy, now, cal, known)[0]


def nearest_deadline(case_facts: dict[str, Any], events: Sequence[LogEntry], policy: Policy, now: datetime,
                     cal: WorkCalendar | None = None) -> datetime | None:
    """The nearest deadline of the case's running clocks not breached: what a message about
    the case names as its deadline."""
    return due_and_deadline(case_facts, "open", events, policy, now, cal)[1]


def due_and_deadline(case_facts: dict[str, Any], state: str, events: Sequence[LogEntry], policy: Policy,
                     now: datetime, cal: WorkCalendar | None = None,
                     known: dict[str, tuple[list[ClockEvent], ClockState]] | None = None
                     ) -> tuple[datetime | None, datetime | None]:
    """next_due_of and nearest_deadline in one look at the clocks (the worker needs both of a
    case it escalates)."""
    if state == "closed":
        return None, None
    cal = cal or work_calendar(policy)
    marks = recorded_marks(events)
    instants: list[datetime] = []
    deadlines: list[datetime] = []
    for clock, found in case_clocks(policy, case_facts, events):
        if marks.breached(clock.id):
            continue  # a clock's breach is recorded once: nothing more is due on it
        if not found:
            continue
        seen_before = (known or {}).get(clock.id)
        clock_state = seen_before[1] if seen_before and seen_before[0] == found else evaluate(clock, found, now, cal)
        if clock_state.breached:
            instants.append(clock_state.breached_at or now)
            continue
        for warning in clock_state.warnings:
            if marks.warned(clock.id, warning.share):
                continue
            if warning.reached:
                instants.append(warning.at or now)
            elif clock_state.status == "running" and warning.at:
                instants.append(warning.at)
        if clock_state.status == "running" and clock_state.deadline:
            instants.append(clock_state.deadline)
            deadlines.append(clock_state.deadline)
    return min(instants, default=None), min(deadlines, default=None)


def urgency_key(clocks: list[dict[str, Any]]) -> tuple[int, float]:
    """Breached (and still running) first, then the nearest running deadline."""
    running = [c for c in clocks if c["status"] == "running"]
    breached = any(c["breached"] for c in running)
    deadlines = [datetime.fromisoformat(c["deadline"]).timestamp() for c in running if c["deadline"]]
    return (0 if breached else 1, min(deadlines) if deadlines else float("inf"))


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def clock_change(policy: Policy, before: dict[str, Any], after: dict[str, Any], events: Sequence[LogEntry],
                 now: datetime) -> dict[str, list[str]] | None:
    """What a change of the case's facts from `before` to `after` (labels a person corrected)
    at `now` does to its clocks, as the data of a CLOCKS_CHANGED event; None when its clock set
    stays the same. A clock that no longer applies is listed as stopped only if it was running
    or paused (one that never started has nothing to stop)."""
    had = {c.id for c in policy.clocks if c.when.matches(before)}
    has = {c.id for c in policy.clocks if c.when.matches(after)}
    if had == has:
        return None
    changes = label_changes(events)
    stopped, added, started = [], [], []
    for clock in policy.clocks:
        if clock.id in had - has:
            found = clock_events(clock, events, changes.get(clock.id))
            if found and found[-1].kind != "stop":
                stopped.append(clock.id)
        elif clock.id in has - had:
            added.append(clock.id)
            found = clock_events(clock, events, ("added", now))
            if found and found[-1].kind != "stop":
                started.append(clock.id)
    return {"stopped": stopped, "added": added, "started": started}
