"""Index complaints for the staff inbox: waiting statuses in deadline order, per OPD too.

The inbox asks for "these statuses (of this OPD), nearest step deadline first, then oldest,
51 rows": these indexes let both databases read the rows in that order instead of sorting every
waiting case.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_status_deadline", ["status", "step_deadline_at", "created_at"])
        batch_op.create_index("ix_complaints_opd_status_deadline", ["opd_code", "status", "step_deadline_at"])


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_opd_status_deadline")
        batch_op.drop_index("ix_complaints_status_deadline")
