"""Nothing a citizen sends can stop the workers: poison messages are dead-lettered, visibly."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from channels.base import OutboundReply, SendError, SendResult
from complaints import store
from complaints.models import Complaint, InboxMessage, Reply
from complaints.sla import calendar_of
from gateway.embedded import start_workers
from normalizer.envelope import Intake, ReplyRoute
from normalizer.normalize import build_envelope
from tests.conftest import base_settings
from workers.dead_letters import DeadLetterRecorder
from workers.setup import build_runtime


def _wait(runtime: Any, query: Any, timeout: float = 10.0) -> Any:
    """Poll a read-only query until it returns a row."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.read_sf() as session:
            value = session.scalar(query)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {query}")


def _envelope(text: str, ext: str):  # type: ignore[no-untyped-def]
    return build_envelope(
        Intake(
            channel="sms",
            provider="test",
            external_id=ext,
            sender="+6281234567890",
            text=text,
            reply_route=ReplyRoute(channel="sms", address="+6281234567890", provider="test"),
        )
    )


class FlakyAdapter:
    """An outbound adapter whose answers the test scripts: ok, retryable or permanent errors."""

    name = "test"
    idempotent_sends = False

    def __init__(self, outcomes: list[str]) -> None:
        self.outcomes = outcomes
        self.sent: list[OutboundReply] = []

    async def send(self, reply: OutboundReply) -> SendResult:
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "retry":
            raise SendError("503 from provider", retryable=True)
        if outcome == "permanent":
            raise SendError("invalid number", retryable=False)
        self.sent.append(reply)
        return SendResult(provider_message_id=f"msg-{len(self.sent)}")

    async def close(self) -> None:
        pass


def _runtime(tmp_path: Path, outcomes: list[str]):  # type: ignore[no-untyped-def]
    settings = base_settings(tmp_path, reply_max_retries=2, retry_min_backoff_ms=50, retry_max_backoff_ms=100)
    runtime = build_runtime(settings)
    pool = start_workers(runtime, threads=2)
    adapter = FlakyAdapter(outcomes)
    runtime.outbound.adapters = {"test": adapter}
    return runtime, pool, adapter


def test_poison_message_is_dead_lettered_and_the_rest_flows(tmp_path: Path) -> None:
    """A message that cannot be processed ends 'dead' with its error; the batch's other complaint completes."""
    runtime, pool, adapter = _runtime(tmp_path, [])
    try:
        good = _envelope("LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#sampah menumpuk di TPS", "good")
        bad = _envelope("LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#jalan rusak", "bad")
        outcomes = store.accept_batch(runtime.sf, [bad, good])
        with runtime.sf.begin() as session:  # a corrupt row, e.g. written by a future version
            row = session.get(InboxMessage, outcomes[0].inbox_id)
            row.envelope = {**row.envelope, "version": 99}
        runtime.send("verify_intake", [o.inbox_id for o in outcomes])
        dead = _wait(runtime, select(InboxMessage).where(InboxMessage.state == "dead"))
        assert dead.id == outcomes[0].inbox_id
        assert "version 99" in dead.error
        case = _wait(runtime, select(Complaint).where(Complaint.status == "disposisi"))
        _wait(runtime, select(Reply).where(Reply.status == "sent"))
        assert case.ticket == outcomes[1].ticket
        assert len(adapter.sent) == 1
    finally:
        pool.stop()
        runtime.close()


def test_retryable_send_error_is_retried_then_sent(tmp_path: Path) -> None:
    """A provider that fails once with a retryable error gets the reply on the next try, once."""
    runtime, pool, adapter = _runtime(tmp_path, ["retry"])
    try:
        outcomes = store.accept_batch(
            runtime.sf, [_envelope("LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#PJU mati", "a")]
        )
        runtime.send("verify_intake", [outcomes[0].inbox_id])
        reply = _wait(runtime, select(Reply).where(Reply.status == "sent"))
        assert reply.attempts == 2 and len(adapter.sent) == 1
    finally:
        pool.stop()
        runtime.close()


def test_permanent_send_error_marks_reply_failed_at_once(tmp_path: Path) -> None:
    """A permanent provider error (invalid number) marks the reply failed with the reason, without retrying."""
    runtime, pool, adapter = _runtime(tmp_path, ["permanent"])
    try:
        outcomes = store.accept_batch(
            runtime.sf, [_envelope("LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#PJU mati", "b")]
        )
        runtime.send("verify_intake", [outcomes[0].inbox_id])
        reply = _wait(runtime, select(Reply).where(Reply.status == "failed"))
        assert reply.attempts == 1 and reply.error == "invalid number"
        assert adapter.sent == []
    finally:
        pool.stop()
        runtime.close()


def test_exhausted_retries_mark_reply_failed(tmp_path: Path) -> None:
    """A provider down through every retry leaves the reply 'failed' with the last error, visible to operators."""
    runtime, pool, _adapter = _runtime(tmp_path, ["retry"] * 10)
    try:
        outcomes = store.accept_batch(
            runtime.sf, [_envelope("LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#PJU mati", "c")]
        )
        runtime.send("verify_intake", [outcomes[0].inbox_id])
        reply = _wait(runtime, select(Reply).where(Reply.status == "failed"))
        assert reply.attempts == 3 and "503" in reply.error
    finally:
        pool.stop()
        runtime.close()


def test_a_dead_batch_fails_only_the_rows_whose_own_budget_is_spent(tmp_path: Path) -> None:
    """A batch message dead-lettered for a failure outside the rows (a bug, a database outage) marks
    dead only rows that used their attempts; the others go back to the sweeper, nothing is given up."""
    runtime = build_runtime(base_settings(tmp_path, reply_max_retries=2))
    try:
        outcomes = store.accept_batch(runtime.sf, [_envelope("lampu mati", "spent"), _envelope("jalan", "fresh")])
        spent, fresh = (o.inbox_id for o in outcomes)
        with runtime.sf.begin() as session:
            session.get(InboxMessage, spent).attempts = 3  # its budget: REPLY_MAX_RETRIES + 1
        recorder = DeadLetterRecorder(runtime.sf, runtime.config.sop, 3, calendar_of(runtime.config.calendar))
        message = SimpleNamespace(actor_name="verify_intake", args=([spent, fresh],), failed=True)
        recorder.after_process_message(runtime.broker, message, exception=RuntimeError("database went away"))
        with runtime.read_sf() as session:
            rows = {row.id: row for row in session.scalars(select(InboxMessage))}
        assert rows[spent].state == "dead" and "database went away" in rows[spent].error
        assert rows[fresh].state == "accepted" and rows[fresh].next_attempt_at is not None
    finally:
        runtime.close()
