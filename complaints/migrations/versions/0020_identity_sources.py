"""Where each identity field of a case was read from (issue 13, completing by reply): the label or
text of the message, the sender's address, the channel, a reply and when; never a value.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("identity_sources", sa.JSON(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite 3.35+): a batch copy would drop `complaints`, which the foreign keys of
        # history and the other tables refuse once cases are stored (as in 0017).
        op.execute("ALTER TABLE complaints DROP COLUMN identity_sources")
    else:
        op.drop_column("complaints", "identity_sources")
