"""Duplicate complaints (issue 10): a merged case points at its main case; similar cases found by OPD and date.

``merged_into_id`` is set when an operator merges a case into another (complaints/merging.py): the
merged case leaves the inbox and lists, keeps its own ticket, and follows the main case. The
``(opd_code, created_at)`` index bounds the duplicate proposals' candidate query
(complaints/duplicates.py) to one OPD's cases of a few days; ``merged_into_id`` is indexed for
"the cases merged into this one" (the main case's page and its answer going to every reporter).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.String(32), nullable=True))
        batch_op.create_foreign_key("fk_complaints_merged_into", "complaints", ["merged_into_id"], ["id"])
    op.create_index("ix_complaints_merged_into", "complaints", ["merged_into_id"])
    op.create_index("ix_complaints_opd_created", "complaints", ["opd_code", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_complaints_opd_created", table_name="complaints")
    op.drop_index("ix_complaints_merged_into", table_name="complaints")
    with op.batch_alter_table("complaints") as batch_op:
        batch_op.drop_constraint("fk_complaints_merged_into", type_="foreignkey")
        batch_op.drop_column("merged_into_id")
