"""Case operations: plain functions taking a database session, keyword-only, that the API,
the console, the command line and the SLA worker all call; no domain logic lives in routes.
Each function either completes its change or raises before anything is written; the
caller commits.

The lifecycle (rules.md §3-§4; 002-A §7, §8-2, §10) is one state machine, `move`: a user's
action (`act`) and the worker's automatic close both go through it.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, object_session, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from triage.auth.models import Account, ApiToken
from triage.auth.permissions import HANDLER, User, may_see
from triage.case import queries
from triage.case import record as records
from triage.case.clocks import (
    CLOCKS_CHANGED,
    clock_change,
    clock_log,
    clock_states,
    facts,
    facts_of,
    nearest_deadline,
    next_due,
    read_clock_logs,
    urgency_key,
)
from triage.case.models import (
    TRANSITIONS,
    Case,
    CaseClock,
    CaseEvent,
    CaseFlag,
    CaseRecord,
    CaseReview,
    CaseSerial,
    clock_list,
    label_columns,
)
from triage.case.queries import CaseFilters, Page
from triage.classify.labels import FLAGS, HEADS, LabelError, parse_label, severity_given_flags
from triage.notify import service as notify
from triage.notify.messages import CaseFacts
from triage.policy.calendar import TZ, WorkCalendar, work_calendar
from triage.policy.model import Policy
from triage.policy.routing import Context, route
from triage.suggestion import classification_of, classify_and_route, display_of, labels_of
from triage.text.normalize import TextError, check_text

log = logging.getLogger("triage.case")


class CaseError(Exception):
    status = 400


class NotFound(CaseError):
    status = 404


class InvalidTransition(CaseError):
    status = 409


class Conflict(CaseError):
    """Someone else changed the case first (optimistic locking)."""

    status = 409


class NotAHandler(CaseError):
    """A case can be assigned only to a handler the service knows."""


class RecordError(CaseError):
    """A step of the handling record with a value it may not take, or without a field the policy
    requires of the case at that step (`missing`: those fields, each named)."""

    status = 422

    def __init__(self, message: str, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing = missing or []


@dataclass(frozen=True)
class IntakeRequest:
    channel: str
    text: str
    received_at: datetime
    external_id: str | None = None
    customer_name: str | None = None
    customer_phone: str | None = None
    plate: str | None = None
    vin: str | None = None
    in_warranty: bool | None = None


# ---- the event log -------------------------------------------------------------------------------
def record_event(case: Case, kind: str, actor: str, at: datetime, **data: Any) -> None:
    """Append an event to the case's log. Events are only ever inserted, never updated: here,
    and in bulk by the SLA worker.

    Loading the log must not flush the case's pending change early: a concurrent edit has to
    surface in the service's own flush, where it becomes a Conflict."""
    with _no_autoflush(case):
        case.events.append(CaseEvent(kind=kind, actor=actor, at=at, data=data))


def _flush(db_session: Session) -> None:
    try:
        db_session.flush()
    except StaleDataError:
        raise Conflict("the case was changed by someone else; reload it and try again") from None


def _saved(db_session: Session, case: Case, policy: Policy, now: datetime) -> None:
    """Write the change, and keep the case's next due instant current (the one hook after
    a case's events changed in a way that can move its clocks)."""
    _flush(db_session)
    refresh_due(db_session=db_session, case=case, policy=policy, now=now)


def refresh_due(*, db_session: Session, case: Case, policy: Policy, now: datetime,
                cal: WorkCalendar | None = None) -> None:
    """Store the case's next due instant (case.clocks.next_due), which the SLA worker selects
    cases by. A clock that cannot be evaluated (a date the calendar cannot place) must not
    refuse the person's action: the case is made due now, and the worker, evaluating it,
    records the failure on the case."""
    try:
        due = next_due(case, policy, now, cal or work_calendar(policy))
    except ValueError:  # CalendarError, ClockError
        due = now
    store_due(db_session=db_session, dues=[(case, due)])


def store_due(*, db_session: Session, dues: list[tuple[Case, datetime | None]]) -> None:
    """Write next_due_at of (flushed) cases, in one statement, without bumping their version:
    it is the clocks' bookkeeping, not a change anyone made, and must not turn a reviewer's
    open page into a conflict."""
    changed = [(case, due) for case, due in dues if due != case.next_due_at]
    if not changed:
        return
    table = Case.__table__
    db_session.execute(update(table).where(table.c.id == bindparam("case_id")).values(next_due_at=bindparam("due")),
                       [{"case_id": case.id, "due": due} for case, due in changed])
    for case, due in changed:
        set_committed_value(case, "next_due_at", due)


def _check_version(case: Case, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != case.version:
        raise Conflict(f"case {case.number} is at version {case.version}, not {expected_version}: "
                       "someone else changed it; reload it and try again")


# ---- telling people -------------------------------------------------------------------------------
def _notify(db_session: Session, case: Case, policy: Policy, event: str, data: dict[str, Any],
            deadline: datetime | None, now: datetime) -> None:
    """Put the messages `event` calls for in the outbox, keyed by the case's latest (flushed)
    event, in the transaction of the change. Writing a message must never refuse the change
    itself: a failure to write it is logged and kept on the case's log instead."""
    try:
        routing = (case.suggestion or {}).get("routing") or {}
        facts_ = CaseFacts(case.id, case.number, case.current_labels,
                           case.responsible_role or routing.get("responsible"), case.text)
        with db_session.begin_nested():
            notify.notify_case_event(db_session=db_session, policy=policy, event=event, case=facts_,
                                     case_event_id=case.events[-1].id, data=data, deadline=deadline, now=now)
    except Exception as exc:
        log.exception("case %s: the %s notification could not be written", case.number, event)
        record_event(case, "notification_error", "system", now, event=event, message=f"{type(exc).__name__}: {exc}")
        _flush(db_session)


# ---- reading -------------------------------------------------------------------------------------
def get(*, db_session: Session, case_id: int) -> Case:
    case = db_session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def get_visible(*, db_session: Session, case_id: int, user: User) -> Case:
    """The case, if `user` may see it; otherwise NotFound, so as not to confirm it exists."""
    case = db_session.get(Case, case_id)
    if case is None or not may_see(user, case):
        raise NotFound(f"no case {case_id}")
    return case


def list_cases(*, db_session: Session, filters: CaseFilters, user: User, cursor: str | None = None) -> Page:
    """A page of cases newest first (received_at, then id, descending), narrowed by
    `filters`, after the cursor's case; a handler sees only their own."""
    size = queries.page_size(filters.limit)
    try:
        query = queries.list_query(filters, cursor=cursor, only_assignee=user.name if user.role == HANDLER else None)
    except queries.BadCursor as exc:
        raise CaseError(str(exc)) from None
    cases = list(db_session.scalars(query.limit(size + 1)))
    return Page(cases[:size], queries.list_cursor(cases[size - 1]) if len(cases) > size else None)


def review_queue(*, db_session: Session, limit: int = 100, cursor: str | None = None) -> Page:
    """A page of the suggested cases: urgent first (major, safety, media:
    classify.labels.is_urgent), then the nearest deadline of the suggestion's routing, then
    the id; after the cursor's case."""
    size = queries.page_size(limit)
    try:
        segments = queries.queue_segments(cursor)
    except queries.BadCursor as exc:
        raise CaseError(str(exc)) from None
    cases: list[Case] = []
    for query in segments:
        cases += db_session.scalars(query.limit(size + 1 - len(cases)))
        if len(cases) > size:
            break
    return Page(cases[:size], queries.queue_cursor(cases[size - 1]) if len(cases) > size else None)


def worklist(*, db_session: Session, user: User, policy: Policy, now: datetime) -> list[dict[str, Any]]:
    """A handler's open cases with their clocks at `now`: breached first, then the nearest
    deadline. Each row: case, its running clocks, breached, urgent."""
    # The clocks read their part of the logs and the labels from the list columns: the JSON
    # (whole suggestions, event payloads) and the text stay unread.
    mine = list(db_session.scalars(select(Case).where(Case.assignee == user.name, queries.NOT_CLOSED).options(
        selectinload(Case.flag_rows), defer(Case.suggestion), defer(Case.labels), defer(Case.text))))
    logs = read_clock_logs(db_session, [c.id for c in mine], dispatches=False)
    cal = work_calendar(policy)
    rows = []
    for case in mine:
        labels = case.column_labels
        running = clock_states(case, policy, now, cal, running_only=True, labels=labels, log=logs[case.id])
        key = urgency_key(running)
        rows.append({"case": case, "labels": labels, "clocks": [c for c in running if c["status"] == "running"],
                     "breached": key[0] == 0, "key": key, "urgent": case.urgent})
    rows.sort(key=lambda r: r["key"])
    return rows


def handlers(*, db_session: Session) -> set[str]:
    """The names a case can be assigned to: active handler accounts of the console and the
    names of handler API tokens."""
    accounts = db_session.scalars(select(Account.username).where(Account.role == HANDLER, Account.active))
    tokens = db_session.scalars(select(ApiToken.name).where(ApiToken.role == HANDLER))
    return set(accounts) | set(tokens)


def feedback_rows(*, db_session: Session) -> list[dict[str, str]]:
    """Reviewed cases whose labels a person corrected (at review or later), in the labelled-data
    format."""
    rows = []
    kinds = ("reviewed", "relabeled")
    corrected = select(CaseEvent.case_id).where(CaseEvent.kind.in_(kinds))
    for case in db_session.scalars(select(Case).where(Case.id.in_(corrected), Case.labels.is_not(None))):
        review_events = [e for e in case.events if e.kind in kinds]
        if not any(e.data.get("corrections") for e in review_events):
            continue
        labels = case.labels or {}
        rows.append({"id": case.number, "text": case.text, "channel": case.channel,
                     **{h: labels.get(h, "") for h in HEADS},
                     "flags": "|".join(f for f in FLAGS if f in labels.get("flags", [])) or "none"})
    return rows


# ---- the columns lists and reports read -----------------------------------------------------------
def _sync_labels(case: Case) -> None:
    """Copy what lists, the queue and reports filter and group by out of the case's labels and
    suggestion into its columns (Case.business_line ... planned_clocks, case_flags, case_clocks): called
    wherever those change."""
    values = label_columns(case.labels, case.suggestion)
    for key in ("business_line", "category", "severity", "urgent", "queue_deadline", "focus_owner"):
        setattr(case, key, values[key])
    case.planned_clocks = clock_list(values["clocks"])
    with _no_autoflush(case):
        case.flag_rows = [row for row in case.flag_rows if row.flag in values["flags"]] + [
            CaseFlag(flag=f, received_at=case.received_at) for f in values["flags"]
            if f not in {row.flag for row in case.flag_rows}]
        # A clock that breached stays counted, planned or not.
        case.clock_rows = [row for row in case.clock_rows if row.breached or row.clock in values["clocks"]] + [
            CaseClock(clock=c, received_at=case.received_at) for c in values["clocks"]
            if c not in {row.clock for row in case.clock_rows}]


def _no_autoflush(case: Case) -> Any:
    """Loading a collection of the case must not flush its pending change early: a concurrent
    edit has to surface in the service's own flush, where it becomes a Conflict."""
    session = object_session(case)
    return session.no_autoflush if session is not None else nullcontext()


# ---- intake and suggestion ---------------------------------------------------------------------
def _next_number(db_session: Session, when: datetime) -> str:
    """年度-月份-流水号 (002-G 八): the serial restarts every month.

    Concurrent first intakes of a month would both insert the month's row (one of them a
    unique violation); instead the row is created if missing, letting a concurrent creation
    win, then incremented in one statement, which locks it until the intake commits: two
    intakes never get the same number. A rolled-back intake takes its increment back."""
    month = when.astimezone(TZ).strftime("%Y-%m")
    dialect = postgresql if db_session.get_bind().dialect.name == "postgresql" else sqlite
    db_session.execute(dialect.insert(CaseSerial).values(month=month, last=0).on_conflict_do_nothing())
    last = db_session.execute(update(CaseSerial).where(CaseSerial.month == month)
                              .values(last=CaseSerial.last + 1).returning(CaseSerial.last)).scalar_one()
    return f"{month}-{last:06d}"


def _by_ticket(db_session: Session, channel: str, external_id: str | None) -> Case | None:
    return db_session.scalar(select(Case).where(Case.channel == channel, Case.external_id == external_id))


def intake(*, db_session: Session, request: IntakeRequest, policy: Policy, actor: str) -> tuple[Case, bool]:
    """Record a complaint; (case, created). Re-sending the same external ticket of a channel
    returns the case it created the first time."""
    if request.channel not in policy.channels:
        raise CaseError(f"unknown channel {request.channel!r} (known: {', '.join(policy.channels)})")
    if request.received_at.tzinfo is None:
        raise CaseError("received_at must carry a timezone")
    try:
        check_text(request.text)
    except TextError as exc:
        raise CaseError(str(exc)) from None
    if request.external_id:
        existing = _by_ticket(db_session, request.channel, request.external_id)
        if existing is not None:
            return existing, False
    savepoint = db_session.begin_nested()
    try:
        case = Case(number=_next_number(db_session, request.received_at), channel=request.channel,
                    external_id=request.external_id, received_at=request.received_at, text=request.text,
                    customer_name=request.customer_name, customer_phone=request.customer_phone,
                    plate=request.plate, vin=request.vin, in_warranty=request.in_warranty, state="received")
        db_session.add(case)
        db_session.flush()
        record_event(case, "received", actor, request.received_at, channel=request.channel,
                     external_id=request.external_id)
        _saved(db_session, case, policy, request.received_at)
        savepoint.commit()
    except IntegrityError:
        # Another intake of the same ticket won the race: return its case.
        savepoint.rollback()
        existing = _by_ticket(db_session, request.channel, request.external_id)
        if existing is None:
            raise
        return existing, False
    return case, True


def _context(db_session: Session, case: Case) -> Context:
    """What routing knows of a case besides its labels."""
    keys = [c == v for c, v in ((Case.vin, case.vin), (Case.plate, case.plate)) if v]
    earlier = 0
    if keys:
        earlier = db_session.scalar(select(func.count()).select_from(Case).where(
            Case.id != case.id, Case.received_at < case.received_at, or_(*keys))) or 0
    return Context(case.channel, case.received_at, in_warranty=case.in_warranty, earlier_complaints=earlier)


def suggest(*, db_session: Session, case: Case, model: Any, policy: Policy, now: datetime) -> dict[str, Any]:
    """The model's labels and the policy's routing for a received case."""
    found = classify_and_route(model, policy, case.text, _context(db_session, case))
    pred = found.prediction
    labels = labels_of(pred)
    as_dict = pred.to_dict()
    suggestion = {"model": pred.model, "labels": labels, "confidence": pred.confidence,
                  "alternatives": as_dict["alternatives"],
                  "display": display_of(policy.suggestions, labels, pred.confidence),
                  "low_confidence": pred.low_confidence, "evidence": as_dict["evidence"],
                  "rules": pred.rules, "routing": found.decision.to_dict()}
    move(case, "suggest", "system", now, suggestion)
    case.suggestion = suggestion
    _sync_labels(case)
    _saved(db_session, case, policy, now)
    if notify.major_at_intake(policy, suggestion["labels"]):  # told before anyone reviews it (rules.md §2, §3)
        _notify(db_session, case, policy, "major_intake", {}, case.queue_deadline, now)
    return suggestion


def intake_and_suggest(*, db_session: Session, request: IntakeRequest, model: Any, policy: Policy, actor: str,
                       now: datetime) -> tuple[Case, bool]:
    """Intake, and the suggestion for a case that is new: one unit, undone together if either
    fails, so that a failure in one item of a batch leaves the others."""
    savepoint = db_session.begin_nested()
    try:
        case, created = intake(db_session=db_session, request=request, policy=policy, actor=actor)
        if created:
            suggest(db_session=db_session, case=case, model=model, policy=policy, now=now)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return case, created


# ---- confirmation, relabelling, assignment, lifecycle ---------------------------------------------
_CORRECTABLE = (*HEADS, "flags", "responsible_role")


class ChoiceRequired(CaseError):
    """A head the reviewer was offered as choices (nothing pre-selected) was accepted without
    a choice: someone must pick its label."""

    status = 422


def review(*, db_session: Session, case_id: int, reviewer: str, policy: Policy, now: datetime,
           expected_version: int | None = None, corrections: dict[str, Any] | None = None) -> Case:
    """A person accepts the suggestion, or corrects labels or the responsible role, and the
    case is dispatched. Every correction is kept (from -> to) for the next training run, and
    which heads of the suggestion were kept, for its online accuracy. A head the reviewer was
    offered as choices (suggestion["display"]) must be given a label: accepting it as
    suggested is refused (ChoiceRequired). The clocks follow the confirmed labels
    (`_relabel`)."""
    case = get(db_session=db_session, case_id=case_id)
    _check_version(case, expected_version)
    if case.state != "suggested" or not case.suggestion:
        raise InvalidTransition(f"case {case.number} is {case.state}; only a suggested case can be reviewed")
    display = case.suggestion.get("display") or {}
    unchosen = [h for h in HEADS if display.get(h) == "choices" and not (corrections or {}).get(h)]
    if unchosen:
        raise ChoiceRequired(f"case {case.number}: {', '.join(unchosen)} {'was' if len(unchosen) == 1 else 'were'} "
                             "offered as choices, with none chosen: "
                             f"give {' and '.join(f'corrections.{h}' for h in unchosen)}")
    suggested = case.suggestion["labels"]
    labels, changed = _corrected(dict(suggested), corrections, policy, case.suggestion["routing"]["responsible"])
    decision = route(policy, classification_of(labels), _context(db_session, case))
    responsible = changed.get("responsible_role", {}).get("to", decision.responsible)
    kept = {h: labels[h] == suggested[h] for h in HEADS}
    move(case, "review", reviewer, now, {"accepted": not changed, "corrections": changed,
                                         "model": case.suggestion.get("model"),
                                         "suggested": {h: suggested[h] for h in HEADS}, "kept": kept})
    db_session.add(CaseReview(case_id=case.id, at=now, model=case.suggestion.get("model") or "",
                              **{f"suggested_{h}": suggested[h] for h in HEADS},
                              **{f"kept_{h}": kept[h] for h in HEADS}))
    _relabel(case, labels, reviewer, now, policy)
    case.responsible_role = responsible
    record_event(case, "dispatched", reviewer, now, to=responsible, routing=decision.to_dict())
    _saved(db_session, case, policy, now)
    return case


RELABEL_STATES = ("confirmed", "in_progress", "resolved", "reopened", "verified")


def relabel(*, db_session: Session, case_id: int, actor: str, policy: Policy, now: datetime,
            corrections: dict[str, Any], expected_version: int | None = None) -> Case:
    """A person corrects the labels of a case already dispatched (the handler found it is a
    major complaint after all). The corrections are kept from -> to; the clocks follow the new
    labels (`_relabel`); the responsible role stays, the escalation chain and the SLA worker
    moving it as before."""
    case = get(db_session=db_session, case_id=case_id)
    _check_version(case, expected_version)
    if case.state not in RELABEL_STATES:
        raise InvalidTransition(f"case {case.number} is {case.state}; only a dispatched, open case can be relabelled")
    if "responsible_role" in corrections:
        raise CaseError("the responsible role of a dispatched case changes by escalation, not by relabelling")
    labels, changed = _corrected(dict(case.current_labels), corrections, policy, None)
    if changed:
        record_event(case, "relabeled", actor, now, corrections=changed)
        _relabel(case, labels, actor, now, policy)
        _saved(db_session, case, policy, now)
    return case


def _corrected(labels: dict[str, Any], corrections: dict[str, Any] | None, policy: Policy,
               responsible: str | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The labels after `corrections`, and each correction that changed something, from -> to.
    The major rule applies to corrected labels too."""
    changed: dict[str, dict[str, Any]] = {}
    for key, value in (corrections or {}).items():
        try:
            if key in HEADS:
                new: Any = parse_label(key, str(value))
            elif key == "flags":
                new = sorted({parse_label("flags", str(v)) for v in value})
            elif key == "responsible_role":
                if value not in policy.roles:
                    raise CaseError(f"unknown role {value!r}")
                new = value
            else:
                raise CaseError(f"cannot correct {key!r} (correctable: {', '.join(_CORRECTABLE)})")
        except LabelError as exc:
            raise CaseError(str(exc)) from None
        old = labels.get(key) if key != "responsible_role" else responsible
        if key == "flags":
            old = sorted(old or [])
        if new != old:
            changed[key] = {"from": old, "to": new}
            if key != "responsible_role":
                labels[key] = new
    labels["severity"] = severity_given_flags(labels["severity"], labels["flags"])  # for corrected labels too
    return labels, changed


def _relabel(case: Case, labels: dict[str, Any], actor: str, now: datetime, policy: Policy) -> None:
    """Give the case these labels; when the clocks the policy calls for change with them, log
    which stop and which start (case.clocks.clock_change): the clocks that go on keep their
    counted and paused time."""
    change = clock_change(policy, facts(case), facts_of(labels, case.channel, case.in_warranty),
                          clock_log(case.events), now)
    if change is not None:
        record_event(case, CLOCKS_CHANGED, actor, now, **change)
    case.labels = labels
    _sync_labels(case)


def assign(*, db_session: Session, case_id: int, assignee: str, actor: str, now: datetime,
           expected_version: int | None = None) -> Case:
    """Give a dispatched case to a handler (handlers see only their own cases)."""
    case = get(db_session=db_session, case_id=case_id)
    _check_version(case, expected_version)
    if case.state in ("received", "suggested", "closed"):
        raise InvalidTransition(f"case {case.number} is {case.state}; only a dispatched, open case can be assigned")
    if not assignee.strip():
        raise NotAHandler("the assignee is empty")
    if assignee not in handlers(db_session=db_session):
        raise NotAHandler(f"{assignee!r} is not a handler (a handler account or a handler's API token)")
    record_event(case, "assigned", actor, now, frm=case.assignee, to=assignee)
    case.assignee = assignee
    _flush(db_session)
    return case


# action -> (the state it leads to, the event it records); "contact" and "callback" decide
# their state in `move`.
_MOVES: dict[str, tuple[str, str]] = {
    "suggest": ("suggested", "suggested"), "review": ("confirmed", "reviewed"),
    "start": ("in_progress", "started"), "resolve": ("resolved", "resolved"), "verify": ("verified", "verified"),
    "reopen": ("reopened", "reopened"), "close": ("closed", "closed"), "auto_close": ("closed", "auto_closed"),
    # The manager sends the handling opinion back (002-B 五 4): open again for the handler, whose corrected
    # form is due within 24 hours (clock form_corrections, on form_rejected; not the callback's reopen_return).
    "reject": ("reopened", "form_rejected"),
}
USER_ACTIONS = ("contact", "start", "resolve", "callback", "verify", "reopen", "close")


def _check_transition(state: str, to: str, number: str) -> None:
    if to not in TRANSITIONS[state]:
        raise InvalidTransition(f"case {number} is {state}; it cannot become {to}")


def _transition(case: Case, to: str) -> None:
    _check_transition(case.state, to, case.number)
    case.state = to


def move(case: Case, action: str, actor: str, now: datetime, data: dict[str, Any]) -> None:
    """The state machine: apply `action` to the case if its state allows it, and log it."""
    if action == "contact":
        if case.state not in ("confirmed", "in_progress", "reopened"):
            raise InvalidTransition(f"case {case.number} is {case.state}; no contact is expected")
        record_event(case, "first_contact", actor, now, **data)
        if case.state in ("confirmed", "reopened"):
            _transition(case, "in_progress")
        return
    if action == "approve":  # the manager's review of the handling opinion: the case stays resolved
        if case.state != "resolved":
            raise InvalidTransition(f"case {case.number} is {case.state}; only a resolved case's opinion is reviewed")
        record_event(case, "opinion_approved", actor, now, **data)
        return
    if action == "callback":
        satisfied = bool(data.get("satisfied"))
        _transition(case, "verified" if satisfied else "reopened")
        record_event(case, "verified" if satisfied else "reopened", actor, now, **data)
        return
    state, event = transition(case.state, action, case.number)
    _transition(case, state)
    record_event(case, event, actor, now, **data)


def transition(state: str, action: str, number: str = "") -> tuple[str, str]:
    """What `action` does to a case in `state` (actions with one outcome): the state it leads
    to and the event it logs; refused if the state does not allow it."""
    if action not in _MOVES:
        raise CaseError(f"unknown action {action!r}")
    to, event = _MOVES[action]
    _check_transition(state, to, number)
    return to, event


def act(*, db_session: Session, case_id: int, action: str, actor: str, policy: Policy, now: datetime,
        expected_version: int | None = None, data: dict[str, Any] | None = None) -> Case:
    """A person moves a case along its lifecycle; an action that does not fit its state is
    refused. The policy's clocks say when the case is next due."""
    if action not in USER_ACTIONS:
        raise CaseError(f"unknown action {action!r}")
    if action in ("resolve", "callback"):  # the steps that write the handling record
        step = resolve if action == "resolve" else callback
        return step(db_session=db_session, case_id=case_id, actor=actor, policy=policy, now=now,
                    expected_version=expected_version, data=data or {})
    case = get(db_session=db_session, case_id=case_id)
    _check_version(case, expected_version)
    move(case, action, actor, now, data or {})
    _saved(db_session, case, policy, now)
    _tell_if_reopened(db_session, case, policy, now)
    return case


def _tell_if_reopened(db_session: Session, case: Case, policy: Policy, now: datetime) -> None:
    """A case just reopened (by hand, or by a callback that found the customer not satisfied):
    the responsible role is told, with the deadline it now has."""
    if case.events[-1].kind != "reopened":
        return
    try:
        deadline = nearest_deadline(facts(case), clock_log(case.events), policy, now)
    except ValueError:  # CalendarError, ClockError: the message goes without a deadline
        deadline = None
    _notify(db_session, case, policy, "reopened", {}, deadline, now)


# ---- the handling record (issue 14) ----------------------------------------------------------------
def _record_step(case: Case, step: str, data: dict[str, Any], policy: Policy) -> tuple[dict[str, Any],
                                                                                      dict[str, Any]]:
    """The record fields `step` writes from `data` and the record as it would then stand; refused
    (RecordError, 422) for a bad value or a field the policy requires of the case at that step."""
    given, problems = records.parse(step, data, policy)
    if problems:
        raise RecordError("; ".join(problems))
    values = {**records.values_of(case.record), **given}
    missing = records.missing(step, policy, case, values)
    if missing:
        raise RecordError(f"case {case.number} cannot be {_DONE[step]} without: "
                          + ", ".join(f"{name} ({policy.record.label(name)})" for name in missing), missing)
    return given, values


_DONE = {"resolve": "resolved", "review": "reviewed", "callback": "called back"}


def _write_record(case: Case, given: dict[str, Any]) -> CaseRecord:
    if case.record is None:
        with _no_autoflush(case):
            case.record = CaseRecord(received_at=case.received_at)
    for name, value in given.items():
        setattr(case.record, name, value)
    return case.record


def _event_data(data: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """A step's log entry: the record fields it wrote (each field recorded is in the log), and
    whatever else the caller sent with it (a note)."""
    return {**{k: v for k, v in data.items() if k not in given}, "record": given}


def resolve(*, db_session: Session, case_id: int, actor: str, policy: Policy, now: datetime,
            data: dict[str, Any], expected_version: int | None = None) -> Case:
    """The handler returns the form (002-A §8-2): investigation, reply, handling opinion, corrective
    measure, cause, responsibility, validity, as the policy requires of the case. A case resolved
    again (reopened, or its opinion sent back) keeps what was recorded before unless changed, and
    its opinion is reviewed afresh."""
    case = get(db_session=db_session, case_id=case_id)
    _check_version(case, expected_version)
    _check_transition(case.state, "resolved", case.number)
    given, _ = _record_step(case, "resolve", data, policy)
    move(case, "resolve", actor, now, _event_data(data, given))
    _write_record(case, given).approved = None
    _saved(db_session, case, policy, now)
    return case


def review_opinion(*, db_session: Session, case_id: int, reviewer: str, policy: Policy, now: datetime,
                   data: dict[str, Any], expected_version: int | None = None) -> Case:
    """The manager reviews the handling opinion of a resolved case before the callback (002-B 五 4):
    approved, the case awaits its callback; not approved, it goes back to the handler, whose
    corrected form is due within 24 hours (form_rejected; 002-A (second copy) §8-1)."""
    case = get(db_session=db_session, case_id=case_id)
    _check_version(case, expected_version)
    if case.state != "resolved":
        raise InvalidTransition(f"case {case.number} is {case.state}; only a resolved case's opinion is reviewed")
    if case.record is not None and case.record.approved is not None:
        raise InvalidTransition(f"case {case.number}: its handling opinion was reviewed already")
    given, values = _record_step(case, "review", data, policy)
    if values["approved"] is None:  # whatever the policy requires, a review decides
        raise RecordError(f"case {case.number}: approve the handling opinion or send it back (approved)",
                          ["approved"])
    move(case, "approve" if values["approved"] else "reject", reviewer, now, _event_data(data, given))
    _write_record(case, given).reviewed_by = reviewer
    _saved(db_session, case, policy, now)
    return case


def awaiting_review(case: Case, policy: Policy) -> bool:
    """A resolved case whose handling opinion the manager has yet to review."""
    return records.awaiting_review(policy, case.state, records.facts(case, records.values_of(case.record)))


def callback(*, db_session: Session, case_id: int, actor: str, policy: Policy, now: datetime,
             data: dict[str, Any], expected_version: int | None = None) -> Case:
    """Customer care calls the customer back (002-A §7, §8-2): their satisfaction and their words.
    A level that is not satisfied sends the case back to the responsible department (reopened:
    24 hours, clock reopen_return). Not before the manager approved the handling opinion, where
    the policy asks for the review."""
    case = get(db_session=db_session, case_id=case_id)
    _check_version(case, expected_version)
    _check_transition(case.state, "verified", case.number)
    if awaiting_review(case, policy):
        raise InvalidTransition(f"case {case.number}: the manager has not reviewed the handling opinion yet "
                                "(002-B 五 4)")
    given, values = _record_step(case, "callback", data, policy)
    move(case, "callback", actor, now, {**_event_data(data, given),
                                        "satisfied": records.is_satisfied(policy, values["satisfaction"])})
    _write_record(case, given).called_back_at = now
    _saved(db_session, case, policy, now)
    _tell_if_reopened(db_session, case, policy, now)
    return case


def available_actions(case: Case) -> list[str]:
    """The actions the case's state allows now, in the order a case goes through them."""
    out = ["contact"] if case.state in ("confirmed", "in_progress", "reopened") else []
    moves = TRANSITIONS[case.state]
    out += [a for a in ("start", "resolve", "reopen") if _MOVES[a][0] in moves]
    if case.state == "verified":  # a resolved case closes by callback, or by itself (002-A §10)
        out.append("close")
    if case.state == "resolved":
        out.insert(0, "callback")
    return out

