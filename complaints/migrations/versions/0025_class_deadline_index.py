"""Indexes for the class deadline (issue 14): the report's range and the scheduler's pass.

``ix_complaints_class_deadline`` answers "deadlines that fell due in the period" of /ops/reports
(complaints/class_report.py) without reading every case. ``ix_complaints_class_to_escalate`` holds
only open, unmerged cases not yet escalated, so the scheduler's pass each minute
(complaints/class_escalation.py) reads a handful of entries, not every deadline ever passed.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_TO_ESCALATE = sa.text("class_escalated_at IS NULL AND closed_at IS NULL AND merged_into_id IS NULL")


def upgrade() -> None:
    op.create_index("ix_complaints_class_deadline", "complaints", ["class_deadline_at"])
    op.create_index(
        "ix_complaints_class_to_escalate",
        "complaints",
        ["class_deadline_at"],
        sqlite_where=_TO_ESCALATE,
        postgresql_where=_TO_ESCALATE,
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_class_to_escalate", table_name="complaints")
    op.drop_index("ix_complaints_class_deadline", table_name="complaints")
