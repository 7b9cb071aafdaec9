"""Monthly and quarterly reports (rules.md §5: 002-A §7-3, §7-4, §8-3; 002-B 三; 002-E 七 11):
counts by business line, category, severity, flag and role; SLA compliance per clock
against the 100 % targets; repeated complaints of the same kind; the focus-vehicle list."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.case.models import Case, CaseEvent
from triage.policy.calendar import TZ
from triage.text.mask import mask_value

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


class PeriodError(ValueError):
    """A period that is not YYYY-MM or YYYY-Qn."""


def period_bounds(month: str | None = None, quarter: str | None = None) -> tuple[datetime, datetime, str]:
    if month is not None:
        m = _MONTH.match(month)
        if not m:
            raise PeriodError(f"month {month!r} is not YYYY-MM")
        year, first, months = int(m.group(1)), int(m.group(2)), 1
        label = month
    elif quarter is not None:
        m = _QUARTER.match(quarter)
        if not m:
            raise PeriodError(f"quarter {quarter!r} is not YYYY-Qn")
        year, first, months = int(m.group(1)), 3 * int(m.group(2)) - 2, 3
        label = quarter
    else:
        raise PeriodError("give a month or a quarter")
    start = datetime(year, first, 1, tzinfo=TZ)
    end_month = first + months
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=TZ)
    return start, end, label


def report(*, db_session: Session, start: datetime, end: datetime, label: str, mask: bool = True) -> dict[str, Any]:
    in_period = (Case.received_at >= start, Case.received_at < end)
    cases = db_session.scalars(select(Case).where(*in_period).order_by(Case.received_at)).all()
    # Only the breaches of the event log count here: one query for them, not the whole log.
    breaches: dict[int, list[Any]] = defaultdict(list)
    for case_id, data in db_session.execute(select(CaseEvent.case_id, CaseEvent.data).join(Case)
                                         .where(CaseEvent.kind == "sla_breach", *in_period)):
        breaches[case_id].append((data or {}).get("clock"))
    counts: dict[str, Counter] = {k: Counter() for k in ("business_line", "category", "severity", "flag", "role",
                                                         "channel", "state")}
    clocks_run: Counter = Counter()
    clocks_breached: Counter = Counter()
    by_vehicle_kind: dict[tuple[str, str], list[str]] = defaultdict(list)
    focus = []
    for case in cases:
        labels = case.current_labels
        for key in ("business_line", "category", "severity"):
            counts[key][labels.get(key, "unlabelled")] += 1
        for flag in labels.get("flags", []):
            counts["flag"][flag] += 1
        counts["role"][case.responsible_role or "not dispatched"] += 1
        counts["channel"][case.channel] += 1
        counts["state"][case.state] += 1
        routing = (case.suggestion or {}).get("routing") or {}
        started = {c["id"] for c in routing.get("clocks", []) if c.get("starts_on") in ("received", "dispatched")}
        for clock in breaches[case.id]:
            clocks_breached[clock] += 1
            started.add(clock)
        clocks_run.update(started)
        vehicle = case.vin or case.plate
        if vehicle:
            by_vehicle_kind[(vehicle, labels.get("category", "?"))].append(case.number)
        if routing.get("focus_vehicle") and case.state not in ("verified", "closed"):
            focus.append({"case": case.number, "vehicle": _show(vehicle, mask), "owner": routing.get("focus_owner"),
                          "category": labels.get("category")})
    compliance = {clock: {"cases": n, "breached": clocks_breached[clock],
                          "compliance": round(1 - clocks_breached[clock] / n, 4) if n else None, "target": 1.0}
                  for clock, n in sorted(clocks_run.items())}
    repeated = [{"vehicle": _show(v, mask), "category": cat, "cases": numbers}
                for (v, cat), numbers in by_vehicle_kind.items() if len(numbers) >= 2]
    return {"period": label, "from": start.isoformat(), "to": end.isoformat(), "cases": len(cases),
            "counts": {k: dict(v.most_common()) for k, v in counts.items()},
            "sla_compliance": compliance, "repeated_complaints": repeated,
            "repeat_flagged": counts["flag"].get("repeat", 0), "focus_vehicles": focus}


def _show(vehicle: str | None, mask: bool) -> str | None:
    return mask_value(vehicle, keep=2) if vehicle and mask else vehicle


def months_ending(label: str, count: int) -> list[str]:
    """The `count` months up to the end of a period (YYYY-MM or YYYY-Qn), oldest first."""
    _, end, _ = period_bounds(**({"quarter": label} if "Q" in label else {"month": label}))
    year, month = end.year, end.month
    out = []
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        out.append(f"{year:04d}-{month:02d}")
    return out[::-1]


def trend(*, db_session: Session, label: str, count: int = 6) -> list[dict[str, Any]]:
    """Cases per month by category and by severity, for the months up to the period's end."""
    out = []
    for month in months_ending(label, count):
        start, end, _ = period_bounds(month=month)
        counts: dict[str, Counter] = {"category": Counter(), "severity": Counter()}
        rows = db_session.execute(select(Case.labels, Case.suggestion)
                               .where(Case.received_at >= start, Case.received_at < end))
        for confirmed, suggestion in rows:
            labels = confirmed or (suggestion or {}).get("labels") or {}  # as Case.current_labels
            for key in counts:
                counts[key][labels.get(key, "unlabelled")] += 1
        out.append({"month": month, **{k: dict(v) for k, v in counts.items()}})
    return out


def csv_rows(rep: dict[str, Any], months: list[dict[str, Any]]) -> list[list[Any]]:
    """The dashboard's figures as rows (section, key, sub-key, value): what the charts show."""
    rows: list[list[Any]] = [["section", "key", "detail", "value"], ["period", rep["period"], "cases", rep["cases"]]]
    for group, counts in rep["counts"].items():
        rows += [["count", group, key, n] for key, n in counts.items()]
    for m in months:
        for group in ("category", "severity"):
            rows += [["trend", m["month"], f"{group}={key}", n] for key, n in sorted(m[group].items())]
    for clock, c in rep["sla_compliance"].items():
        rows += [["sla", clock, "cases", c["cases"]], ["sla", clock, "breached", c["breached"]],
                 ["sla", clock, "compliance", "" if c["compliance"] is None else c["compliance"]]]
    rows += [["repeated", r["vehicle"], r["category"], " ".join(r["cases"])] for r in rep["repeated_complaints"]]
    rows += [["focus_vehicle", f["vehicle"], f["case"], f["owner"]] for f in rep["focus_vehicles"]]
    return rows
