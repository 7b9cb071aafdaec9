"""Multi-step workflows over the case service: a file of complaints (an OEM export, a hotline
day) or an API batch becomes cases, each item its own unit so that a bad one is reported
and the others go on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from triage.case.models import Case
from triage.case.service import CaseError, IntakeRequest, intake_and_suggest
from triage.io import InputRow, RowError
from triage.policy.model import Policy


@dataclass(frozen=True)
class IntakeOutcome:
    case: Case | None
    created: bool
    error: str | None = None


def intake_one(*, db_session: Session, request: IntakeRequest | CaseError, model: Any, policy: Policy, actor: str,
               now: datetime) -> IntakeOutcome:
    """Intake and suggestion of one item of a batch. An item that fails (or could not be
    read, given as its CaseError) becomes an outcome with the error, and what it wrote is
    undone; the caller goes on with the next."""
    if isinstance(request, CaseError):
        return IntakeOutcome(None, False, str(request))
    try:
        case, created = intake_and_suggest(db_session=db_session, request=request, model=model, policy=policy,
                                           actor=actor, now=now)
    except (CaseError, ValueError) as exc:  # ValueError: a time the calendar or the policy cannot place
        return IntakeOutcome(None, False, str(exc))
    return IntakeOutcome(case, created)


def request_from_row(row: InputRow, now: datetime, channel: str | None = None) -> IntakeRequest:
    """An intake request from a row of a complaints file. Columns: id (the channel's ticket),
    text, and optionally channel, received_at (ISO, with zone), customer_name,
    customer_phone, plate, vin. Raises CaseError for a row that cannot be a request."""
    f = row.fields
    try:
        received = datetime.fromisoformat(f["received_at"]) if f.get("received_at") else now
    except ValueError as exc:
        raise CaseError(str(exc)) from None
    return IntakeRequest(channel=f.get("channel") or channel or "", text=row.text, received_at=received,
                         external_id=row.id, customer_name=f.get("customer_name") or None,
                         customer_phone=f.get("customer_phone") or None, plate=f.get("plate") or None,
                         vin=f.get("vin") or None)


def intake_rows(*, db_session: Session, rows: Iterable[InputRow | RowError], policy: Policy, model: Any, actor: str,
                now: datetime, channel: str | None = None) -> dict[str, Any]:
    """Cases from the rows of a complaints file, idempotent on (channel, id): counts of
    created and existing cases, and one message per row that failed."""
    created = existing = 0
    errors: list[str] = []
    for row in rows:
        if isinstance(row, RowError):
            errors.append(row.error)
            continue
        try:
            request: IntakeRequest | CaseError = request_from_row(row, now, channel)
        except CaseError as exc:
            request = exc
        outcome = intake_one(db_session=db_session, request=request, model=model, policy=policy, actor=actor,
                             now=now)
        if outcome.error is not None:
            errors.append(f"row {row.row} ({row.id}): {outcome.error}")
        elif outcome.created:
            created += 1
        else:
            existing += 1
    return {"created": created, "existing": existing, "errors": errors}
