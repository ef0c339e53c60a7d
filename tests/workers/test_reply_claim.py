"""A reply is sent once even when two workers hold it, and a lost send is tried again."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

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


class SlowAdapter:
    """Takes a moment to answer, like a real provider, and counts the calls."""

    name = "test"

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, reply: OutboundReply) -> SendResult:
        self.calls += 1
        await asyncio.sleep(0.3)
        return SendResult(provider_message_id="m1")

    async def close(self) -> None:
        pass


def _queued_reply(runtime) -> str:  # type: ignore[no-untyped-def]
    with runtime.sf.begin() as session:
        reply_id = store.queue_reply(
            session,
            dedupe_key="k1",
            kind="ack",
            channel="sms",
            provider="test",
            address="+6281234567890",
            text="Tiket BGR-7KQ2XMP",
        )
    assert reply_id
    return reply_id


def test_two_workers_with_the_same_reply_send_it_once(tmp_path: Path) -> None:
    """A sweep racing a retry hands one reply to two workers: the provider is called once."""
    runtime = build_runtime(base_settings(tmp_path))
    adapter = SlowAdapter()
    runtime.outbound = OutboundSender(runtime.settings, adapters=Adapters(outbound={"test": adapter}))
    try:
        reply_id = _queued_reply(runtime)
        threads = [threading.Thread(target=send_batch, args=(runtime, [reply_id])) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert adapter.calls == 1
        with runtime.read_sf() as session:
            assert session.get(Reply, reply_id).status == "sent"
    finally:
        runtime.outbound.close()
        runtime.close()


def _set(runtime, reply_id: str, **values) -> None:  # type: ignore[no-untyped-def]
    with runtime.sf.begin() as session:
        session.execute(update(Reply).where(Reply.id == reply_id).values(**values))


def test_reply_stuck_in_sending_is_sent_again_by_the_sweeper(tmp_path: Path) -> None:
    """A reply whose worker died mid-send goes back to the queue once its send deadline has long passed."""
    runtime = build_runtime(base_settings(tmp_path, send_timeout_seconds=1, sweep_after_seconds=1))
    sent: list[list[str]] = []
    runtime.send = lambda actor, ids: sent.append(list(ids)) if actor == "send_reply" else None  # type: ignore[method-assign]
    try:
        reply_id = _queued_reply(runtime)
        # Claimed 5 s ago: the send may run until its deadline, 2 × timeout + 10 s after the claim.
        _set(runtime, reply_id, status="sending", attempts=1, next_attempt_at=utcnow() + timedelta(seconds=7))
        assert sweep_once(runtime)["send_reply"] == 0
        _set(runtime, reply_id, next_attempt_at=utcnow() - timedelta(seconds=60))
        assert sweep_once(runtime)["send_reply"] == 1
        assert sent == [[reply_id]]
        with runtime.read_sf() as session:
            row = session.get(Reply, reply_id)
            assert (row.status, row.unknown_outcomes) == ("queued", 1)
    finally:
        runtime.close()


def test_reply_lost_mid_send_twice_is_marked_unknown(tmp_path: Path) -> None:
    """A reply whose worker died mid-send after an earlier unknown outcome is 'unknown', not sent a third time."""
    runtime = build_runtime(base_settings(tmp_path, sweep_after_seconds=1))
    sent: list[list[str]] = []
    runtime.send = lambda actor, ids: sent.append(list(ids)) if actor == "send_reply" else None  # type: ignore[method-assign]
    try:
        reply_id = _queued_reply(runtime)
        _set(
            runtime,
            reply_id,
            status="sending",
            attempts=2,
            unknown_outcomes=1,
            next_attempt_at=utcnow() - timedelta(seconds=60),
        )
        assert sweep_once(runtime)["send_reply"] == 0
        assert sent == []
        with runtime.read_sf() as session:
            assert session.get(Reply, reply_id).status == "unknown"
    finally:
        runtime.close()


def test_sweeper_leaves_a_reply_waiting_for_its_scheduled_retry(tmp_path: Path) -> None:
    """A queued reply whose retry is due in the future is not re-enqueued; one due long ago (chain died) is."""
    runtime = build_runtime(base_settings(tmp_path, sweep_after_seconds=1))
    sent: list[list[str]] = []
    runtime.send = lambda actor, ids: sent.append(list(ids)) if actor == "send_reply" else None  # type: ignore[method-assign]
    try:
        reply_id = _queued_reply(runtime)
        # Last changed long ago, but its Dramatiq retry is scheduled for later: leave it.
        _set(
            runtime,
            reply_id,
            attempts=3,
            updated_at=utcnow() - timedelta(hours=1),
            next_attempt_at=utcnow() + timedelta(minutes=5),
        )
        assert sweep_once(runtime)["send_reply"] == 0
        _set(runtime, reply_id, next_attempt_at=utcnow() - timedelta(minutes=5))
        assert sweep_once(runtime)["send_reply"] == 1
        assert sent == [[reply_id]]
    finally:
        runtime.close()


def test_send_without_an_outbound_sender_says_so(tmp_path: Path) -> None:
    """A process without an outbound sender fails send_reply with a clear error, not an AttributeError."""
    runtime = build_runtime(base_settings(tmp_path))
    try:
        reply_id = _queued_reply(runtime)
        with pytest.raises(RuntimeError, match="outbound sender"):
            send_batch(runtime, [reply_id])
    finally:
        runtime.close()
