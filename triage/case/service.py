"""Case operations: plain functions taking a database session (the API and the worker
call these; no domain logic lives in routes). Each function either completes its change
or raises before anything is written; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.exc import StaleDataError

from triage.case.models import TRANSITIONS, Case, CaseEvent, CaseSerial
from triage.labels import FLAGS, HEADS, MAJOR_FLAGS, LabelError, parse_label
from triage.model import TriageModel
from triage.policy.calendar import TZ
from triage.policy.model import Policy
from triage.policy.routing import Classification, Context, route
from triage.text.normalize import TextError, check_text


class CaseError(Exception):
    status = 400


class NotFound(CaseError):
    status = 404


class InvalidTransition(CaseError):
    status = 409


class Conflict(CaseError):
    """Someone else changed the case first (optimistic locking)."""

    status = 409


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


def record_event(case: Case, kind: str, actor: str, at: datetime, **data: Any) -> None:
    """Append an event to the case's log (the only way events are written: never updated).

    Loading the log must not flush the case's pending change early: a concurrent edit has to
    surface in the service's own flush, where it becomes a Conflict."""
    session = object_session(case)
    if session is None:
        case.events.append(CaseEvent(kind=kind, actor=actor, at=at, data=data))
        return
    with session.no_autoflush:
        case.events.append(CaseEvent(kind=kind, actor=actor, at=at, data=data))


def next_number(session: Session, when: datetime) -> str:
    """年度-月份-流水号 (002-G 八): the serial restarts every month."""
    month = when.astimezone(TZ).strftime("%Y-%m")
    serial = session.get(CaseSerial, month, with_for_update=True)
    if serial is None:
        serial = CaseSerial(month=month, last=0)
        session.add(serial)
    serial.last += 1
    session.flush()
    return f"{month}-{serial.last:06d}"


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def intake(session: Session, req: IntakeRequest, policy: Policy, actor: str) -> tuple[Case, bool]:
    """Record a complaint; (case, created). Re-sending the same external ticket of a channel
    returns the case it created the first time."""
    if req.channel not in policy.channels:
        raise CaseError(f"unknown channel {req.channel!r} (known: {', '.join(policy.channels)})")
    if req.received_at.tzinfo is None:
        raise CaseError("received_at must carry a timezone")
    try:
        check_text(req.text)
    except TextError as exc:
        raise CaseError(str(exc)) from None
    if req.external_id:
        existing = session.scalar(select(Case).where(Case.channel == req.channel,
                                                     Case.external_id == req.external_id))
        if existing is not None:
            return existing, False
    savepoint = session.begin_nested()
    try:
        case = Case(number=next_number(session, req.received_at), channel=req.channel, external_id=req.external_id,
                    received_at=req.received_at, text=req.text, customer_name=req.customer_name,
                    customer_phone=req.customer_phone, plate=req.plate, vin=req.vin, in_warranty=req.in_warranty,
                    state="received")
        session.add(case)
        session.flush()
        record_event(case, "received", actor, req.received_at, channel=req.channel,
               external_id=req.external_id)
        savepoint.commit()
    except IntegrityError:
        # Another intake of the same ticket won the race: return its case.
        savepoint.rollback()
        existing = session.scalar(select(Case).where(Case.channel == req.channel,
                                                     Case.external_id == req.external_id))
        if existing is None:
            raise
        return existing, False
    return case, True


def _transition(case: Case, to: str) -> None:
    if to not in TRANSITIONS[case.state]:
        raise InvalidTransition(f"case {case.number} is {case.state}; it cannot become {to}")
    case.state = to


def _earlier_complaints(session: Session, case: Case) -> int:
    keys = [c == v for c, v in ((Case.vin, case.vin), (Case.plate, case.plate)) if v]
    if not keys:
        return 0
    return session.scalar(select(func.count()).select_from(Case).where(Case.id != case.id,
                                                                        Case.received_at < case.received_at,
                                                                        or_(*keys))) or 0


def suggest(session: Session, case: Case, model: TriageModel, policy: Policy, now: datetime) -> dict[str, Any]:
    """The model's labels and the policy's routing for a received case."""
    pred = model.predict([case.text])[0]
    labels = {h: getattr(pred, h) for h in HEADS} | {"flags": list(pred.flags)}
    decision = route(policy, Classification(*(labels[h] for h in HEADS), tuple(pred.flags)),
                     Context(case.channel, case.received_at, in_warranty=case.in_warranty,
                             earlier_complaints=_earlier_complaints(session, case)))
    suggestion = {"model": pred.model, "labels": labels, "confidence": pred.confidence,
                  "low_confidence": pred.low_confidence, "evidence": pred.to_dict()["evidence"],
                  "rules": pred.rules, "routing": decision.to_dict()}
    _transition(case, "suggested")
    case.suggestion = suggestion
    record_event(case, "suggested", "system", now, **suggestion)
    _flush(session)
    return suggestion


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("the case was changed by someone else; reload it and try again") from None


def _check_version(case: Case, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != case.version:
        raise Conflict(f"case {case.number} is at version {case.version}, not {expected_version}: "
                       "someone else changed it; reload it and try again")


_CORRECTABLE = (*HEADS, "flags", "responsible_role")


def review(session: Session, case_id: int, reviewer: str, policy: Policy, now: datetime,
           expected_version: int | None = None, corrections: dict[str, Any] | None = None) -> Case:
    """A person accepts the suggestion, or corrects labels or the responsible role, and the
    case is dispatched. Every correction is kept (from -> to) for the next training run."""
    case = get_case(session, case_id)
    _check_version(case, expected_version)
    if case.state != "suggested" or not case.suggestion:
        raise InvalidTransition(f"case {case.number} is {case.state}; only a suggested case can be reviewed")
    labels = dict(case.suggestion["labels"])
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
        old = labels.get(key) if key != "responsible_role" else case.suggestion["routing"]["responsible"]
        if key == "flags":
            old = sorted(old or [])
        if new != old:
            changed[key] = {"from": old, "to": new}
            if key != "responsible_role":
                labels[key] = new
    if set(labels["flags"]) & MAJOR_FLAGS:
        labels["severity"] = "major"  # rules.md §2 holds for corrected labels too
    decision = route(policy, Classification(*(labels[h] for h in HEADS), tuple(labels["flags"])),
                     Context(case.channel, case.received_at, in_warranty=case.in_warranty,
                             earlier_complaints=_earlier_complaints(session, case)))
    responsible = changed.get("responsible_role", {}).get("to", decision.responsible)
    _transition(case, "confirmed")
    case.labels = labels
    case.responsible_role = responsible
    record_event(case, "reviewed", reviewer, now, accepted=not changed, corrections=changed,
           model=case.suggestion.get("model"))
    record_event(case, "dispatched", reviewer, now, to=responsible, routing=decision.to_dict())
    _flush(session)
    return case


def assign(session: Session, case_id: int, assignee: str, actor: str, now: datetime,
           expected_version: int | None = None) -> Case:
    """Give a dispatched case to a person (handlers see only their own cases)."""
    case = get_case(session, case_id)
    _check_version(case, expected_version)
    if case.state in ("received", "suggested", "closed"):
        raise InvalidTransition(f"case {case.number} is {case.state}; only a dispatched, open case can be assigned")
    if not assignee.strip():
        raise CaseError("the assignee is empty")
    record_event(case, "assigned", actor, now, frm=case.assignee, to=assignee)
    case.assignee = assignee
    _flush(session)
    return case


_ACTIONS: dict[str, str] = {"start": "in_progress", "resolve": "resolved", "verify": "verified",
                            "reopen": "reopened", "close": "closed", "auto_close": "closed"}


def act(session: Session, case_id: int, action: str, actor: str, now: datetime,
        expected_version: int | None = None, **data: Any) -> Case:
    """Move a case along its lifecycle; an action that does not fit its state is refused."""
    case = get_case(session, case_id)
    _check_version(case, expected_version)
    if action == "contact":
        if case.state not in ("confirmed", "in_progress", "reopened"):
            raise InvalidTransition(f"case {case.number} is {case.state}; no contact is expected")
        record_event(case, "first_contact", actor, now, **data)
        if case.state in ("confirmed", "reopened"):
            _transition(case, "in_progress")
        _flush(session)
        return case
    if action == "callback":
        satisfied = bool(data.get("satisfied"))
        _transition(case, "verified" if satisfied else "reopened")
        record_event(case, "verified" if satisfied else "reopened", actor, now, **data)
        _flush(session)
        return case
    if action not in _ACTIONS:
        raise CaseError(f"unknown action {action!r}")
    _transition(case, _ACTIONS[action])
    record_event(case, {"start": "started", "resolve": "resolved", "verify": "verified", "reopen": "reopened",
                           "close": "closed", "auto_close": "auto_closed"}[action], actor, now, **data)
    _flush(session)
    return case


def available_actions(case: Case) -> list[str]:
    """The actions the case's state allows now, in the order a case goes through them."""
    out = ["contact"] if case.state in ("confirmed", "in_progress", "reopened") else []
    moves = TRANSITIONS[case.state]
    out += [a for a in ("start", "resolve", "reopen") if _ACTIONS[a] in moves]
    if case.state == "verified":  # a resolved case closes by callback, or by itself (002-A §10)
        out.append("close")
    if case.state == "resolved":
        out.insert(0, "callback")
    return out


def review_queue(session: Session, limit: int = 100) -> list[Case]:
    """Suggested cases: major, safety and media first, then the nearest deadline."""
    cases = session.scalars(select(Case).where(Case.state == "suggested")).all()

    def key(case: Case) -> tuple[int, str]:
        labels = (case.suggestion or {}).get("labels", {})
        urgent = labels.get("severity") == "major" or bool({"safety", "media"} & set(labels.get("flags", ())))
        deadlines = [c["deadline"] for c in (case.suggestion or {}).get("routing", {}).get("clocks", [])
                     if c.get("deadline")]
        return (0 if urgent else 1, min(deadlines) if deadlines else "9999")

    return sorted(cases, key=key)[:limit]


def feedback_rows(session: Session) -> list[dict[str, str]]:
    """Reviewed cases whose labels a person corrected, in the labelled-data format."""
    rows = []
    corrected = select(CaseEvent.case_id).where(CaseEvent.kind == "reviewed")
    for case in session.scalars(select(Case).where(Case.id.in_(corrected), Case.labels.is_not(None))):
        review_events = [e for e in case.events if e.kind == "reviewed"]
        if not any(e.data.get("corrections") for e in review_events):
            continue
        labels = case.labels or {}
        rows.append({"id": case.number, "text": case.text, "channel": case.channel,
                     **{h: labels.get(h, "") for h in HEADS},
                     "flags": "|".join(f for f in FLAGS if f in labels.get("flags", [])) or "none"})
    return rows
