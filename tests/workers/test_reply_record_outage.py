"""A reply the provider took while the database went away is recorded when it returns, never sent twice.

Found by scripts/chaos.py: PostgreSQL stopped for 10 s right after two e-mail replies reached the SMTP
server; their rows stayed ``sending``, the sweeper reclaimed them and the citizens got two
acknowledgements each.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from channels.base import OutboundReply, SendResult
from channels.registry import Adapters
from complaints import store
from complaints.models import Reply
from normalizer.envelope import utcnow
from tests.conftest import base_settings
from workers.outbound import OutboundSender
from workers.reply import send_batch
from workers.setup import build_runtime
from workers.sweeper import sweep_once


class CountingAdapter:
    """A provider that takes every reply and counts what the citizen receives."""

    name = "test"

    def __init__(self) -> None:
        self.delivered: list[str] = []

    async def send(self, reply: OutboundReply) -> SendResult:
        await asyncio.sleep(0)
        self.delivered.append(reply.address)
        return SendResult(provider_message_id=f"m{len(self.delivered)}")

    async def close(self) -> None:
        pass


class DatabaseAway:
    """The session factory, refusing ``fail`` transactions once the send is out (the server shutting down)."""

    def __init__(self, real: Any, adapter: CountingAdapter, fail: int) -> None:
        self.real, self.adapter, self.fail = real, adapter, fail

    def begin(self) -> Any:
        if self.adapter.delivered and self.fail > 0:
            self.fail -= 1
            raise OperationalError("BEGIN", {}, Exception("FATAL: the database system is shutting down"))
        return self.real.begin()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.real(*args, **kwargs)


def test_a_sent_reply_is_recorded_after_a_database_outage_and_not_sent_again(tmp_path: Path) -> None:
    runtime = build_runtime(base_settings(tmp_path, sweep_after_seconds=1))
    adapter = CountingAdapter()
    runtime.outbound = OutboundSender(runtime.settings, adapters=Adapters(outbound={"test": adapter}))
    requeued: list[list[str]] = []
    real_send = runtime.send
    runtime.send = lambda actor, ids: requeued.append(list(ids)) if actor == "send_reply" else real_send(actor, ids)  # type: ignore[method-assign]
    real_sf = runtime.sf
    try:
        with real_sf.begin() as session:
            reply_id = store.queue_reply(
                session, dedupe_key="ack-1", kind="ack", channel="email", provider="test",
                address="warga@example.org", text="Pengaduan Anda diterima: BGR-7KQ2XMP",
            )  # fmt: skip
        assert reply_id
        # Given a database that goes away just after the provider took the reply (three refused tries)
        runtime.sf = DatabaseAway(real_sf, adapter, fail=3)  # type: ignore[assignment]
        send_batch(runtime, [reply_id])
        runtime.sf = real_sf
        # Then the reply is recorded as sent once the database answers again
        with runtime.read_sf() as session:
            assert session.get(Reply, reply_id).status == "sent"
        # And long after its send deadline the sweeper has nothing to send again
        with real_sf.begin() as session:
            session.execute(update(Reply).where(Reply.id == reply_id).values(updated_at=utcnow() - timedelta(hours=1)))
        assert sweep_once(runtime)["send_reply"] == 0
        assert requeued == [] and adapter.delivered == ["warga@example.org"]
    finally:
        runtime.sf = real_sf
        runtime.outbound.close()
        runtime.close()
