"""When a case's class deadline was escalated (issue 14): the scheduler escalates it once.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("class_escalated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite 3.35+), as 0017 and 0020: a batch copy of `complaints` is refused by the
        # foreign keys once cases are stored.
        op.execute("ALTER TABLE complaints DROP COLUMN class_escalated_at")
    else:
        op.drop_column("complaints", "class_escalated_at")
