"""Confidential and anonymous reports (issue 14): ``rahasia`` and ``anonim`` flags on complaints.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_COLUMNS = ("rahasia", "anonim")


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: a batch copy of `complaints` on SQLite is refused by the
    # foreign keys of history and the other tables once cases are stored (as in 0017 and 0020).
    for name in _COLUMNS:
        op.add_column("complaints", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for name in _COLUMNS:
        if op.get_bind().dialect.name == "sqlite":
            # In place (SQLite 3.35+), for the same reason as the upgrade.
            op.execute(f"ALTER TABLE complaints DROP COLUMN {name}")
        else:
            op.drop_column("complaints", name)
