"""The managers' dashboard of a month or a quarter (counts, trends, SLA compliance, repeated
complaints, focus vehicles) and its CSV export."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import DbSession, Now, PolicyDep
from api.web import charts, present
from api.web.deps import ManagerViewer, Refused, render
from triage.auth.permissions import sees_personal_data
from triage.bulk.service import spreadsheet_safe
from triage.case import reports
from triage.classify.labels import LABELS

router = APIRouter(include_in_schema=False)
LIST_SHOWN = 100
"""Rows of the repeated-complaint and focus-vehicle lists on the page; the CSV has them all."""


def period_of(period: str | None, now: datetime) -> tuple[datetime, datetime, str]:
    """The period asked for (YYYY-MM or YYYY-Qn), by default the current month."""
    label = (period or "").strip() or present.local_time(now)[:7]
    try:
        return reports.period_bounds(**({"quarter": label} if "Q" in label else {"month": label}))
    except reports.PeriodError as exc:
        raise Refused(400, f"期间格式应为 YYYY-MM 或 YYYY-Qn ({exc})") from None


@router.get("/dashboard")
def dashboard(request: Request, db_session: DbSession, now: Now, policy: PolicyDep, viewer: ManagerViewer,
              period: str | None = None) -> HTMLResponse:
    start, end, label = period_of(period, now)
    rep = reports.report(db_session=db_session, start=start, end=end, label=label,
                         mask=not sees_personal_data(viewer.user))
    months = reports.trend(db_session=db_session, label=label)
    clock_names = {c.id: c.name for c in policy.clocks}
    return render(
        request, "dashboard.html", viewer, rep=rep, period=label,
        by_category=_by_month(months, "category"), by_severity=_by_month(months, "severity"),
        compliance=charts.compliance_bars([(clock_names.get(k, k), c["compliance"], c["cases"], c["breached"])
                                           for k, c in rep["sla_compliance"].items()]),
        clock_names=clock_names, shown=LIST_SHOWN)


def _by_month(months: list[dict[str, Any]], head: str) -> charts.Chart:
    """Stacked columns of a head's labels per month (unconfirmed ones apart)."""
    return charts.stacked_columns([(m["month"][2:], m[head]) for m in months], [*LABELS[head], "unlabelled"],
                                  {**LABELS[head], "unlabelled": "未确认"})


@router.get("/dashboard.csv")
def dashboard_csv(db_session: DbSession, now: Now, viewer: ManagerViewer, period: str | None = None) -> Response:
    start, end, label = period_of(period, now)
    rep = reports.report(db_session=db_session, start=start, end=end, label=label, mask=True)  # an export: masked
    buf = io.StringIO()
    csv.writer(buf).writerows([[spreadsheet_safe(str(c)) for c in row]
                               for row in reports.csv_rows(rep, reports.trend(db_session=db_session, label=label))])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="triage-report-{label}.csv"'})
