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
from sqlalchemy import JSON, Connection, DateTime, Engine, MetaData, TypeDecorator, create_engine, event
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
    from triage.notify import models as _notify  # noqa: F401

    return Base.metadata


def database_url() -> str:
    return os.environ.get("TRIAGE_DB_URL", DEFAULT_URL)


SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another to finish before giving up: far longer than any
transaction of the service takes, so that concurrent staff queue instead of failing."""


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    return engine


def _sqlite_transactions(engine: Engine) -> None:
    """SQLite with the transactions the service relies on: a write transaction (and every
    savepoint in it) is one real transaction that commits or rolls back whole, writers queue
    instead of failing, and readers never wait.

    pysqlite left to itself emits BEGIN only before an INSERT/UPDATE/DELETE: a SAVEPOINT
    opened first becomes the transaction itself, so releasing it commits, and a later
    rollback of the unit of work cannot undo it. Here the driver's transaction handling is
    off, and a transaction begins before the first statement that is not a SELECT (the
    SAVEPOINT included).

    It begins IMMEDIATE, taking the write lock at once. A deferred transaction that read
    and then writes has to upgrade its lock, and if another writer holds it or committed
    meanwhile SQLite answers "database is locked" at once, without waiting (it cannot wait:
    the other writer may be waiting for it). Writers taking the lock up front wait in line
    for `busy_timeout` instead. Reads before the first write run outside the transaction,
    each seeing the latest commit (PostgreSQL's READ COMMITTED, which the services are
    written for: concurrent changes are caught by versions and unique constraints); a unit
    that decides what to write from what it read takes the lock first (`write_lock`). WAL
    lets readers go on during a write.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_before_writing(connection: Connection, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:6].upper() != "SELECT":
            _begin_immediate(connection)


def _begin_immediate(connection: Connection) -> None:
    """Begin the SQLite transaction of `connection`, write lock taken, unless it has begun
    (or the connection was asked to autocommit)."""
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is None or dbapi_connection.in_transaction:
        return
    # SQLAlchemy gives a connection back from AUTOCOMMIT by re-enabling the driver's own handling.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("BEGIN IMMEDIATE")


def write_lock(db_session: Session) -> None:
    """Take the database's write lock now, before reading, for a unit that decides what to
    write from what it reads without a version to check (the SLA worker, the migrations):
    on SQLite the transaction begins IMMEDIATE now; on PostgreSQL nothing happens (the rows
    it works on are locked with SELECT ... FOR UPDATE)."""
    connection = db_session.connection()
    if connection.dialect.name == "sqlite":
        _begin_immediate(connection)


MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def init_db(engine: Engine) -> None:
    """Bring the schema to the latest migration (creating it on an empty database)."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":  # two processes starting at once: one migrates, the other waits
            _begin_immediate(connection)
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
