"""Monthly and quarterly reports (rules.md §5: 002-A §7-3, §7-4, §8-3; 002-B 三; 002-E 七 11):
counts by business line, category, severity, flag and role; SLA compliance per clock
against the 100 % targets; repeated complaints of the same kind; the focus-vehicle list."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.orm import Session

from triage.case import record as records
from triage.case.models import STATES, Case, CaseFlag, CaseRecord, clocks_in
from triage.policy.calendar import TZ
from triage.text.mask import mask_pii, mask_value

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


def report(*, db_session: Session, start: datetime, end: datetime, label: str, mask: bool = True,
           list_limit: int | None = None) -> dict[str, Any]:
    """The period's figures, aggregated by the database (GROUP BY on the label and clock columns
    that the case service and the SLA worker keep, case_flags and case_records): each statement
    reads one index over the period, and its answer is as long as the figures, whatever the
    number of cases. With `list_limit` (a page that shows the first rows of each list), the
    repeated complaints, focus vehicles and measures hold at most that many, and `list_totals`
    says how many there are."""
    return with_record(case_figures(db_session=db_session, start=start, end=end, label=label, mask=mask,
                                    list_limit=list_limit),
                       record_figures(db_session=db_session, start=start, end=end, mask=mask, list_limit=list_limit))


def case_figures(*, db_session: Session, start: datetime, end: datetime, label: str, mask: bool = True,
                 list_limit: int | None = None) -> dict[str, Any]:
    """The report without its handling records: counts, SLA compliance, repeated complaints and
    focus vehicles."""
    in_period = (Case.received_at >= start, Case.received_at < end)
    counts, compliance = _counts(db_session, start, end)
    repeated, repeated_total = _repeated(db_session, start, end, mask, list_limit)
    focus, focus_total = _focus(db_session, in_period, mask, list_limit)
    out = {"period": label, "from": start.isoformat(), "to": end.isoformat(), "cases": sum(counts["state"].values()),
           "counts": counts, "sla_compliance": compliance, "repeated_complaints": repeated,
           "repeat_flagged": counts["flag"].get("repeat", 0), "focus_vehicles": focus}
    if list_limit is not None:
        out["list_totals"] = {"repeated_complaints": repeated_total, "focus_vehicles": focus_total}
    return out


def with_record(report: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """case_figures with the period's record_figures (read with the same list limit): the
    cases not judged valid or invalid counted as unrecorded."""
    record = {**record, "validity": {**record["validity"]}}
    validity = record["validity"]
    validity[UNRECORDED] = report["cases"] - validity["valid"] - validity["invalid"]
    total = record.pop("measures_total", None)
    if "list_totals" in report:
        report["list_totals"]["measures"] = len(record["measures"]) if total is None else total
    report["record"] = record
    return report


# ---- the handling record (002-A §7-3, §7-4: causes analysed, corrective and preventive measures) -------
UNRECORDED = "unrecorded"
RECORD_GROUPS = ("cause", "responsibility_class", "responsible_department")
"""What a period's valid complaints are counted by (invalid ones are counted apart, 001 第六条)."""


def record_figures(*, db_session: Session, start: datetime, end: datetime,
                   mask: bool = True, list_limit: int | None = None) -> dict[str, Any]:
    """The period's handling records: its valid complaints by cause, responsibility class and
    responsible department; valid and invalid (`with_record` adds the unrecorded, from the
    report's count of cases); the satisfaction at the latest callback; the corrective measures
    (with `list_limit`, the first ones and `measures_total`). Two statements, the counts from one index
    (ix_case_records_report), whatever the number of cases."""
    in_period = (CaseRecord.received_at >= start, CaseRecord.received_at < end)
    columns = (CaseRecord.valid, CaseRecord.cause, CaseRecord.responsibility_class,
               CaseRecord.responsible_department, CaseRecord.satisfaction)
    tallies: dict[str, dict[str, int]] = {key: {} for key in (*RECORD_GROUPS, "satisfaction")}
    validity = {"valid": 0, "invalid": 0}
    for valid, cause, responsibility, department, satisfaction, n in db_session.execute(
            select(*columns, func.count()).where(*in_period).group_by(*columns)):
        if valid is not None:
            validity["valid" if valid else "invalid"] += n
        if valid:
            for key, value in zip(RECORD_GROUPS, (cause, responsibility, department), strict=True):
                tallies[key][value or UNRECORDED] = tallies[key].get(value or UNRECORDED, 0) + n
        if satisfaction is not None:
            tallies["satisfaction"][satisfaction] = tallies["satisfaction"].get(satisfaction, 0) + n
    counts = {key: dict(sorted(t.items(), key=lambda kv: (-kv[1], kv[0]))) for key, t in tallies.items()}
    measures = _measures(db_session, in_period, mask)
    if list_limit is None:
        return {"counts": counts, "validity": validity, "measures": measures}
    return {"counts": counts, "validity": validity, "measures": measures[:list_limit],
            "measures_total": len(measures)}


def _measures(db_session: Session, in_period: tuple[Any, ...], mask: bool) -> list[dict[str, Any]]:
    """The corrective measures decided for the period's cases: each measure once with its cause,
    the number of cases it was decided for and the first of them; most frequent first. Grouped by
    the database before the first case's number is looked up, so that a period of thousands of
    cases that took the same measures reads a few cases."""
    grouped = (select(CaseRecord.corrective_action.label("measure"), CaseRecord.cause.label("cause"),
                      func.count().label("n"), func.min(CaseRecord.case_id).label("first"))
               .where(*in_period, CaseRecord.corrective_action.is_not(None))
               .group_by(CaseRecord.corrective_action, CaseRecord.cause).subquery())
    rows = db_session.execute(select(grouped.c.measure, grouped.c.cause, grouped.c.n, Case.number)
                              .join(Case, Case.id == grouped.c.first))
    return [{"measure": _text(measure, mask), "cause": cause, "cases": count, "first_case": first}
            for measure, cause, count, first in sorted(rows, key=lambda r: (-r[2], r[3]))]


def _text(value: str | None, mask: bool) -> str | None:
    return mask_pii(value) if value and mask else value


_NONE = {"business_line": "unlabelled", "category": "unlabelled", "severity": "unlabelled", "role": "not dispatched"}


def _counts(db_session: Session, start: datetime, end: datetime) -> tuple[dict[str, dict[str, int]],
                                                                           dict[str, dict[str, Any]]]:
    """Cases by business line, category, severity, flag, role, channel and state; each most
    frequent first, then in the order of their first case (as Counter.most_common over the
    period's cases in order of receipt, then of id: a tie is ordered by its earliest receipt,
    then its lowest id). And the SLA compliance per clock, from the same pass."""
    columns = {"business_line": Case.business_line, "category": Case.category, "severity": Case.severity,
               "role": Case.responsible_role, "channel": Case.channel, "state": Case.state}
    tallies: dict[str, dict[str, list[Any]]] = {k: {} for k in (*columns, "flag")}
    clocks: dict[tuple[str | None, str | None], int] = {}
    # One pass over the period: its cases by every combination (a few hundred to a thousand).
    first = (func.min(Case.received_at), func.min(Case.id))
    rows = db_session.execute(select(*columns.values(), Case.planned_clocks, Case.breached_clocks, func.count(),
                                     *first).where(Case.received_at >= start, Case.received_at < end)
                              .group_by(*columns.values(), Case.planned_clocks, Case.breached_clocks))
    for *values, planned, breached, n, at, case_id in rows:
        for key, value in zip(columns, values, strict=True):
            _tally(tallies[key], value if value is not None else _NONE.get(key, "unlabelled"), n, (at, case_id))
        clocks[planned, breached] = clocks.get((planned, breached), 0) + n
    flags = select(CaseFlag.flag, func.count(), func.min(CaseFlag.received_at), func.min(CaseFlag.case_id)).where(
        CaseFlag.received_at >= start, CaseFlag.received_at < end).group_by(CaseFlag.flag)
    for flag, n, at, case_id in db_session.execute(flags):
        _tally(tallies["flag"], flag, n, (at, case_id))
    counts = {key: {k: n for k, (n, _) in sorted(t.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))}
              for key, t in tallies.items()}
    return counts, _compliance(clocks)


def _tally(tally: dict[str, list[Any]], key: str, n: int, first: tuple[datetime, int]) -> None:
    if key in tally:
        tally[key][0] += n
        tally[key][1] = min(tally[key][1], first)
    else:
        tally[key] = [n, first]


def _compliance(clocks: dict[tuple[str | None, str | None], int]) -> dict[str, dict[str, Any]]:
    """Per clock: the cases it ran on (planned by the suggestion's routing from receipt or
    dispatch, or breached) and those it breached on, against the 100 % target; from the
    number of cases with each (planned_clocks, breached_clocks)."""
    ran: dict[str, int] = {}
    late: dict[str, int] = {}
    for (planned, breached), n in clocks.items():
        late_ones = set(clocks_in(breached))
        for clock in set(clocks_in(planned)) | late_ones:
            ran[clock] = ran.get(clock, 0) + n
            if clock in late_ones:
                late[clock] = late.get(clock, 0) + n
    return {clock: {"cases": n, "breached": late.get(clock, 0), "compliance": round(1 - late.get(clock, 0) / n, 4),
                    "target": 1.0} for clock, n in sorted(ran.items())}


def _repeated(db_session: Session, start: datetime, end: datetime, mask: bool, limit: int | None = None
              ) -> tuple[list[dict[str, Any]], int]:
    """Complaints of the same kind about the same vehicle (its VIN, else its plate), in the
    order of their first case, each with the long-term measure decided for it: the first
    `limit` of them (all without one), and how many there are."""
    in_period = (Case.received_at >= start, Case.received_at < end)
    vehicle = func.coalesce(func.nullif(Case.vin, ""), func.nullif(Case.plate, ""))
    kind = func.coalesce(Case.category, "?")
    groups = (select(vehicle, kind).where(*in_period, vehicle.is_not(None)).group_by(vehicle, kind)
              .having(func.count() >= 2))
    out: dict[tuple[str, str], list[str]] = {}
    ids: dict[int, tuple[str, str]] = {}
    beyond: set[tuple[str, str]] = set()  # the groups past the limit, counted only
    for case_id, number, v, k in db_session.execute(select(Case.id, Case.number, vehicle, kind).where(
            *in_period, tuple_(vehicle, kind).in_(groups)).order_by(Case.received_at, Case.id)):
        if (v, k) not in out and (limit is not None and len(out) >= limit):
            beyond.add((v, k))
            continue
        out.setdefault((v, k), []).append(number)
        ids[case_id] = (v, k)
    # The long-term measure decided for the kind (002-E 七 11, 002-F 2.1.1): the latest recorded on any
    # of its cases, or none yet. The period's few measures come from a partial index of their own.
    measures: dict[tuple[str, str], str] = {}
    if ids:
        for case_id, measure in db_session.execute(
                select(CaseRecord.case_id, CaseRecord.long_term_measure)
                .where(CaseRecord.received_at >= start, CaseRecord.received_at < end,
                       CaseRecord.long_term_measure.is_not(None))
                .order_by(CaseRecord.received_at, CaseRecord.case_id)):
            if case_id in ids:
                measures[ids[case_id]] = measure
    return [{"vehicle": _show(v, mask), "category": k, "cases": numbers,
             "long_term_measure": _text(measures.get((v, k)), mask)} for (v, k), numbers in out.items()
            ], len(out) + len(beyond)


# Open: the states before verified and closed. Named rather than negated, so that the few open cases
# of a period are read through ix_cases_state_received, not every case of the period.
_OPEN = tuple(state for state in STATES if state not in ("verified", "closed"))


def _focus(db_session: Session, in_period: tuple[Any, ...], mask: bool, limit: int | None = None
           ) -> tuple[list[dict[str, Any]], int]:
    """Open cases whose suggestion put the vehicle on the focus list (002-A §6): the first
    `limit` (all without one), and how many there are."""
    where = (*in_period, Case.focus_owner.is_not(None), Case.state.in_(_OPEN))
    rows = db_session.execute(select(Case.number, Case.vin, Case.plate, Case.focus_owner, Case.category)
                              .where(*where).order_by(Case.received_at, Case.id).limit(limit))
    listed = [{"case": number, "vehicle": _show(vin or plate, mask), "owner": who, "category": category}
              for number, vin, plate, who, category in rows]
    if limit is None or len(listed) < limit:
        return listed, len(listed)
    return listed, db_session.execute(select(func.count()).select_from(Case).where(*where)).scalar_one()


def _show(vehicle: str | None, mask: bool) -> str | None:
    return _masked(vehicle) if vehicle and mask else vehicle


@lru_cache(maxsize=1 << 14)
def _masked(vehicle: str) -> str:
    """Masking runs seven patterns over the value (7 µs): a quarter's report names some two
    thousand vehicles, the same ones at every view."""
    return mask_value(vehicle, keep=2)


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
    """Cases per month by category and by severity, for the months up to the period's end:
    one GROUP BY over the months."""
    months = months_ending(label, count)
    bounds = [period_bounds(month=m)[:2] for m in months]
    month = case(*((Case.received_at < end, n) for n, (_, end) in enumerate(bounds))).label("month")
    # Grouped outside: the month's bounds are parameters, which PostgreSQL would not match between
    # the select list and a GROUP BY.
    inner = select(month, Case.category, Case.severity).where(
        Case.received_at >= bounds[0][0], Case.received_at < bounds[-1][1]).subquery()
    out: list[dict[str, Any]] = [{"month": m, "category": {}, "severity": {}} for m in months]
    # Ordered here, not by the database: a statement run often is planned once for any parameters
    # (PostgreSQL's generic plan), which guesses 500 rows of a range of dates; asked for the order too,
    # it then sorted the six months' 50,000 rows on disk instead of hashing them (twice the time).
    rows = sorted(db_session.execute(select(inner.c.month, inner.c.category, inner.c.severity, func.count())
                                     .group_by(inner.c.month, inner.c.category, inner.c.severity)).all(),
                  key=lambda r: (r[0], r[1] is None, r[1] or "", r[2] is None, r[2] or ""))
    for n, category, severity, cases in rows:
        for key, value in (("category", category), ("severity", severity)):
            tally = out[n][key]
            tally[value or "unlabelled"] = tally.get(value or "unlabelled", 0) + cases
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
    rows += [["repeated_long_term_measure", r["vehicle"], r["category"], r.get("long_term_measure") or ""]
             for r in rep["repeated_complaints"]]
    record = rep.get("record") or {"counts": {}, "validity": {}, "measures": []}
    rows += [["validity", key, "cases", n] for key, n in record["validity"].items()]
    for group, counts in record["counts"].items():
        rows += [["record", group, key, n] for key, n in counts.items()]
    rows += [["measure", m["measure"], m["cause"] or "", m["cases"]] for m in record["measures"]]
    rows += [["focus_vehicle", f["vehicle"], f["case"], f["owner"]] for f in rep["focus_vehicles"]]
    return rows


# ---- the monthly case review (月度案例总结, 002-B 一 2: PDCA, the training meeting) -------------------------
_REVIEW_COLUMNS = (Case.id, Case.number, Case.received_at, Case.business_line, Case.category, Case.severity,
                   Case.state, Case.text, CaseRecord.case_id)


def case_review(*, db_session: Session, start: datetime, end: datetime, label: str) -> dict[str, Any]:
    """The period's major complaints and its repeated complaints of the same kind, each case with its
    cause, responsibility, measures and the customer's final satisfaction, for a printed review:
    personal data masked whoever prints it (the complaint and every free text of the record)."""
    in_period = (Case.received_at >= start, Case.received_at < end)
    repeated, _ = _repeated(db_session, start, end, mask=True)
    numbers = [n for group in repeated for n in group["cases"]]
    fields = [getattr(CaseRecord, name) for name in _REVIEW_FIELDS]
    query = (select(*_REVIEW_COLUMNS, *fields).outerjoin(CaseRecord, CaseRecord.case_id == Case.id)
             .order_by(Case.received_at, Case.id))
    major = [_review_entry(row) for row in db_session.execute(query.where(*in_period, Case.severity == "major"))]
    by_number = {row.number: _review_entry(row) for row in db_session.execute(
        query.where(*in_period, Case.number.in_(numbers)))} if numbers else {}
    return {"period": label, "from": start.isoformat(), "to": end.isoformat(), "major": major,
            "repeated": [{**group, "entries": [by_number[n] for n in group["cases"] if n in by_number]}
                         for group in repeated]}


_REVIEW_FIELDS = ("cause", "responsibility_class", "responsible_department", "responsible_person",
                  "investigation", "handling_opinion", "corrective_action", "long_term_measure", "valid",
                  "invalid_reason", "satisfaction", "customer_words")


def _review_entry(row: Any) -> dict[str, Any]:
    values = records.masked({name: getattr(row, name) for name in _REVIEW_FIELDS})
    return {"id": row.id, "number": row.number, "received_at": row.received_at.isoformat(),
            "business_line": row.business_line, "category": row.category, "severity": row.severity,
            "state": row.state, "text": mask_pii(row.text), "recorded": row.case_id is not None, **values}
