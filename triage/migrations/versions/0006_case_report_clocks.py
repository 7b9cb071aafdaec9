"""case report clocks: planned_clocks and breached_clocks; narrower report indexes

A report counted a period's SLA compliance over case_clocks, four or five rows per case, in a
statement of its own. Each case now carries its clocks in two columns that the report groups
its cases by: planned_clocks (the case service's) and breached_clocks (the SLA worker's). They
are filled from case_clocks, in batches of cases: every counted clock as planned (a breached
clock that was not planned counts all the same, as it is in breached_clocks too).

The report's index drops the vehicle and number columns for the clocks; the trend and the
repeated complaints read a narrow index of their own (ix_cases_vehicles); the focus list reads
the open cases through ix_cases_state_received.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 12:00:00
"""
import json
from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BATCH = 1000
OLD_REPORT_COLUMNS = ["received_at", "business_line", "category", "severity", "responsible_role", "channel", "state",
                      "id", "vin", "plate", "number", "focus_owner"]
REPORT_COLUMNS = ["received_at", "business_line", "category", "severity", "responsible_role", "channel", "state",
                  "planned_clocks", "breached_clocks", "id"]
VEHICLE_COLUMNS = ["received_at", "category", "severity", "vin", "plate", "number", "id"]

cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("planned_clocks", sa.Text),
                 sa.column("breached_clocks", sa.Text))
clocks = sa.table("case_clocks", sa.column("case_id", sa.Integer), sa.column("clock", sa.String),
                  sa.column("breached", sa.Boolean))


def upgrade() -> None:
    op.add_column('cases', sa.Column('planned_clocks', sa.Text(), nullable=True))
    op.add_column('cases', sa.Column('breached_clocks', sa.Text(), nullable=True))
    _backfill(op.get_bind())
    op.drop_index('ix_cases_report', table_name='cases')
    op.create_index('ix_cases_report', 'cases', REPORT_COLUMNS, unique=False)
    op.create_index('ix_cases_vehicles', 'cases', VEHICLE_COLUMNS, unique=False)


def _backfill(conn: sa.Connection) -> None:
    update = cases.update().where(cases.c.id == sa.bindparam("case_id")).values(
        planned_clocks=sa.bindparam("planned"), breached_clocks=sa.bindparam("late"))
    last = 0
    while True:
        # A batch of cases that have clocks, then all their clocks.
        ids = list(conn.scalars(sa.select(clocks.c.case_id).where(clocks.c.case_id > last).group_by(clocks.c.case_id)
                                .order_by(clocks.c.case_id).limit(BATCH)))
        if not ids:
            return
        found: dict[int, dict[str, bool]] = {case_id: {} for case_id in ids}
        for case_id, clock, breached in conn.execute(sa.select(clocks.c.case_id, clocks.c.clock, clocks.c.breached)
                                                     .where(clocks.c.case_id.between(ids[0], ids[-1]))):
            found[case_id][clock] = bool(breached)
        conn.execute(update, [{"case_id": case_id, "planned": _clock_list(c),
                               "late": _clock_list(k for k, late in c.items() if late)}
                              for case_id, c in found.items()])
        last = ids[-1]


# As triage.case.models.clock_list stood when the columns were added: a migration must go on doing
# what it did when the code changes later (and triage.migrations imports only triage.db).
def _clock_list(found: Iterable[str]) -> str | None:
    ordered = sorted(set(found))
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":")) if ordered else None


def downgrade() -> None:
    op.drop_index('ix_cases_vehicles', table_name='cases')
    op.drop_index('ix_cases_report', table_name='cases')
    op.create_index('ix_cases_report', 'cases', OLD_REPORT_COLUMNS, unique=False)
    op.drop_column('cases', 'breached_clocks')
    op.drop_column('cases', 'planned_clocks')
