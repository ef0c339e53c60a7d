"""Which clock a case's step deadline was computed on (issue 10 review): ``working`` or ``wall``.

Cases opened before the working-hours clock keep deadlines of the old wall-clock rule; left
alone, the first escalation pass would mail about cases that are not late. Their
``deadline_clock`` stays NULL ("not yet recomputed"): the escalation skips them until
complaints/deadlines.py has recomputed their current step on the working clock (the scheduler
does it before escalating, ``intake sla recompute`` by hand). Every deadline set from now on
names its clock, which also tells the console, the digest and the overdue counts how to count a
step that sop.yaml marks ``wall`` but an operator was handed (AUTO_DISPOSE=false).

The partial index holds only the open rows still to recompute, so the scheduler's look-up for
them costs nothing once they are done.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_TO_RECOMPUTE = sa.text("deadline_clock IS NULL AND step_deadline_at IS NOT NULL AND closed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("deadline_clock", sa.String(8), nullable=True))
    op.create_index(
        "ix_complaints_deadline_legacy",
        "complaints",
        ["id"],
        sqlite_where=_TO_RECOMPUTE,
        postgresql_where=_TO_RECOMPUTE,
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_deadline_legacy", table_name="complaints")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35 and later) drops the column in place; a batch copy of the table would drop
        # `complaints`, which the foreign keys of history and the other tables refuse.
        op.execute("ALTER TABLE complaints DROP COLUMN deadline_clock")
    else:
        op.drop_column("complaints", "deadline_clock")
