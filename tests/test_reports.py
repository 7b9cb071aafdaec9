"""The monthly and quarterly reports at a year's volume (issue 11 §4), on SQLite and PostgreSQL:
a report reads each of its indexes once, its SLA compliance with its cases; the clock columns
it reads say what case_clocks says, as the case service and the SLA worker keep them, and as
the migration fills them for the cases already there."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import case, event, func, select
from sqlalchemy.orm import Session

from triage.case import models, reports
from triage.case.models import Case, CaseClock
from triage.db import alembic_config, init_db

from .conftest import BACKENDS
from .test_lists import CATEGORIES, T0, build

PERIODS = [{"month": "2026-11"}, {"quarter": "2026-Q4"}, {"month": "2026-09"}]


@pytest.fixture
def cases(engine):
    build(engine)
    return engine


@contextmanager
def statements(engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def compliance_from_case_clocks(s: Session, start: Any, end: Any) -> dict[str, dict[str, Any]]:
    """The SLA compliance as the report counted it before: a statement of its own over
    case_clocks, four or five rows per case."""
    breached = func.sum(case((CaseClock.breached, 1), else_=0))
    rows = s.execute(select(CaseClock.clock, func.count(), breached)
                     .where(CaseClock.received_at >= start, CaseClock.received_at < end)
                     .group_by(CaseClock.clock).order_by(CaseClock.clock))
    return {clock: {"cases": n, "breached": int(b or 0), "compliance": round(1 - int(b or 0) / n, 4), "target": 1.0}
            for clock, n, b in rows}


def test_a_dashboards_figures_take_one_statement_per_index_and_none_reads_case_clocks(cases):
    """The quarterly dashboard took 125 ms at 100,000 cases; a fifth of it a second pass over the
    period for the SLA compliance, through case_clocks (115,000 rows a quarter). The compliance
    comes out of the GROUP BY that counts the period's cases: the report is seven statements
    (cases with their clocks, flags, repeated complaints and their long-term measures, focus
    vehicles, and of the handling records their breakdowns and the corrective measures), the
    trend one."""
    start, end, label = reports.period_bounds(month="2026-11")
    with Session(cases) as s, statements(cases) as seen:
        rep = reports.report(db_session=s, start=start, end=end, label=label)
        reports.trend(db_session=s, label=label)
    assert len(seen) == 8, seen
    assert not [sql for sql in seen if "case_clocks" in sql]
    # The focus list names the open states, so that it reads the few open cases by their state's
    # index, not every case of the period.
    assert [sql for sql in seen if "focus_owner" in sql and "cases.state IN" in sql and "NOT IN" not in sql]
    assert rep["sla_compliance"] and any(c["breached"] for c in rep["sla_compliance"].values())


def generic_plan(engine, sql: str, parameters: dict[str, Any]) -> str:
    """PostgreSQL's plan of a statement for any parameters: the one a statement run often gets
    (psycopg prepares it at its fifth run, and the server plans it once for all values after
    five more), guessing how many rows a range of dates holds."""
    names: list[str] = []

    def numbered(m: re.Match[str]) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    from psycopg import sql as psql

    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET plan_cache_mode = force_generic_plan")
        cur.execute("PREPARE figures AS " + re.sub(r"%\((\w+)\)s", numbered, sql))
        values = psql.SQL(", ").join(psql.Literal(parameters[n]) for n in names)  # EXECUTE takes no parameters
        cur.execute(psql.SQL("EXPLAIN EXECUTE figures ({})").format(values))
        return "\n".join(line for (line,) in cur.fetchall())
    finally:
        raw.rollback()
        raw.close()


@pytest.mark.parametrize("engine", [BACKENDS[1]], indirect=True)  # a plan of PostgreSQL: on PostgreSQL only
def test_the_trend_is_hashed_whatever_the_plan(engine):
    """The six-month trend took 30 ms at 100,000 cases once it had run ten times: planned for
    any dates, it guessed a few hundred rows, and since it also asked for its order, the plan
    sorted the 50,000 rows (on disk) to group them. It asks for no order (it orders its few
    groups itself), and the plan hashes them."""
    assert engine.dialect.name == "postgresql"
    # A table of some size, so that the planner weighs a sort against a hash as it does at volume.
    rows = [{"number": f"2026-{1 + n % 11:02d}-{n:06d}", "channel": "phone", "received_at": T0 - timedelta(hours=n),
             "text": "x", "state": "closed", "version": 1, "category": CATEGORIES[n % 5],
             "severity": ("grumble", "complaint", "major")[n % 3]} for n in range(20_000)]
    with engine.begin() as conn:
        conn.execute(sa.insert(Case.__table__), rows)
        conn.execute(sa.text("ANALYZE cases"))
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        seen.append((sql, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as s:
            months = reports.trend(db_session=s, label="2026-11")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sum(sum(m["severity"].values()) for m in months) > 3000 and len(seen) == 1
    plan = generic_plan(engine, *seen[0])
    assert "HashAggregate" in plan and "Sort" not in plan, plan


@pytest.mark.parametrize("period", PERIODS)
def test_the_compliance_is_the_one_case_clocks_gave(cases, period):
    start, end, label = reports.period_bounds(**period)
    with Session(cases) as s:
        got = reports.report(db_session=s, start=start, end=end, label=label)["sla_compliance"]
        assert got == compliance_from_case_clocks(s, start, end)
        assert list(got) == sorted(got)


def test_the_clock_columns_say_what_case_clocks_says(cases):
    """As the case service (intake, suggestion, review with corrections) and the SLA worker
    (breaches) left them in the fixture's cases."""
    with Session(cases) as s:
        every = s.scalars(select(Case)).all()
        assert any(c.breached_clocks for c in every) and any(c.planned_clocks for c in every)
        for c in every:
            counted = set(models.clocks_in(c.planned_clocks)) | set(models.clocks_in(c.breached_clocks))
            assert counted == {r.clock for r in c.clock_rows}, c.number
            assert set(models.clocks_in(c.breached_clocks)) == {r.clock for r in c.clock_rows if r.breached}, c.number
            assert c.breached == bool(c.breached_clocks)


def test_the_migration_fills_the_clock_columns_from_case_clocks(cases):
    """Cases written before the columns existed (back to 0005, which keeps case_clocks): their
    clocks are taken from case_clocks, and the report gives the figures it gave."""
    with Session(cases) as s:
        before = {p["month" if "month" in p else "quarter"]: compliance_from_case_clocks(
            s, *reports.period_bounds(**p)[:2]) for p in PERIODS}
        clocks_of = {c.id: (c.planned_clocks, c.breached_clocks) for c in s.scalars(select(Case))}
    with cases.begin() as conn:
        config = alembic_config(cases.url.render_as_string(hide_password=False))
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    assert {c["name"] for c in sa.inspect(cases).get_columns("cases")}.isdisjoint({"planned_clocks",
                                                                                    "breached_clocks"})
    init_db(cases)
    with Session(cases) as s:
        for case_id, planned, breached in s.execute(select(Case.id, Case.planned_clocks, Case.breached_clocks)):
            assert models.clocks_in(breached) == models.clocks_in(clocks_of[case_id][1])
            # every counted clock as planned, breached or not: the report counts either
            assert set(models.clocks_in(planned)) >= set(models.clocks_in(clocks_of[case_id][0]))
        for p in PERIODS:
            start, end, label = reports.period_bounds(**p)
            got = reports.report(db_session=s, start=start, end=end, label=label)["sla_compliance"]
            assert got == before[label]


LISTS = ("repeated_complaints", "focus_vehicles")


@pytest.mark.parametrize("limit", [0, 2])
def test_a_limited_report_lists_the_first_rows_and_counts_them_all(cases, limit):
    """The dashboard shows the first rows of each list (the CSV has them all): read with a
    limit, the lists are the full report's first rows, the totals its lengths, the rest the same."""
    start, end, label = reports.period_bounds(quarter="2026-Q4")
    with Session(cases) as s:
        full = reports.report(db_session=s, start=start, end=end, label=label)
        short = reports.report(db_session=s, start=start, end=end, label=label, list_limit=limit)
    assert "list_totals" not in full
    assert len(full["repeated_complaints"]) > 2 and len(full["focus_vehicles"]) > 2 and full["record"]["measures"]
    assert short["list_totals"] == {**{k: len(full[k]) for k in LISTS}, "measures": len(full["record"]["measures"])}
    for k in LISTS:
        assert short[k] == full[k][:limit]
    assert short["record"]["measures"] == full["record"]["measures"][:limit]
    assert {k: v for k, v in short.items() if k not in (*LISTS, "record", "list_totals")} == \
        {k: v for k, v in full.items() if k not in (*LISTS, "record")}
    assert {k: v for k, v in short["record"].items() if k != "measures"} == \
        {k: v for k, v in full["record"].items() if k != "measures"}


def test_the_dashboards_figures_are_the_reports_read_side_by_side_on_postgresql(cases, monkeypatch):
    """flows.dashboard_figures reads the handling records, the trends and the online accuracy on a
    second connection (PostgreSQL) while the rest of the report is read: the same figures as
    reading them one after the other."""
    import threading

    from triage.case import flows, suggestion_accuracy

    start, end, label = reports.period_bounds(quarter="2026-Q4")
    with Session(cases) as s:
        serial = (reports.report(db_session=s, start=start, end=end, label=label, mask=False, list_limit=2),
                  reports.trend(db_session=s, label=label),
                  suggestion_accuracy.online_accuracy(db_session=s, start=start, end=end, label=label),
                  suggestion_accuracy.accuracy_trend(db_session=s, label=label))
        where: list[str] = []
        trend = reports.trend

        def seen_trend(**kwargs: Any) -> Any:
            where.append(threading.current_thread().name)
            return trend(**kwargs)

        monkeypatch.setattr(reports, "trend", seen_trend)
        figures = flows.dashboard_figures(db_session=s, start=start, end=end, label=label, mask=False, list_limit=2)
    assert (figures.report, figures.months, figures.accuracy, figures.accuracy_trend) == serial
    side = cases.dialect.name == "postgresql"
    assert [name.startswith("dashboard") for name in where] == [side], where


def test_a_report_that_fails_waits_for_its_side_and_says_why(cases, monkeypatch):
    from triage.case import flows

    def broken(**_: Any) -> Any:
        raise RuntimeError("the report broke")

    monkeypatch.setattr(reports, "case_figures", broken)
    start, end, label = reports.period_bounds(month="2026-11")
    with Session(cases) as s, pytest.raises(RuntimeError, match="the report broke"):
        flows.dashboard_figures(db_session=s, start=start, end=end, label=label, mask=True)
    # Nothing is left reading: every connection the side took is back in the pool.
    assert cases.pool.checkedout() == 0
