"""case events by kind and time: a month's reviews for the suggestions' online accuracy

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-30 16:00:00
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_case_events_kind_at', 'case_events', ['kind', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_events_kind_at', table_name='case_events')
