"""The gateway's side of the poll context: accept, unreadable input, cursors and health, on a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.base import PollContext, PollerHealth
from complaints.models import InboxMessage, PollerState
from gateway.accept import GroupCommitAcceptor
from gateway.ops import operations_status
from gateway.pollers import poll_context, start_intake
from normalizer.envelope import Intake, ReplyRoute
from normalizer.normalize import build_envelope
from tests.conftest import base_settings
from tests.support.system import wait_db
from workers.runtime import Runtime
from workers.setup import build_runtime

PHONE = "+6281234567890"


def intake(external_id: str, *, sender: str = PHONE, provider: str = "kannel") -> Intake:
    """An SMS as a polling adapter would hand it over."""
    return Intake(
        channel="sms",
        provider=provider,
        external_id=external_id,
        sender=sender,
        text="Jalan rusak di Jl. Pajajaran",
        reply_route=ReplyRoute(channel="sms", address=sender or PHONE),
    )


class Gateway:
    """A runtime, its group-commit acceptor and the poll context built on them."""

    def __init__(self, runtime: Runtime, acceptor: GroupCommitAcceptor) -> None:
        self.runtime = runtime
        self.acceptor = acceptor
        self.stopping = asyncio.Event()
        self.ctx: PollContext = poll_context(acceptor, self.stopping)

    def rows(self, model: Any, *where: Any) -> list[Any]:
        with self.runtime.read_sf() as session:
            return list(session.scalars(select(model).where(*where)))


async def _gateway(database: dict[str, Any], tmp_path: Path) -> AsyncIterator[Gateway]:
    runtime = build_runtime(base_settings(tmp_path, **database))
    acceptor = GroupCommitAcceptor(runtime)
    acceptor.start()
    try:
        yield Gateway(runtime, acceptor)
    finally:
        await acceptor.stop()
        runtime.close()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """The embedded set-up (SQLite)."""
    async for gw in _gateway({}, tmp_path):
        yield gw


async def test_accept_answers_each_item_in_order(gateway: Gateway) -> None:
    """Intakes are normalised, envelopes pass as they are, a refused intake says why; a repeat is a duplicate."""
    items = [intake("k-1"), build_envelope(intake("k-2")), intake("k-3", sender="")]
    first = await gateway.ctx.accept(items)
    assert [r.refused is None for r in first] == [True, True, False]
    assert first[0].inbox_id and first[1].inbox_id and "sender" in (first[2].refused or "")
    # The refused intake is kept for an operator (the poller moves on past it, losing nothing).
    [kept] = gateway.rows(InboxMessage, InboxMessage.state == "unreadable")
    assert "sender" in (kept.error or "")
    again = await gateway.ctx.accept([intake("k-1"), build_envelope(intake("k-2"))])
    assert [r.duplicate for r in again] == [True, True]
    assert [r.inbox_id for r in again] == [first[0].inbox_id, first[1].inbox_id]
    assert len(gateway.rows(InboxMessage, InboxMessage.state != "unreadable")) == 2


async def test_unreadable_input_is_kept_once(gateway: Gateway) -> None:
    """keep_unreadable stores one 'unreadable' inbox row with the raw reference, however often it is called."""
    for _ in range(2):
        await gateway.ctx.keep_unreadable(
            channel="email", provider="imap", external_id="email-sha:abc", reason="no sender", raw_ref="abc123"
        )
    [row] = gateway.rows(InboxMessage)
    assert row.state == "unreadable" and row.envelope["raw_sha256"] == "abc123" and row.error == "no sender"


async def test_cursors_are_kept_in_one_table(gateway: Gateway) -> None:
    """A poller's position is read back as written, and the last write wins."""
    assert await gateway.ctx.cursor_get("imap:lapor@mail/INBOX") is None
    await gateway.ctx.cursor_set("imap:lapor@mail/INBOX", "17:3")
    await gateway.ctx.cursor_set("imap:lapor@mail/INBOX", "17:9")
    await gateway.ctx.cursor_set("telegram:offset", "500")
    assert await gateway.ctx.cursor_get("imap:lapor@mail/INBOX") == "17:9"
    assert await gateway.ctx.cursor_get("telegram:offset") == "500"


async def test_health_reports_reach_the_operators(gateway: Gateway) -> None:
    """The last error and the last poll survive later reports; /ops/status lists every poller and cursor."""
    report = gateway.ctx.report
    await report(PollerHealth(poller="imap:lapor@mail/INBOX", provider="imap", status="connected", polled=True))
    await report(PollerHealth(poller="imap:lapor@mail/INBOX", provider="imap", status="error", error="OSError: gone"))
    await report(PollerHealth(poller="imap:lapor@mail/INBOX", provider="imap", status="connected"))
    await report(PollerHealth(poller="telegram", provider="telegram", status="connected", polled=True))
    await gateway.ctx.cursor_set("imap:lapor@mail/INBOX", "17:9")
    with gateway.runtime.read_sf() as session:
        status = operations_status(session, 60)
    imap, telegram = status["pollers"]
    assert imap["poller"] == "imap:lapor@mail/INBOX" and imap["status"] == "connected"
    assert imap["last_error"] == "OSError: gone" and imap["last_error_at"] and imap["last_poll_at"]
    assert telegram["provider"] == "telegram" and telegram["last_error"] is None
    assert status["cursors"]["imap:lapor@mail/INBOX"]["value"] == "17:9"


class CrashingPoller:
    """A polling adapter whose first poll crashes and whose second waits for the stop."""

    name = "fake"

    def __init__(self) -> None:
        self.polls = 0

    def polling_enabled(self) -> bool:
        return True

    async def poll(self, ctx: PollContext) -> None:
        self.polls += 1
        if self.polls == 1:
            raise RuntimeError("provider exploded")
        await ctx.stopping.wait()


async def test_a_crashing_poller_is_reported_and_restarted(gateway: Gateway) -> None:
    """A poller that raises is recorded as in error and started again; stopping ends it."""
    poller = CrashingPoller()
    running = await start_intake(gateway.acceptor, pollers={"fake": poller})
    state = await wait_db(gateway, lambda s: s.get(PollerState, "fake"))
    assert state.status == "error" and "provider exploded" in (state.last_error or "")
    deadline = asyncio.get_running_loop().time() + 10
    while poller.polls < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert poller.polls == 2
    await running.stop()
    assert all(task.done() for task in running.tasks)


async def test_an_item_the_database_refuses_is_reported_alone(pg_url: str, tmp_path: Path) -> None:
    """On PostgreSQL a value the column cannot hold refuses that item only; the others are stored."""
    async for gw in _gateway({"database_url": pg_url}, tmp_path):
        too_long = replace(build_envelope(intake("k-2")), provider="p" * 40)
        results = await gw.ctx.accept([intake("k-1"), too_long, intake("k-3")])
        assert [r.refused for r in results] == [None, "refused by the database: DataError", None]
        stored = {row.external_id: row for row in gw.rows(InboxMessage)}
        assert {"k-1", "k-3"} <= set(stored)
        # The refused one is not lost: kept by hash as an unreadable row, so the poller may move on.
        [kept] = [row for key, row in stored.items() if key.startswith("refused:")]
        assert kept.state == "unreadable" and len(stored) == 3
        record = (tmp_path / "var" / "refused").rglob(kept.envelope["raw_sha256"] + "*")
        assert any(path.is_file() for path in record)
