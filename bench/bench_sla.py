"""One SLA pass over a year's backlog: its time must follow the due cases, not the open ones.

    .venv/bin/python bench/bench_sla.py --db postgresql+psycopg://USER@HOST/DB [--open 1000000] [--due 10000]

DROPS AND RECREATES every table of the service in the database given, and drops them again
at the end (--keep leaves them). Seeds, in bulk SQL:

* `--open` open cases none of which is due: a case dispatched to a role, two events
  (received, dispatched with its escalation chain), its next due instant somewhere in the
  coming month;
* then `--due` cases whose first contact ran out, each a copy of one real case (intake, the
  model's suggestion, a review, the dispatch) with its whole log, due now.

and times `run_sla_pass`: with nothing due (the goal: under a second at 1,000,000 open
cases), then with the due cases (the goal: all of them in one pass, at 1,000 cases a
second or more), and checks that every due case was escalated once. Prints the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from triage.case import service
from triage.case.models import Case, CaseEvent
from triage.case.worker import run_sla_pass
from triage.classify import registry
from triage.db import all_tables, init_db, make_engine
from triage.policy.calendar import TZ
from triage.policy.loader import load_policy

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
NOW = T0 + timedelta(hours=3)
"""The pass's instant: the template case, dispatched at T0 + 10 min, missed its 2-hour first contact."""


def reset(engine: Engine) -> None:
    all_tables().drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def seed_open(engine: Engine, n: int) -> None:
    """`n` dispatched cases, each due at some minute of the coming month, in three statements."""
    labels = '{"business_line": "after_sales", "category": "service", "severity": "complaint", "flags": []}'
    dispatched = '{"to": "service_manager", "routing": {"escalation": ["service_director", "general_manager"]}}'
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO cases (number, channel, received_at, text, state, labels, suggestion, responsible_role, "
            "version, next_due_at) "
            "SELECT 'B-' || i, 'phone', :t0 - make_interval(mins => i % 40000), '发动机异响，希望尽快处理', "
            "'in_progress', CAST(:labels AS JSON), CAST(:suggestion AS JSON), 'service_manager', 1, "
            ":now + make_interval(mins => 1 + i % 43200) FROM generate_series(1, :n) AS i"),
            {"t0": T0, "now": NOW, "n": n, "labels": labels, "suggestion": '{"labels": ' + labels + "}"})
        conn.execute(text("INSERT INTO case_events (case_id, kind, at, actor, data) "
                          "SELECT id, 'received', received_at, 'care', CAST('{}' AS JSON) FROM cases"))
        conn.execute(text("INSERT INTO case_events (case_id, kind, at, actor, data) "
                          "SELECT id, 'dispatched', received_at, 'care', CAST(:data AS JSON) FROM cases"),
                     {"data": dispatched})


def template_case(engine: Engine) -> int:
    """One real case through the service: intake, the model's suggestion, review, dispatch."""
    policy, model = load_policy(), registry.load()
    with Session(engine) as s:
        request = service.IntakeRequest("phone", "发动机异响，希望尽快处理", T0, "TEMPLATE")
        case, _ = service.intake_and_suggest(db_session=s, request=request, model=model, policy=policy, actor="care",
                                             now=T0)
        service.review(db_session=s, case_id=case.id, reviewer="care", policy=policy, now=T0 + timedelta(minutes=10),
                       corrections={"business_line": "after_sales", "category": "product_quality",
                                    "severity": "grumble", "flags": []})
        s.commit()
        return case.id


def seed_due(engine: Engine, template: int, n: int) -> None:
    """`n - 1` copies of the template case, with its whole log: `n` cases due now."""
    columns = [c.name for c in Case.__table__.columns if c.name not in ("id", "number", "external_id")]
    with engine.begin() as conn:
        conn.execute(text(
            f"INSERT INTO cases (number, {', '.join(columns)}) "
            f"SELECT 'D-' || i, {', '.join('c.' + c for c in columns)} FROM cases c, generate_series(1, :n) AS i "
            "WHERE c.id = :id"), {"id": template, "n": n - 1})
        conn.execute(text(
            "INSERT INTO case_events (case_id, kind, at, actor, data) "
            "SELECT c.id, e.kind, e.at, e.actor, e.data FROM cases c JOIN case_events e ON e.case_id = :id "
            "WHERE c.number LIKE 'D-%' ORDER BY c.id, e.id"), {"id": template})


def analyze(engine: Engine) -> None:
    """What autovacuum does on a live database after a bulk load: statistics for the planner,
    and the new rows' visibility settled, as for cases written hours or days before they
    come due (otherwise the pass's first read of each fresh row pays for it)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE cases")
        conn.exec_driver_sql("VACUUM ANALYZE case_events")


def timed_pass(engine: Engine, now: datetime) -> tuple[float, list[dict]]:
    policy = load_policy()
    with Session(engine) as s:
        t = time.perf_counter()
        done = run_sla_pass(db_session=s, policy=policy, now=now)
        s.commit()
        return time.perf_counter() - t, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL database whose tables may be dropped")
    parser.add_argument("--open", type=int, default=1_000_000, help="open cases not due (default 1,000,000)")
    parser.add_argument("--due", type=int, default=10_000, help="cases due now (default 10,000)")
    parser.add_argument("--repeat", type=int, default=5, help="passes timed with nothing due")
    parser.add_argument("--keep", action="store_true", help="leave the tables (and data) in place")
    args = parser.parse_args()

    engine = make_engine(args.db)
    if engine.dialect.name != "postgresql":
        parser.error("the bench seeds with PostgreSQL's generate_series: give a PostgreSQL URL")
    reset(engine)
    init_db(engine)
    try:
        t = time.perf_counter()
        seed_open(engine, args.open)
        analyze(engine)
        print(f"seeded {args.open:,} open cases, none due, in {time.perf_counter() - t:.1f} s")
        idle = [timed_pass(engine, NOW)[0] * 1000 for _ in range(args.repeat)]
        print(f"pass with {args.open:,} open cases, none due: median {statistics.median(idle):.1f} ms, "
              f"max {max(idle):.1f} ms over {args.repeat} passes")

        t = time.perf_counter()
        seed_due(engine, template_case(engine), args.due)
        analyze(engine)
        print(f"seeded {args.due:,} due cases (copies of a real one, whole log) in {time.perf_counter() - t:.1f} s")
        took, done = timed_pass(engine, NOW)
        cases = {d["case"] for d in done}
        print(f"pass with {args.due:,} due among {args.open + args.due:,} open: {len(cases):,} cases checked, "
              f"{len(done):,} actions, {took:.2f} s, {len(cases) / took:,.0f} cases/s")
        with Session(engine) as s:
            escalated = s.scalar(select(func.count(func.distinct(CaseEvent.case_id)))
                                 .where(CaseEvent.kind == "escalated")) or 0
        print(f"cases escalated once: {escalated:,} of {args.due:,}")
        again = timed_pass(engine, NOW + timedelta(minutes=1))[0] * 1000
        print(f"next pass, nothing due any more: {again:.1f} ms")
    finally:
        if not args.keep:
            reset(engine)
        engine.dispose()


if __name__ == "__main__":
    main()
