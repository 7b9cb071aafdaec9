"""case next_due_at: the SLA worker reads only the cases due

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_next_due_at'), ['next_due_at'], unique=False)
    # Backfill: the due instants depend on the policy and the calendar the worker runs with,
    # which a migration does not know; so every open case is made due now (its received_at is
    # in the past), and the worker's next pass evaluates each one once and stores its real
    # next instant.
    op.execute("UPDATE cases SET next_due_at = received_at WHERE state <> 'closed'")


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_next_due_at'))
        batch_op.drop_column('next_due_at')
