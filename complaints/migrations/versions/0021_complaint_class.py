"""A case's complaint class and its overall deadline in working days (issue 14, config/complaint_classes.yaml).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("complaint_class", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("class_deadline_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite 3.35+), as 0017 and 0020: a batch copy of `complaints` is refused by the
        # foreign keys once cases are stored.
        op.execute("ALTER TABLE complaints DROP COLUMN class_deadline_at")
        op.execute("ALTER TABLE complaints DROP COLUMN complaint_class")
    else:
        op.drop_column("complaints", "class_deadline_at")
        op.drop_column("complaints", "complaint_class")
