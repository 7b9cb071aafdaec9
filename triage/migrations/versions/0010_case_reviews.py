"""case reviews: what each review did with the suggestion, for its online accuracy (issue 13)

One row a reviewed case: the model version, the suggested label per head and whether it was
kept. The dashboard counted these out of the JSON of every `reviewed` event in the period,
which took most of a second at a year's volume; ix_case_reviews_at holds all it counts.
Filled from the review events already there, in batches: a review logged before the event
recorded `suggested` and `kept` takes the suggested labels from the case's suggestion and
counts a head as kept when it has no correction.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 19:00:00
"""
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from triage.db import AwareDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 2000
# The heads as they stood when the table was added: a migration must go on doing what it did.
HEADS = ("business_line", "category", "severity")

cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("suggestion", sa.JSON))
events = sa.table("case_events", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
                  sa.column("kind", sa.String), sa.column("at", AwareDateTime()), sa.column("data", sa.JSON))


def upgrade() -> None:
    reviews = op.create_table(
        'case_reviews',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('model', sa.String(length=80), server_default='', nullable=False),
        sa.Column('suggested_business_line', sa.String(length=40), nullable=True),
        sa.Column('suggested_category', sa.String(length=40), nullable=True),
        sa.Column('suggested_severity', sa.String(length=20), nullable=True),
        sa.Column('kept_business_line', sa.Boolean(), nullable=False),
        sa.Column('kept_category', sa.Boolean(), nullable=False),
        sa.Column('kept_severity', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('case_id'),
    )
    conn = op.get_bind()
    for rows in _batches(conn):
        conn.execute(reviews.insert(), [_row(*r) for r in rows])
    # The index after the rows: building one is faster than keeping it current row by row.
    op.create_index('ix_case_reviews_at', 'case_reviews',
                    ['at', 'model', *(f'suggested_{h}' for h in HEADS), *(f'kept_{h}' for h in HEADS)], unique=False)


def _batches(conn: sa.Connection) -> Iterator[list[Any]]:
    """The reviewed cases in order of id, each with its latest review event."""
    last = 0
    while True:
        ids = conn.execute(sa.select(events.c.case_id).where(events.c.kind == "reviewed", events.c.case_id > last)
                           .group_by(events.c.case_id).order_by(events.c.case_id).limit(BATCH)).scalars().all()
        if not ids:
            return
        latest = {}
        for case_id, at, data, suggestion in conn.execute(
                sa.select(events.c.case_id, events.c.at, events.c.data, cases.c.suggestion)
                .join(cases, cases.c.id == events.c.case_id)
                .where(events.c.kind == "reviewed", events.c.case_id.between(ids[0], ids[-1]))
                .order_by(events.c.case_id, events.c.id)):
            latest[case_id] = (case_id, at, data, suggestion)
        yield list(latest.values())
        last = ids[-1]


def _row(case_id: int, at: Any, data: dict[str, Any] | None, suggestion: dict[str, Any] | None) -> dict[str, Any]:
    data = data or {}
    suggested = data.get("suggested") or ((suggestion or {}).get("labels") or {})
    kept = data.get("kept") or {h: h not in (data.get("corrections") or {}) for h in HEADS}
    return {"case_id": case_id, "at": at, "model": data.get("model") or (suggestion or {}).get("model") or "",
            **{f"suggested_{h}": suggested.get(h) for h in HEADS}, **{f"kept_{h}": bool(kept.get(h)) for h in HEADS}}


def downgrade() -> None:
    op.drop_index('ix_case_reviews_at', table_name='case_reviews')
    op.drop_table('case_reviews')
