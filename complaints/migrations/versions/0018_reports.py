"""Reports (issue 10): who held each step, and indexes for a period's figures.

``history.opd_code`` records the OPD holding the case when the row was written, so a re-routed
case's earlier steps stay with the OPD that had them. The indexes let ``/ops/reports`` and
``/statistik`` read one period (history by time, complaints by arrival, replies by creation)
instead of whole tables.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history") as batch:
        batch.add_column(sa.Column("opd_code", sa.String(40), nullable=True))
    op.create_index("ix_history_at", "history", ["at"])
    op.create_index("ix_complaints_created", "complaints", ["created_at"])
    op.create_index("ix_replies_created", "replies", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_replies_created", table_name="replies")
    op.drop_index("ix_complaints_created", table_name="complaints")
    op.drop_index("ix_history_at", table_name="history")
    with op.batch_alter_table("history") as batch:
        batch.drop_column("opd_code")
