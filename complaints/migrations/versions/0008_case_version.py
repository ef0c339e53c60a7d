"""A version number on every case, for optimistic concurrency between staff (issue 8).

Every status change raises ``complaints.version`` in an ``UPDATE ... WHERE version = :read``;
of two people acting on one case at once, the second finds the version moved on and is told the
case changed instead of silently undoing the first one's move. Existing cases start at 1.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("version")
