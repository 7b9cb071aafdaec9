"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from triage.db import all_tables, init_db

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
