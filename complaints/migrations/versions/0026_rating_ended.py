"""When a closed case's rating period ended (issue 14): the scheduler finishes it once.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("rating_ended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, as 0017 and 0020: a batch copy of `complaints` is refused by the foreign keys.
        op.execute("ALTER TABLE complaints DROP COLUMN rating_ended_at")
    else:
        op.drop_column("complaints", "rating_ended_at")
