"""The overdue index covers ``deadline_clock`` too (issue 10 review).

/metrics, /ops/status and the inbox's "overdue" filter count a case late only when its deadline
names its clock (complaints.deadlines.overdue: a deadline of the old wall-clock rule is not
trusted until recomputed). With the column in ``ix_complaints_deadline_step_opd`` the overdue
gauge is still answered from the index alone, as migration 0015 made it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_NAME = "ix_complaints_deadline_step_opd"


def upgrade() -> None:
    op.drop_index(_NAME, table_name="complaints")
    op.create_index(_NAME, "complaints", ["step_deadline_at", "step", "opd_code", "deadline_clock"])


def downgrade() -> None:
    op.drop_index(_NAME, table_name="complaints")
    op.create_index(_NAME, "complaints", ["step_deadline_at", "step", "opd_code"])
