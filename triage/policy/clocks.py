"""SLA clocks at run time: given a clock of the policy, the events that started, paused,
resumed and stopped it, and the current time, where does it stand, and what must happen.

Pure: "now" is an argument (a clock you can set), so the case service and its worker can
evaluate any clock at any instant, and a worker that was down catches up by evaluating
at the present time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from triage.policy.calendar import TZ, WorkCalendar, deadline, provisional
from triage.policy.model import Clock


class ClockError(ValueError):
    """Events that make no sense for the clock: a pause the policy does not allow, a
    resume without a pause, events out of order."""


@dataclass(frozen=True)
class ClockEvent:
    kind: str  # start, pause, resume, stop
    at: datetime
    reason: str = ""


@dataclass(frozen=True)
class BreachAction:
    kind: str  # escalate, notify, auto_close
    to_role: str | None
    message: str


@dataclass(frozen=True)
class ShareWarning:
    """One warning share of a clock: the instant its share of the clock's time is (or, while
    the clock runs, will be) reached; None while paused or stopped before it."""

    share: float
    at: datetime | None
    reached: bool


@dataclass(frozen=True)
class ClockState:
    clock_id: str
    status: str  # not_started, running, paused, stopped
    started_at: datetime | None
    deadline: datetime | None
    """When the clock runs out if it keeps running from now; pauses push it later."""
    warning_at: datetime | None
    counted: timedelta
    """Counted time so far, on the clock's basis."""
    allowed: timedelta | None
    warned: bool
    breached: bool
    breached_at: datetime | None
    action: BreachAction | None
    """What the breach calls for, when breached (and not stopped in time)."""
    calendar_provisional: bool = False
    """The deadline counts days of a year known only from the statutory rules (no notice loaded)."""
    warnings: tuple[ShareWarning, ...] = ()
    """Every warning share of the clock (Clock.shares), ascending; `warned` and `warning_at`
    are the first one's."""


def evaluate(clock: Clock, events: list[ClockEvent], now: datetime, cal: WorkCalendar,
             escalation: list[str] | tuple[str, ...] = (), responsible: str | None = None) -> ClockState:
    if now.tzinfo is None:
        raise ClockError("now must carry a timezone")
    events = sorted(events, key=lambda e: e.at)
    starts = [e for e in events if e.kind == "start"]
    if not starts:
        return ClockState(clock.id, "not_started", None, None, None, timedelta(0), None, False, False, None, None,
                          warnings=tuple(ShareWarning(s, None, False) for s in clock.shares))
    start = starts[0].at.astimezone(TZ)
    planned = deadline(cal, start, clock.limit, clock.basis)
    allowed = cal.elapsed(start, planned, clock.basis)

    # Running segments: from start (or resume) to pause (or stop, or now).
    segments: list[tuple[datetime, datetime]] = []
    running_since: datetime | None = start
    status, stopped_at = "running", None
    for e in events:
        if e.at < start:
            raise ClockError(f"{clock.id}: {e.kind} at {e.at.isoformat()} is before the clock started")
        if e.kind == "start":
            continue
        if status == "stopped":
            raise ClockError(f"{clock.id}: {e.kind} after the clock stopped")
        if e.kind == "pause":
            if e.reason not in clock.pauses_on:
                allowed_reasons = ", ".join(clock.pauses_on) or "none"
                raise ClockError(f"{clock.id}: the policy does not allow a pause for {e.reason!r} "
                                 f"(allowed: {allowed_reasons})")
            if status != "running":
                raise ClockError(f"{clock.id}: pause while {status}")
            segments.append((running_since, e.at))
            running_since, status = None, "paused"
        elif e.kind == "resume":
            if status != "paused":
                raise ClockError(f"{clock.id}: resume while {status}")
            running_since, status = e.at, "running"
        elif e.kind == "stop":
            if running_since is not None:
                segments.append((running_since, e.at))
            running_since, status, stopped_at = None, "stopped", e.at
        else:
            raise ClockError(f"{clock.id}: unknown event kind {e.kind!r}")
    horizon = min(now, stopped_at) if stopped_at else now
    if running_since is not None and horizon > running_since:
        segments.append((running_since, horizon))

    counted = timedelta(0)
    shares = clock.shares
    reached: dict[float, datetime] = {}  # fraction of the clock's time (1.0: the breach) -> when it was reached
    for a, b in segments:
        before = counted
        counted += cal.elapsed(a, b, clock.basis)
        for fraction in (1.0, *shares):
            mark = allowed * fraction
            if fraction not in reached and before < mark <= counted:
                reached[fraction] = _instant(cal, a, mark - before, clock.basis)
    breached_at = reached.get(1.0)
    remaining = allowed - counted
    due = None
    ahead: dict[float, datetime] = {}
    if status == "running":
        base = max(horizon, running_since or horizon)
        due = _instant(cal, base, remaining, clock.basis) if remaining > timedelta(0) else breached_at
        for share in shares:
            to_warn = allowed * share - counted
            if to_warn > timedelta(0):
                ahead[share] = _instant(cal, base, to_warn, clock.basis)
    warnings = tuple(ShareWarning(s, reached.get(s) or ahead.get(s), s in reached) for s in shares)
    breached = breached_at is not None
    action = _action(clock, escalation, responsible) if breached else None
    # The amount allowed (a same-day clock's) and the deadline both rest on the days counted.
    by_rules = provisional(cal, start, max(planned, due or planned), clock.limit, clock.basis)
    first = warnings[0]
    # A paused or stopped clock shows no instant for its first warning, as before several shares.
    warn = first.at if status == "running" else None
    return ClockState(clock.id, status, start, due, warn, counted, allowed, first.reached, breached,
                      breached_at, action, calendar_provisional=by_rules, warnings=warnings)


def _instant(cal: WorkCalendar, start: datetime, span: timedelta, basis: str) -> datetime:
    """The instant at which `span` of counted time has passed after `start`."""
    if span <= timedelta(0):
        return start
    return cal.add(start, span.total_seconds() / 60, "minutes", basis)


def _action(clock: Clock, escalation: list[str] | tuple[str, ...], responsible: str | None) -> BreachAction:
    if clock.on_breach == "auto_close":
        return BreachAction("auto_close", None, f"{clock.name}: closed automatically ({clock.source})")
    if clock.on_breach == "escalate":
        chain = list(escalation)
        above = chain[chain.index(responsible) + 1:] if responsible in chain else chain
        if above:
            return BreachAction("escalate", above[0], f"{clock.name} breached: escalate to {above[0]} ({clock.source})")
    return BreachAction("notify", responsible, f"{clock.name} breached ({clock.source})")
