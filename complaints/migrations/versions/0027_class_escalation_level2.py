"""When a passed class deadline was escalated to the operator supervisor (issue 14): level 2, once a case.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("class_escalated2_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, as 0026: a batch copy of `complaints` is refused by the foreign keys.
        op.execute("ALTER TABLE complaints DROP COLUMN class_escalated2_at")
    else:
        op.drop_column("complaints", "class_escalated2_at")
