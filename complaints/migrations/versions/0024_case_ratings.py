"""The citizen's rating of an answer and the reopen count (issue 14, close the loop).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "case_ratings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("complaint_id", sa.String(32), sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("satisfied", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("via", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("opd_code", sa.String(40), nullable=True),
    )
    op.create_index("ix_case_ratings_complaint", "case_ratings", ["complaint_id", "id"])
    op.create_index("ix_case_ratings_at", "case_ratings", ["at"])


def downgrade() -> None:
    op.drop_index("ix_case_ratings_at", table_name="case_ratings")
    op.drop_index("ix_case_ratings_complaint", table_name="case_ratings")
    op.drop_table("case_ratings")
    if op.get_bind().dialect.name == "sqlite":
        # In place, as 0017 and 0020: a batch copy of `complaints` is refused by the foreign keys.
        op.execute("ALTER TABLE complaints DROP COLUMN reopen_count")
    else:
        op.drop_column("complaints", "reopen_count")
