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
from triage.case import flows, reports, suggestion_accuracy
from triage.classify.labels import LABELS
from triage.policy.model import SuggestionRules

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
    figures = flows.dashboard_figures(db_session=db_session, start=start, end=end, label=label,
                                      mask=not sees_personal_data(viewer.user), list_limit=LIST_SHOWN)
    rep, accuracy = figures.report, figures.accuracy
    clock_names = {c.id: c.name for c in policy.clocks}
    drops = suggestion_accuracy.drops_in(accuracy, policy.suggestions)
    return render(
        request, "dashboard.html", viewer, rep=rep, period=label,
        by_category=_by_month(figures.months, "category"), by_severity=_by_month(figures.months, "severity"),
        compliance=charts.compliance_bars([(clock_names.get(k, k), c["compliance"], c["cases"], c["breached"])
                                           for k, c in rep["sla_compliance"].items()]),
        clock_names=clock_names, shown=LIST_SHOWN, accuracy=accuracy, drops=drops,
        accuracy_chart=_accuracy_chart(accuracy, drops, policy.suggestions), accuracy_trend=figures.accuracy_trend)


def _accuracy_chart(accuracy: dict[str, Any], drops: list[suggestion_accuracy.Drop],
                    rules: SuggestionRules) -> charts.Chart:
    """A bar per model version and head: the share of its suggestions kept, the card's figure as a tick."""
    dropped = {(d.model, d.head) for d in drops}
    rows = []
    several = len(accuracy["models"]) > 1
    for entry in accuracy["models"]:
        for head, f in entry["heads"].items():
            name = present.HEAD_NAMES[head] + (f" · {entry['model']}" if several else "")
            state = ("drop" if (entry["model"], head) in dropped
                     else "few" if f["reviews"] < rules.accuracy_min_reviews else "ok")
            card = "无模型卡" if f["held_out"] is None else f"模型卡 {f['held_out']:.1%}"
            rows.append((name, f["share"], f["held_out"], state,
                         f"{present.HEAD_NAMES[head]}（{entry['model']}）：保留 {f['kept']}/{f['reviews']}"
                         f"（{f['share']:.1%}），{card}"))
    return charts.share_bars(rows)


def _by_month(months: list[dict[str, Any]], head: str) -> charts.Chart:
    """Stacked columns of a head's labels per month (unconfirmed ones apart)."""
    return charts.stacked_columns([(m["month"][2:], m[head]) for m in months], [*LABELS[head], "unlabelled"],
                                  {**LABELS[head], "unlabelled": "未确认"})


@router.get("/dashboard.csv")
def dashboard_csv(db_session: DbSession, now: Now, viewer: ManagerViewer, period: str | None = None) -> Response:
    start, end, label = period_of(period, now)
    # An export: masked, and every row of every list.
    figures = flows.dashboard_figures(db_session=db_session, start=start, end=end, label=label, mask=True)
    rows = [*reports.csv_rows(figures.report, figures.months), *suggestion_accuracy.csv_rows(figures.accuracy),
            *suggestion_accuracy.trend_csv_rows(figures.accuracy_trend)]
    buf = io.StringIO()
    csv.writer(buf).writerows([[spreadsheet_safe(str(c)) for c in row] for row in rows])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="triage-report-{label}.csv"'})
