"""The database: SQLite file by default (the embedded set-up), PostgreSQL in production,
chosen by TRIAGE_DB_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session

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


MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def init_db(engine: Engine) -> None:
    """Bring the schema to the latest migration (creating it on an empty database)."""
    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session that commits when its user is done and rolls back if that raises: nothing
    is half-written. The API and the console use it as their per-request dependency."""
    with Session(engine) as s:
        try:
            yield s
            s.commit()
        except Exception:
            s.rollback()
            raise


def open_session(url: str | None = None) -> Session:
    """A session on the database at `url` (default $TRIAGE_DB_URL), its schema brought up to
    date first: what each command of the command line starts with."""
    engine = make_engine(url)
    init_db(engine)
    return Session(engine)
