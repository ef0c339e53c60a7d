"""The working-hours SLA clock (issue 10, part clock): a case returned to the citizen keeps the
minutes its step had left, so the step resumes with them when the citizen completes the identity.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("clock_paused_remaining_minutes", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.drop_column("clock_paused_remaining_minutes")
