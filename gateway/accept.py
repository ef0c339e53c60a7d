"""The accept path: durable inbox row first, then the queue, then the channel's answer.

Writes are batched by *group commit*: a request adds its envelope to a pending list and waits;
one flusher takes everything pending (up to ``BATCH``), writes it in one transaction and sends
one queue message for the whole batch, all in a worker thread so the event loop never blocks.
While a flush runs, the next batch fills up. Unlike a timer, an idle gateway flushes at once,
so light traffic pays no delay (see "What costs time" in DESIGN.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import structlog

from complaints import store
from complaints.db import urgent_session_factory
from gateway.intake_counting import note_stored
from normalizer.envelope import ComplaintEnvelope
from workers import request_ids

if TYPE_CHECKING:
    from channels.base import DeliveryUpdate
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

BATCH = 100


class GroupCommitAcceptor:
    """Accepts envelopes durably, many requests per transaction and per queue message."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._sf = urgent_session_factory(runtime.engine)
        self._pending: list[tuple[ComplaintEnvelope, asyncio.Future[store.AcceptOutcome]]] = []
        self._wakeup = asyncio.Event()
        # One writer thread: SQLite allows one writer anyway, and ordering stays simple.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accept-writer")
        self._task: asyncio.Task[None] | None = None
        self.flushes = 0
        self.accepted = 0
        # Envelope id -> the HTTP request id that brought it (while it waits for its flush).
        self._request_ids: dict[str, str] = {}

    def start(self) -> None:
        """Start the flusher task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        """Flush what is pending, then stop."""
        if self._task is not None:
            while self._pending:
                await asyncio.sleep(0.01)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._writer.shutdown(wait=True)

    async def accept(self, envelopes: list[ComplaintEnvelope]) -> list[store.AcceptOutcome]:
        """Store ``envelopes`` durably; returns when they are committed (raises on failure)."""
        if not envelopes:
            return []
        loop = asyncio.get_running_loop()
        request_id = request_ids.current()
        futures = []
        for env in envelopes:
            fut: asyncio.Future[store.AcceptOutcome] = loop.create_future()
            self._pending.append((env, fut))
            futures.append(fut)
            if request_id is not None:
                self._request_ids[env.id] = request_id
        self._wakeup.set()
        try:
            outcomes = list(await asyncio.gather(*futures))
        finally:
            if request_id is not None:
                for env in envelopes:
                    self._request_ids.pop(env.id, None)
        self._count(envelopes, outcomes)
        return outcomes

    def _count(self, envelopes: list[ComplaintEnvelope], outcomes: list[store.AcceptOutcome]) -> None:
        """Count each stored message on its channel: every HTTP request, poller and the SMTP server lands here."""
        activity = self.runtime.activity
        for env, outcome in zip(envelopes, outcomes, strict=True):
            activity.inbound(env.channel, "duplicate" if outcome.duplicate else "accepted")
        note_stored(len(outcomes))

    async def apply_delivery_updates(self, updates: list[DeliveryUpdate]) -> int:
        """Record delivery reports; returns how many matched a reply."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._apply_updates, updates)

    async def read(self, fn: Any, *args: Any) -> Any:
        """Run a read-only database function ``fn(session, *args)`` off the event loop."""
        loop = asyncio.get_running_loop()

        def call() -> Any:
            with self.runtime.read_sf() as session:
                return fn(session, *args)

        return await loop.run_in_executor(None, call)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                envelopes = [env for env, _ in batch]
                try:
                    outcomes = await loop.run_in_executor(self._writer, self._flush, envelopes)
                except Exception as exc:  # noqa: BLE001 - the waiting requests get the error
                    log.error("accept_failed", count=len(batch), error=type(exc).__name__)
                    if len(batch) == 1:
                        _settle(batch[0][1], exc)
                        continue
                    # One bad row must not fail its neighbours: store them one by one.
                    for env, fut in batch:
                        try:
                            single = await loop.run_in_executor(self._writer, self._flush, [env])
                        except Exception as one_exc:  # noqa: BLE001
                            _settle(fut, one_exc)
                        else:
                            _settle(fut, single[0])
                    continue
                for (_, fut), outcome in zip(batch, outcomes, strict=True):
                    _settle(fut, outcome)

    def _flush(self, envelopes: list[ComplaintEnvelope]) -> list[store.AcceptOutcome]:
        outcomes = store.accept_batch(self._sf, envelopes)
        self.flushes += 1
        fresh = [o.inbox_id for o in outcomes if not o.duplicate]
        self.accepted += len(fresh)
        # A fresh row's id is its envelope's; without an HTTP request (pollers) that id is the request id.
        trail = {env.id: self._request_ids.get(env.id, env.id) for env in envelopes}
        try:
            with request_ids.carrying(trail):
                self.runtime.send("verify_intake", fresh)
        except Exception as exc:  # noqa: BLE001 - rows are durable; the sweeper re-enqueues them
            log.error(
                "enqueue_failed",
                count=len(fresh),
                request_ids=[trail[i] for i in fresh if i in trail],
                error=f"{type(exc).__name__}: {exc}",
            )
        return outcomes

    def _apply_updates(self, updates: list[DeliveryUpdate]) -> int:
        matched = 0
        settled: list[store.DeliveryApplied] = []
        with self.runtime.sf.begin() as session:
            for update in updates:
                applied = store.apply_delivery_report(
                    session,
                    status=update.status,
                    reply_id=update.reply_id,
                    provider_message_id=update.provider_message_id,
                    detail=update.detail,
                )
                if applied is not None:
                    matched += 1
                    settled.append(applied)
        # Counted once committed, and only reports that settled a reply (a repeated report is not a second delivery).
        for applied in settled:
            if applied.settled is not None:
                self.runtime.activity.outbound(applied.provider, applied.settled)
        return matched


def _settle(fut: asyncio.Future[store.AcceptOutcome], result: store.AcceptOutcome | BaseException) -> None:
    """Resolve a waiting request with its outcome or error (it may have gone away: a client that hung up)."""
    if fut.done():
        return
    if isinstance(result, BaseException):
        fut.set_exception(result)
    else:
        fut.set_result(result)
