"""The monthly and quarterly reports; personal data masked for the roles that do not see it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from api.deps import DbSession, PermissionsDependency, PolicyDep
from api.errors import ProblemError, problems
from api.schemas import ReportOut, SuggestionsReportOut
from triage.auth.permissions import REPORT_READERS, User, sees_personal_data
from triage.case import reports, suggestion_accuracy

router = APIRouter()

Reader = Annotated[User, Depends(PermissionsDependency(REPORT_READERS))]


def _report(db_session: Session, user: User, **period: str) -> dict[str, Any]:
    try:
        start, end, label = reports.period_bounds(**period)
    except reports.PeriodError as exc:
        raise ProblemError(400, "Bad period", str(exc)) from None
    return reports.report(db_session=db_session, start=start, end=end, label=label, mask=not sees_personal_data(user))


@router.get("/v1/reports/monthly", summary="Counts, SLA compliance, repeats and focus vehicles of a month",
            response_model=ReportOut, responses=problems(400, 401, 403, 422))
def monthly(month: str, db_session: DbSession, user: Reader) -> dict[str, Any]:
    return _report(db_session, user, month=month)


@router.get("/v1/reports/quarterly", summary="The same figures for a quarter (YYYY-Qn)", response_model=ReportOut,
            responses=problems(400, 401, 403, 422))
def quarterly(quarter: str, db_session: DbSession, user: Reader) -> dict[str, Any]:
    return _report(db_session, user, quarter=quarter)


@router.get("/v1/reports/suggestions", summary="The share of suggestions the reviewers kept in a month, per head, "
            "class and model version, against the model card", response_model=SuggestionsReportOut,
            responses=problems(401, 403, 422))
def suggestions(month: str, db_session: DbSession, _: Reader, policy: PolicyDep) -> dict[str, Any]:
    try:
        return suggestion_accuracy.month_report(db_session=db_session, month=month, rules=policy.suggestions)
    except reports.PeriodError as exc:
        raise ProblemError(422, "Bad month", str(exc)) from None
