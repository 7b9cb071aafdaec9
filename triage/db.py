"""The database: SQLite file by default (the embedded set-up), PostgreSQL in production,
chosen by TRIAGE_DB_URL."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event

DEFAULT_URL = "sqlite:///triage.db"


def database_url() -> str:
    return os.environ.get("TRIAGE_DB_URL", DEFAULT_URL)


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    engine = create_engine(url, future=True)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            # Foreign keys on, and a writer waits for another instead of failing at once.
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
    return engine


def init_db(engine: Engine) -> None:
    """Create the tables that do not exist yet."""
    from triage.case.models import Base

    Base.metadata.create_all(engine)
