"""The staff's casework (issue 8): notes on cases, the approved answer, views of personal data.

- ``complaints``: ``answer_text`` (the answer as approved), ``answer_public`` (the operator's
  "publish" tick), ``source_details`` (a newspaper's name and date for manual entries) and
  ``attention`` (a failed delivery or a citizen's message on a closed case, for the inbox).
- ``case_notes``: follow-up reports with photos, the OPD's answer, reasons for returning,
  internal remarks; ``internal`` ones never reach the citizen.
- ``pii_views``: who looked at a case's unmasked NIK, phone, address and e-mail, and when.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_details", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("answer_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("answer_public", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("attention", sa.String(40), nullable=True))
        batch_op.create_index("ix_complaints_attention", ["attention"])
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("complaint_id", sa.String(32), sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_index("ix_case_notes_complaint", "case_notes", ["complaint_id", "id"])
    op.create_table(
        "pii_views",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("complaint_id", sa.String(32), sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pii_views_complaint_at", "pii_views", ["complaint_id", "at"])
    op.create_index("ix_pii_views_user_at", "pii_views", ["user_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_pii_views_user_at", table_name="pii_views")
    op.drop_index("ix_pii_views_complaint_at", table_name="pii_views")
    op.drop_table("pii_views")
    op.drop_index("ix_case_notes_complaint", table_name="case_notes")
    op.drop_table("case_notes")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_attention")
        batch_op.drop_column("attention")
        batch_op.drop_column("answer_public")
        batch_op.drop_column("answer_text")
        batch_op.drop_column("source_details")
