"""case assignee

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:45:33.281673
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee', sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_assignee'), ['assignee'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_assignee'))
        batch_op.drop_column('assignee')


