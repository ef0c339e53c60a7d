"""Email channel: mailbox state, long thread references, replies by address and time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_state",
        sa.Column("id", sa.String(length=400), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.alter_column(
            "reply_thread_ref", existing_type=sa.VARCHAR(length=500), type_=sa.Text(), existing_nullable=True
        )

    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.alter_column(
            "thread_ref", existing_type=sa.VARCHAR(length=500), type_=sa.Text(), existing_nullable=True
        )
        batch_op.create_index("ix_replies_address_created", ["address", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_index("ix_replies_address_created")
        batch_op.alter_column(
            "thread_ref", existing_type=sa.Text(), type_=sa.VARCHAR(length=500), existing_nullable=True
        )

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.alter_column(
            "reply_thread_ref", existing_type=sa.Text(), type_=sa.VARCHAR(length=500), existing_nullable=True
        )

    op.drop_table("mailbox_state")
