"""Multi-step workflows over the case service: a file of complaints (an OEM export, a hotline
day) or an API batch becomes cases, each item its own unit so that a bad one is reported
and the others go on; a dashboard's figures, read side by side."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from triage.case import reports, suggestion_accuracy
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


# ---- a dashboard's figures -------------------------------------------------------------------------------
_PANELS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dashboard")
"""Where a dashboard's trends are read while its report is: a few threads for the whole process."""


@dataclass(frozen=True)
class DashboardFigures:
    report: dict[str, Any]
    months: list[dict[str, Any]]
    """Cases per month by category and by severity (reports.trend)."""
    accuracy: dict[str, Any]
    """The period's online accuracy of the suggestions (suggestion_accuracy.online_accuracy)."""
    accuracy_trend: list[dict[str, Any]]


def dashboard_figures(*, db_session: Session, start: datetime, end: datetime, label: str, mask: bool,
                      list_limit: int | None = None) -> DashboardFigures:
    """A period's report, its six-month trends and its suggestions' online accuracy. On
    PostgreSQL the handling records, the trends and the accuracy are read on a second
    connection while the rest of the report is read on the request's, so the database works
    on both at once. Each side is read in its own transaction, so the two may be a few
    milliseconds apart: separate panels of the page. SQLite, one file on one machine, reads
    them in turn on the request's session."""

    def others(session: Session) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any],
                                          list[dict[str, Any]]]:
        return (reports.record_figures(db_session=session, start=start, end=end, mask=mask, list_limit=list_limit),
                reports.trend(db_session=session, label=label),
                suggestion_accuracy.online_accuracy(db_session=session, start=start, end=end, label=label),
                suggestion_accuracy.accuracy_trend(db_session=session, label=label))

    bind = db_session.get_bind()
    side = _PANELS.submit(_read_apart, bind, others) if bind.dialect.name == "postgresql" else None
    try:
        cases = reports.case_figures(db_session=db_session, start=start, end=end, label=label, mask=mask,
                                     list_limit=list_limit)
    finally:
        if side is not None:  # waited for even when the report failed: its connection goes back to the pool
            wait([side])
    record, months, accuracy, accuracy_trend = side.result() if side is not None else others(db_session)
    return DashboardFigures(reports.with_record(cases, record), months, accuracy, accuracy_trend)


def _read_apart(bind: Any, read: Callable[[Session], Any]) -> Any:
    """`read` in a session of its own, rolled back at the end (it only reads)."""
    with Session(bind) as session:
        return read(session)
