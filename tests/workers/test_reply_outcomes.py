"""What a send's outcome leaves on the outbox row: parts already sent, and an unknown fate made visible."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from channels.base import OutboundReply, SendError, SendResult
from channels.registry import Adapters
from channels.telegram.adapter import TelegramChannel
from complaints import store
from complaints.models import Reply
from gateway.ops import operations_status
from tests.conftest import base_settings
from tests.support.fake_telegram import FakeTelegram
from workers.outbound import OutboundSender
from workers.reply import send_batch
from workers.setup import build_runtime

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"


def _queue(runtime, *, channel: str, provider: str, address: str, text: str) -> str:  # type: ignore[no-untyped-def]
    with runtime.sf.begin() as session:
        reply_id = store.queue_reply(
            session, dedupe_key="k", kind="answer", channel=channel, provider=provider, address=address, text=text
        )
    assert reply_id
    return reply_id


@pytest.mark.asyncio
async def test_long_reply_cut_short_is_finished_by_another_worker_without_repeats(tmp_path: Path) -> None:
    """Part 2 of a 3-part answer fails; a new worker with a new adapter sends parts 2 and 3 only."""
    text = ("Jawaban OPD. " * 700).strip()
    async with FakeTelegram(TOKEN) as tg:
        settings = base_settings(tmp_path, telegram_bot_token=TOKEN, telegram_mode="poll", telegram_api_base=tg.url)
        runtime = build_runtime(settings)
        try:
            reply_id = _queue(runtime, channel="telegram", provider="telegram", address="1111111", text=text)
            runtime.outbound = OutboundSender(
                settings, adapters=Adapters(outbound={"telegram": TelegramChannel(settings)})
            )
            tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, after=1)
            result = await asyncio.to_thread(send_batch, runtime, [reply_id])
            assert list(result.failed) == [reply_id] and len(tg.messages) == 1
            with runtime.read_sf() as session:
                row = session.get(Reply, reply_id)
                assert (row.status, row.parts_sent) == ("queued", 1)
                assert row.provider_message_id == str(tg.messages[0].message_id)
            runtime.outbound.close()
            # Another worker process: a fresh adapter that never saw the first attempt.
            runtime.outbound = OutboundSender(
                settings, adapters=Adapters(outbound={"telegram": TelegramChannel(settings)})
            )
            await asyncio.to_thread(send_batch, runtime, [reply_id])
            assert len(tg.messages) == 3
            assert " ".join(m.text for m in tg.messages) == text
            with runtime.read_sf() as session:
                row = session.get(Reply, reply_id)
                assert row.status == "sent" and row.provider_message_id == str(tg.messages[0].message_id)
        finally:
            runtime.close()


class UnknownOutcome:
    """A provider that takes the request and never answers in time, counting the calls."""

    name = "test"

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, reply: OutboundReply) -> SendResult:
        self.calls += 1
        raise SendError("ReadTimeout (the request may have arrived)", retryable=True, outcome_unknown=True)

    async def close(self) -> None:
        pass


def test_unknown_outcome_is_retried_once_then_shown_as_unknown(tmp_path: Path) -> None:
    """A send with an unknown outcome gets one more try, then the row is 'unknown' and counted in /ops/status."""
    runtime = build_runtime(base_settings(tmp_path, reply_max_retries=5))
    adapter = UnknownOutcome()
    runtime.outbound = OutboundSender(runtime.settings, adapters=Adapters(outbound={"test": adapter}))
    try:
        reply_id = _queue(runtime, channel="sms", provider="test", address="+6281234567890", text="Tiket")
        assert list(send_batch(runtime, [reply_id]).failed) == [reply_id]
        assert send_batch(runtime, [reply_id]).failed == {}  # no third try is asked for
        assert send_batch(runtime, [reply_id]).failed == {}
        assert adapter.calls == 2
        with runtime.read_sf() as session:
            row = session.get(Reply, reply_id)
            assert (row.status, row.attempts, row.unknown_outcomes) == ("unknown", 2, 2)
            assert operations_status(session, 60)["replies"] == {"unknown": 1}
    finally:
        runtime.close()


def test_outbound_timeout_is_unknown_unless_the_adapter_is_idempotent(tmp_path: Path) -> None:
    """A send cut off by the worker's own time-out is an unknown outcome, except for adapters that dedupe by our id."""

    class Hangs:
        name = "test"
        idempotent_sends = False

        async def send(self, reply: OutboundReply) -> SendResult:
            await asyncio.sleep(30)
            raise AssertionError("not reached")

        async def close(self) -> None:
            pass

    settings = base_settings(tmp_path, send_timeout_seconds=0.1)
    reply = OutboundReply(id="r", channel="sms", provider="test", address="+6281234567890", text="Tiket")
    for idempotent in (False, True):
        adapter = Hangs()
        adapter.idempotent_sends = idempotent
        sender = OutboundSender(settings, adapters=Adapters(outbound={"test": adapter}))
        try:
            [error] = sender.send_many([reply])
        finally:
            sender.close()
        assert isinstance(error, SendError) and error.retryable
        assert error.outcome_unknown is not idempotent
