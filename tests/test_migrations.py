"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Integer, column, insert, inspect, select, table
from sqlalchemy.orm import Session

from triage.case.models import Case, CaseEvent
from triage.db import AwareDateTime, alembic_config, all_tables, init_db
from triage.policy.calendar import TZ

from .conftest import drop_all


def test_migrations_match_the_models(engine):
    drop_all(engine)
    init_db(engine)
    init_db(engine)  # running them again changes nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), all_tables())
    assert diff == []
    tables = set(inspect(engine).get_table_names())
    assert {"cases", "case_events", "case_serials", "api_tokens", "accounts", "web_sessions", "bulk_jobs",
            "alembic_version"} <= tables


def upgrade(engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_cases_from_before_next_due_are_checked_once_by_the_worker(engine):
    """Open cases written before next_due_at existed are made due by the migration; the
    worker's first pass evaluates each once and stores its real next instant."""
    from triage.case.worker import run_sla_pass
    from triage.policy.loader import load_policy

    received = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
    drop_all(engine)
    upgrade(engine, "0003")
    # The cases table as it stood at 0003 (the model's own has columns added since).
    cases = table("cases", column("id", Integer), column("number"), column("channel"),
                  column("received_at", AwareDateTime()), column("text"), column("state"), column("version"))
    with engine.begin() as conn:
        for number, state in (("2026-11-000001", "received"), ("2026-11-000002", "closed")):
            row = insert(cases).values(number=number, channel="phone", received_at=received, text="发动机异响",
                                       state=state, version=1)
            case_id = conn.execute(row.returning(cases.c.id)).scalar_one()
            conn.execute(insert(CaseEvent.__table__).values(case_id=case_id, kind="received", at=received,
                                                            actor="care", data={}))
    upgrade(engine, "head")
    with Session(engine) as s:
        assert {n: d for n, d in s.execute(select(Case.number, Case.next_due_at))} == {"2026-11-000001": received,
                                                                          "2026-11-000002": None}
        now = received + timedelta(minutes=5)
        run_sla_pass(db_session=s, policy=load_policy(), now=now)
        assert s.scalar(select(Case.next_due_at).where(Case.number == "2026-11-000001")) > now


def downgrade(engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_the_handling_record_migrates_up_and_down(engine):
    """0009 adds case_records beside the cases already there, and takes it away again."""
    from alembic.script import ScriptDirectory

    # The revision before it, whatever the chain is re-ordered to at a merge.
    before = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_revision("0009").down_revision
    drop_all(engine)
    upgrade(engine, before)
    assert "case_records" not in inspect(engine).get_table_names()
    upgrade(engine, "head")
    assert "case_records" in inspect(engine).get_table_names()
    assert {i["name"] for i in inspect(engine).get_indexes("case_records")} == {
        "ix_case_records_report", "ix_case_records_long_term", "ix_case_records_measures"}
    # 0011 adds the measures' index alone, and takes it away alone.
    downgrade(engine, "0010")
    assert {i["name"] for i in inspect(engine).get_indexes("case_records")} == {"ix_case_records_report",
                                                                             "ix_case_records_long_term"}
    downgrade(engine, before)
    assert "case_records" not in inspect(engine).get_table_names()
    upgrade(engine, "head")
    # 0012 adds the open cases' index by assignee alone, and takes it away alone.
    assert "ix_cases_open_assignee" in {i["name"] for i in inspect(engine).get_indexes("cases")}
    downgrade(engine, "0011")
    cases_indexes = {i["name"] for i in inspect(engine).get_indexes("cases")}
    assert "ix_cases_open_assignee" not in cases_indexes and "ix_cases_assignee_received" in cases_indexes
    upgrade(engine, "head")
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), all_tables()) == []
