"""handling record: case_records (issue 14)

One row a case: the handler's investigation, reply, handling opinion and corrective measure,
the cause, the responsibility class with the responsible department and person, valid or
invalid, the manager's review, and the customer's satisfaction and words at the callback.
The report's breakdowns read ix_case_records_report alone; its repeated complaints find their
long-term measures through ix_case_records_long_term (partial: the few records that hold one).
Cases resolved before this revision have no record: their steps' log entries hold no fields to
fill it from.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01 12:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_records',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('investigation', sa.Text(), nullable=True),
        sa.Column('reply', sa.Text(), nullable=True),
        sa.Column('handling_opinion', sa.Text(), nullable=True),
        sa.Column('corrective_action', sa.Text(), nullable=True),
        sa.Column('cause', sa.String(length=40), nullable=True),
        sa.Column('evidence', sa.Text(), nullable=True),
        sa.Column('responsibility_class', sa.String(length=40), nullable=True),
        sa.Column('responsible_department', sa.String(length=60), nullable=True),
        sa.Column('responsible_person', sa.String(length=100), nullable=True),
        sa.Column('valid', sa.Boolean(), nullable=True),
        sa.Column('invalid_reason', sa.Text(), nullable=True),
        sa.Column('approved', sa.Boolean(), nullable=True),
        sa.Column('review_opinion', sa.Text(), nullable=True),
        sa.Column('reviewed_by', sa.String(length=100), nullable=True),
        sa.Column('long_term_measure', sa.Text(), nullable=True),
        sa.Column('satisfaction', sa.String(length=40), nullable=True),
        sa.Column('customer_words', sa.Text(), nullable=True),
        sa.Column('called_back_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('case_id'),
    )
    op.create_index('ix_case_records_report', 'case_records',
                    ['received_at', 'valid', 'cause', 'responsibility_class', 'responsible_department',
                     'satisfaction'], unique=False)
    decided = sa.text("long_term_measure IS NOT NULL")
    op.create_index('ix_case_records_long_term', 'case_records', ['received_at', 'case_id'], unique=False,
                    postgresql_where=decided, sqlite_where=decided)


def downgrade() -> None:
    op.drop_index('ix_case_records_long_term', table_name='case_records')
    op.drop_index('ix_case_records_report', table_name='case_records')
    op.drop_table('case_records')
