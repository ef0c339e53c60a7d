"""One place for poller positions, one table for poller health: mailbox_state → channel_cursors + poller_state.

The IMAP poller kept its position (UIDVALIDITY, last UID) and its health in ``mailbox_state``,
beside the X and Telegram cursors in ``channel_cursors``. Now every poller keeps its position
in ``channel_cursors`` (IMAP as ``imap:<user>@<host>/<folder>`` = ``<uidvalidity>:<last uid>``)
and reports its health to ``poller_state``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MAX_CURSOR_KEY = 200

mailbox_state = sa.table(
    "mailbox_state",
    sa.column("id", sa.String),
    sa.column("uidvalidity", sa.BigInteger),
    sa.column("last_uid", sa.BigInteger),
    sa.column("status", sa.String),
    sa.column("last_poll_at", sa.DateTime(timezone=True)),
    sa.column("last_error", sa.Text),
    sa.column("last_error_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
channel_cursors = sa.table(
    "channel_cursors",
    sa.column("id", sa.String),
    sa.column("value", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _key(mailbox: str) -> str:
    """channels.email.imap_poller.mailbox_key for a stored ``user@host/folder`` (copied: migrations stand alone)."""
    key = f"imap:{mailbox}"
    return key if len(key) <= MAX_CURSOR_KEY else "imap:" + hashlib.sha256(key.encode()).hexdigest()


def _poller_state_table() -> sa.Table:
    return op.create_table(
        "poller_state",
        sa.Column("id", sa.String(length=400), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def upgrade() -> None:
    poller_state = _poller_state_table()
    bind = op.get_bind()
    rows = bind.execute(sa.select(mailbox_state)).mappings().all()
    taken = set(bind.execute(sa.select(channel_cursors.c.id)).scalars())
    cursors, states = [], []
    for row in rows:
        key = _key(row["id"])
        if row["uidvalidity"] is not None and key not in taken:
            value = f"{row['uidvalidity']}:{row['last_uid'] or 0}"
            cursors.append({"id": key, "value": value, "updated_at": row["updated_at"]})
        states.append(
            {
                "id": key,
                "provider": "imap",
                "status": row["status"],
                "last_poll_at": row["last_poll_at"],
                "last_error": row["last_error"],
                "last_error_at": row["last_error_at"],
                "updated_at": row["updated_at"],
            }
        )
    if cursors:
        op.bulk_insert(channel_cursors, cursors)
    if states:
        op.bulk_insert(poller_state, states)
    op.drop_table("mailbox_state")


def downgrade() -> None:
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
    bind = op.get_bind()
    poller_state = sa.table(
        "poller_state",
        sa.column("id", sa.String),
        sa.column("provider", sa.String),
        sa.column("status", sa.String),
        sa.column("last_poll_at", sa.DateTime(timezone=True)),
        sa.column("last_error", sa.Text),
        sa.column("last_error_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    positions = dict(
        bind.execute(
            sa.select(channel_cursors.c.id, channel_cursors.c.value).where(channel_cursors.c.id.like("imap:%"))
        ).all()
    )
    rows = []
    for state in bind.execute(sa.select(poller_state).where(poller_state.c.provider == "imap")).mappings():
        uidvalidity, _, last_uid = (positions.get(state["id"]) or "").partition(":")
        rows.append(
            {
                # A hashed (over-long) key cannot be turned back into user@host/folder; the poller
                # then starts over from the unseen mail, which the Message-ID dedupe makes harmless.
                "id": state["id"].removeprefix("imap:"),
                "uidvalidity": int(uidvalidity) if uidvalidity.isdigit() else None,
                "last_uid": int(last_uid) if last_uid.isdigit() else 0,
                "status": state["status"],
                "last_poll_at": state["last_poll_at"],
                "last_error": state["last_error"],
                "last_error_at": state["last_error_at"],
                "updated_at": state["updated_at"] or datetime.now(UTC),
            }
        )
    if rows:
        op.bulk_insert(mailbox_state, rows)
    bind.execute(sa.delete(channel_cursors).where(channel_cursors.c.id.like("imap:%")))
    op.drop_table("poller_state")
