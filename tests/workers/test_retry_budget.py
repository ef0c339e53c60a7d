"""Retry budgets live on the rows: they hold with the sweeper running, and failures are counted."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from channels.base import OutboundReply, SendError, SendResult
from complaints import store
from complaints.models import InboxMessage, Reply
from gateway.embedded import start_workers
from gateway.ops import operations_status
from normalizer.envelope import Intake, ReplyRoute, utcnow
from normalizer.normalize import build_envelope
from tests.conftest import base_settings
from workers.setup import build_runtime
from workers.sweeper import sweep_once
from workers.verify import verify_batch


class AlwaysBusy:
    """A provider that refuses every send with a retryable error, counting the calls."""

    name = "test"

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, reply: OutboundReply) -> SendResult:
        self.calls += 1
        raise SendError("503 from provider", retryable=True)

    async def close(self) -> None:
        pass


def _wait_for(runtime: Any, query: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.read_sf() as session:
            value = session.scalar(query)
        if value is not None:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {query}")


def _envelope(ext: str):  # type: ignore[no-untyped-def]
    return build_envelope(
        Intake(
            channel="sms",
            provider="test",
            external_id=ext,
            sender="+6281234567890",
            text="LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#PJU mati",
            reply_route=ReplyRoute(channel="sms", address="+6281234567890", provider="test"),
        )
    )


def test_retryable_failures_use_exactly_the_budget_with_a_fast_sweeper(
    tmp_path: Path, backend: dict[str, object]
) -> None:
    """A reply that always fails retryably is tried REPLY_MAX_RETRIES+1 times, then failed, with a fast sweeper."""
    settings = base_settings(
        tmp_path,
        reply_max_retries=3,
        # Dramatiq's retries wait far longer than the sweeper: a sweeper that ignored the
        # scheduled retry would start chain after chain meanwhile.
        retry_min_backoff_ms=300,
        retry_max_backoff_ms=1000,
        sweep_interval_seconds=0.05,
        sweep_after_seconds=0.05,
        **backend,
    )
    runtime = build_runtime(settings)
    pool = start_workers(runtime, threads=2)
    adapter = AlwaysBusy()
    runtime.outbound.adapters = {"test": adapter}
    try:
        with runtime.sf.begin() as session:
            reply_id = store.queue_reply(
                session,
                dedupe_key="budget",
                kind="ack",
                channel="sms",
                provider="test",
                address="+6281234567890",
                text="Tiket BGR-7KQ2XMP",
            )
        runtime.send("send_reply", [reply_id])
        reply = _wait_for(runtime, select(Reply).where(Reply.id == reply_id, Reply.status == "failed"))
        # Let further sweeps run: a failed row is never claimed again.
        for _ in range(5):
            sweep_once(runtime)
        assert reply.attempts == 4
        assert adapter.calls == 4
        assert "503" in (reply.error or "")
    finally:
        pool.stop()
        runtime.close()


def test_a_failing_inbox_message_has_its_attempts_counted(tmp_path: Path) -> None:
    """Processing that raises counts an attempt on the inbox row and schedules its retry (not rolled back)."""
    runtime = build_runtime(base_settings(tmp_path, reply_max_retries=1))
    try:
        outcome = store.accept_batch(runtime.sf, [_envelope("poison")])[0]
        with runtime.sf.begin() as session:  # a row this version cannot read
            row = session.get(InboxMessage, outcome.inbox_id)
            row.envelope = {**row.envelope, "version": 99}
        before = utcnow()
        result = verify_batch(runtime, [outcome.inbox_id])
        assert list(result.failed) == [outcome.inbox_id]
        with runtime.read_sf() as session:
            row = session.get(InboxMessage, outcome.inbox_id)
            assert (row.state, row.attempts) == ("accepted", 1)
            assert row.next_attempt_at is not None and row.next_attempt_at > before
            assert "version 99" in (row.error or "")
        result = verify_batch(runtime, [outcome.inbox_id])
        assert result.failed == {}  # budget spent: no retry is asked for
        with runtime.read_sf() as session:
            row = session.get(InboxMessage, outcome.inbox_id)
            assert (row.state, row.attempts) == ("dead", 2)
    finally:
        runtime.close()


def test_sweeper_requeues_a_died_chain_but_not_a_scheduled_retry(tmp_path: Path) -> None:
    """An inbox row whose next attempt was due long ago is re-enqueued; one waiting for its retry is not."""
    runtime = build_runtime(base_settings(tmp_path, sweep_after_seconds=5))
    sent: list[list[str]] = []
    runtime.send = lambda actor, ids: sent.append(list(ids)) if actor == "verify_intake" else None  # type: ignore[method-assign]
    try:
        waiting, died = (o.inbox_id for o in store.accept_batch(runtime.sf, [_envelope("w"), _envelope("d")]))
        long_ago = utcnow() - timedelta(hours=1)
        with runtime.sf.begin() as session:
            session.execute(
                update(InboxMessage)
                .where(InboxMessage.id == waiting)
                .values(attempts=2, updated_at=long_ago, next_attempt_at=utcnow() + timedelta(minutes=10))
            )
            session.execute(
                update(InboxMessage)
                .where(InboxMessage.id == died)
                .values(attempts=2, updated_at=long_ago, next_attempt_at=long_ago)
            )
        with runtime.read_sf() as session:  # operators see only the died one as stuck
            assert operations_status(session, 5)["inbox_stuck"] == 1
        assert sweep_once(runtime)["verify_intake"] == 1
        assert sent == [[died]]
        assert sweep_once(runtime)["verify_intake"] == 0  # re-enqueued rows wait a full period again
    finally:
        runtime.close()
