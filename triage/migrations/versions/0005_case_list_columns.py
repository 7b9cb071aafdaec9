"""case list columns: labels, urgency, queue deadline, focus owner, breached; case_flags, case_clocks

What lists, the review queue and reports filter, sort and group by, out of the JSON of
`suggestion` and `labels` into indexed columns, and filled from the existing rows: in
batches of cases, so that the memory it takes does not grow with the table.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-30 10:00:00
"""
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from triage.db import AwareDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BATCH = 1000
LIST_COLUMNS = ("state", "channel", "responsible_role", "severity", "assignee", "breached")
REPORT_COLUMNS = ["received_at", "business_line", "category", "severity", "responsible_role", "channel", "state", "id",
                  "vin", "plate", "number", "focus_owner"]

cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("received_at", AwareDateTime()),
                 sa.column("labels", sa.JSON), sa.column("suggestion", sa.JSON),
                 sa.column("business_line", sa.String), sa.column("category", sa.String),
                 sa.column("severity", sa.String), sa.column("urgent", sa.Boolean),
                 sa.column("queue_deadline", AwareDateTime()), sa.column("focus_owner", sa.String),
                 sa.column("breached", sa.Boolean))
events = sa.table("case_events", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
                  sa.column("kind", sa.String), sa.column("data", sa.JSON))


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on every backend: a batch would copy the table on SQLite, which
    # its foreign keys refuse once cases have events.
    op.add_column('cases', sa.Column('business_line', sa.String(length=40), nullable=True))
    op.add_column('cases', sa.Column('category', sa.String(length=40), nullable=True))
    op.add_column('cases', sa.Column('severity', sa.String(length=20), nullable=True))
    op.add_column('cases', sa.Column('urgent', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('cases', sa.Column('queue_deadline', sa.DateTime(timezone=True), nullable=True))
    op.add_column('cases', sa.Column('focus_owner', sa.String(length=60), nullable=True))
    op.add_column('cases', sa.Column('breached', sa.Boolean(), server_default=sa.false(), nullable=False))
    flags = op.create_table('case_flags',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('flag', sa.String(length=20), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'flag')
    )
    clocks = op.create_table('case_clocks',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('clock', sa.String(length=40), nullable=False),
    sa.Column('breached', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'clock')
    )
    _backfill(op.get_bind(), flags, clocks)
    # The indexes after the rows: building one is faster than keeping it current row by row.
    op.drop_index('ix_cases_assignee', table_name='cases')
    op.create_index('ix_cases_received', 'cases', ['received_at', 'id'], unique=False)
    for column in LIST_COLUMNS:
        op.create_index(f'ix_cases_{column}_received', 'cases', [column, 'received_at', 'id'], unique=False)
    op.create_index('ix_cases_queue', 'cases', ['state', 'urgent', 'queue_deadline', 'id'], unique=False)
    op.create_index('ix_cases_report', 'cases', REPORT_COLUMNS, unique=False)
    op.create_index('ix_cases_vin', 'cases', ['vin'], unique=False)
    op.create_index('ix_cases_plate', 'cases', ['plate'], unique=False)
    op.create_index('ix_case_flags_flag', 'case_flags', ['flag', 'case_id'], unique=False)
    op.create_index('ix_case_flags_received', 'case_flags', ['received_at', 'flag', 'case_id'], unique=False)
    op.create_index('ix_case_clocks_received', 'case_clocks', ['received_at', 'clock', 'breached'], unique=False)


def _backfill(conn: sa.Connection, flags: sa.Table, clocks: sa.Table) -> None:
    conn.execute(cases.update().where(sa.exists().where(events.c.case_id == cases.c.id, events.c.kind == "sla_breach"))
                 .values(breached=True))
    update = cases.update().where(cases.c.id == sa.bindparam("case_id")).values(
        {c: sa.bindparam(c) for c in ("business_line", "category", "severity", "urgent", "queue_deadline",
                                      "focus_owner")})
    for rows in _batches(conn):
        lo, hi = rows[0].id, rows[-1].id
        breaches: dict[int, set[str]] = {}
        for case_id, data in conn.execute(sa.select(events.c.case_id, events.c.data).where(
                events.c.case_id.between(lo, hi), events.c.kind == "sla_breach")):
            breaches.setdefault(case_id, set()).add((data or {}).get("clock"))
        updates, flag_rows, clock_rows = [], [], []
        for case_id, received_at, labels, suggestion in rows:
            values = _columns(labels, suggestion)
            updates.append({"case_id": case_id, **{k: v for k, v in values.items() if k not in ("flags", "clocks")}})
            flag_rows += [{"case_id": case_id, "flag": f, "received_at": received_at} for f in values["flags"]]
            breached = {c for c in breaches.get(case_id, ()) if c}
            clock_rows += [{"case_id": case_id, "clock": c, "breached": c in breached, "received_at": received_at}
                           for c in sorted(set(values["clocks"]) | breached)]
        conn.execute(update, updates)
        if flag_rows:
            conn.execute(flags.insert(), flag_rows)
        if clock_rows:
            conn.execute(clocks.insert(), clock_rows)


def _batches(conn: sa.Connection) -> Iterator[list[Any]]:
    last = 0
    while True:
        rows = conn.execute(sa.select(cases.c.id, cases.c.received_at, cases.c.labels, cases.c.suggestion)
                            .where(cases.c.id > last)
                            .order_by(cases.c.id).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


# As triage.case.models.label_columns stood when the columns were added: a migration must go on
# doing what it did when the code changes later (and triage.migrations imports only triage.db).
_URGENT_FLAGS = {"safety", "media"}


def _columns(labels: dict[str, Any] | None, suggestion: dict[str, Any] | None) -> dict[str, Any]:
    current = labels or (suggestion or {}).get("labels") or {}
    routing = (suggestion or {}).get("routing") or {}
    deadlines = [datetime.fromisoformat(c["deadline"]) for c in routing.get("clocks", []) if c.get("deadline")]
    return {"business_line": current.get("business_line"), "category": current.get("category"),
            "severity": current.get("severity"),
            "urgent": current.get("severity") == "major" or bool(_URGENT_FLAGS & set(current.get("flags") or ())),
            "flags": sorted(set(current.get("flags") or [])), "queue_deadline": min(deadlines, default=None),
            "focus_owner": routing.get("focus_owner") if routing.get("focus_vehicle") else None,
            "clocks": sorted({c["id"] for c in routing.get("clocks", [])
                              if c.get("starts_on") in ("received", "dispatched")})}


def downgrade() -> None:
    op.drop_index('ix_case_clocks_received', table_name='case_clocks')
    op.drop_index('ix_case_flags_received', table_name='case_flags')
    op.drop_index('ix_case_flags_flag', table_name='case_flags')
    op.drop_index('ix_cases_plate', table_name='cases')
    op.drop_index('ix_cases_vin', table_name='cases')
    op.drop_index('ix_cases_report', table_name='cases')
    op.drop_table('case_clocks')
    op.drop_table('case_flags')
    op.drop_index('ix_cases_queue', table_name='cases')
    for column in reversed(LIST_COLUMNS):
        op.drop_index(f'ix_cases_{column}_received', table_name='cases')
    op.drop_index('ix_cases_received', table_name='cases')
    op.create_index('ix_cases_assignee', 'cases', ['assignee'], unique=False)
    for column in ('breached', 'focus_owner', 'queue_deadline', 'urgent', 'severity', 'category', 'business_line'):
        op.drop_column('cases', column)
