"""Overdue SOP steps by step and OPD without a full-table scan (issue 9, /metrics).

Prometheus asks for the overdue count every scrape; this index lets the database read only the
cases past their deadline (a range on ``step_deadline_at``) and group them from the index alone.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_complaints_deadline_step_opd", "complaints", ["step_deadline_at", "step", "opd_code"])


def downgrade() -> None:
    op.drop_index("ix_complaints_deadline_step_opd", table_name="complaints")
