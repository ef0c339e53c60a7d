"""Retry budgets on the rows: when the next attempt is due, and how far a long reply got.

``inbox.next_attempt_at`` and ``replies.next_attempt_at`` tell the sweeper whether a row is
waiting for its own scheduled retry (leave it) or its chain has died (re-enqueue it).
``replies.parts_sent`` keeps how many parts of a multi-part reply (Telegram's long answers,
X's public reply before the DM) were delivered, so a retry in any worker sends only the rest.
``replies.unknown_outcomes`` counts sends whose fate is unknown (a time-out after the request
went out): one more automatic try is allowed, then the reply shows ``unknown``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("unknown_outcomes", sa.Integer(), nullable=False, server_default="0"))
    # Rows already waiting are due from their last change, as the sweeper judged them before.
    op.execute("UPDATE inbox SET next_attempt_at = updated_at WHERE state = 'accepted'")
    op.execute("UPDATE replies SET next_attempt_at = updated_at WHERE status IN ('queued', 'sending')")
    op.create_index("ix_inbox_state_next_attempt", "inbox", ["state", "next_attempt_at"])
    op.create_index("ix_replies_status_next_attempt", "replies", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_replies_status_next_attempt", table_name="replies")
    op.drop_index("ix_inbox_state_next_attempt", table_name="inbox")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_column("unknown_outcomes")
        batch_op.drop_column("parts_sent")
        batch_op.drop_column("next_attempt_at")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
