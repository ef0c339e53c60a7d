"""Migration 0005: the IMAP poller's mailbox_state rows become a cursor and a poller_state row, and back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from complaints.db import alembic_config, make_engine, upgrade

MAILBOX = "lapor@mail.bogorkota.go.id/INBOX"
WHEN = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> sa.Engine:
    """An empty database of each kind the project runs on."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    return engine


def _downgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_mailbox_position_and_health_move_and_come_back(engine: sa.Engine) -> None:
    """Upgrading keeps (UIDVALIDITY, last UID) as a cursor and the health in poller_state; downgrading undoes it."""
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO mailbox_state (id, uidvalidity, last_uid, status, last_poll_at, last_error,"
                " last_error_at, updated_at) VALUES (:id, 1700000000, 42, 'error', :t, 'OSError: gone', :t, :t)"
            ),
            {"id": MAILBOX, "t": WHEN},
        )
        conn.execute(
            sa.text(
                "INSERT INTO mailbox_state (id, uidvalidity, last_uid, status, updated_at)"
                " VALUES ('never@polled/INBOX', NULL, 0, 'starting', :t)"
            ),
            {"t": WHEN},
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert "mailbox_state" not in sa.inspect(conn).get_table_names()
        cursors = dict(conn.execute(sa.text("SELECT id, value FROM channel_cursors")).all())
        assert cursors == {f"imap:{MAILBOX}": "1700000000:42"}
        states = {row.id: row for row in conn.execute(sa.text("SELECT * FROM poller_state"))}
    assert set(states) == {f"imap:{MAILBOX}", "imap:never@polled/INBOX"}
    moved = states[f"imap:{MAILBOX}"]
    assert (moved.provider, moved.status, moved.last_error) == ("imap", "error", "OSError: gone")
    _downgrade(engine, "0004")
    with engine.connect() as conn:
        assert "poller_state" not in sa.inspect(conn).get_table_names()
        back = conn.execute(
            sa.text("SELECT uidvalidity, last_uid, status FROM mailbox_state WHERE id = :id"), {"id": MAILBOX}
        ).one()
        assert tuple(back) == (1700000000, 42, "error")
        assert conn.execute(sa.text("SELECT count(*) FROM channel_cursors")).scalar() == 0
