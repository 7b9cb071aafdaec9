"""The database: SQLite file by default (the embedded set-up), PostgreSQL in production,
chosen by TRIAGE_DB_URL. The declarative base and the column types every domain's tables
share live here; each domain declares its own tables in its `models.py`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from alembic import command
from alembic.config import Config
from sqlalchemy import JSON, DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session

DEFAULT_URL = "sqlite:///triage.db"


class AwareDateTime(TypeDecorator[datetime]):
    """Timezone-aware on the way in and out, on every backend: SQLite keeps no zone, so
    instants are stored in UTC and come back as UTC-aware datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every instant must carry a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


def all_tables() -> MetaData:
    """Every table of the service (for migrations and tests): each domain's tables join the
    metadata when its models module is imported."""
    from triage.auth import models as _auth  # noqa: F401
    from triage.bulk import models as _bulk  # noqa: F401
    from triage.case import models as _case  # noqa: F401

    return Base.metadata


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
