"""Runs the polling adapters (X mentions and DMs, Telegram long poll) inside the gateway's loop.

Each adapter's ``poll`` gets a :class:`PollContext` whose ``accept`` is the webhook path's
own: normalise, durably accept by group commit, then the queue. A poller that crashes is
logged and restarted with backoff; it never takes the process down.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import structlog

from channels.base import DeliveryUpdate, Intake, PollContext
from complaints.models import ChannelCursor
from gateway.accept import GroupCommitAcceptor
from normalizer.envelope import utcnow
from normalizer.normalize import InvalidIntake, build_envelope

log = structlog.get_logger(__name__)


@dataclass
class PollerSet:
    """The running pollers of one process."""

    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        """Ask every poller to stop, then wait (cancel after 10 s)."""
        self.stopping.set()
        if self.tasks:
            _done, pending = await asyncio.wait(self.tasks, timeout=10)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def poll_context(acceptor: GroupCommitAcceptor, stopping: asyncio.Event) -> PollContext:
    """The context a polling adapter works with (accept, delivery reports, cursors)."""
    runtime = acceptor.runtime

    async def accept(intakes: list[Intake]) -> list[Any]:
        envelopes = []
        for intake in intakes:
            try:
                envelopes.append(build_envelope(intake))
            except InvalidIntake as exc:
                log.warning("poll_intake_refused", provider=intake.provider, reason=str(exc))
        return await acceptor.accept(envelopes)

    async def apply_updates(updates: list[DeliveryUpdate]) -> int:
        return await acceptor.apply_delivery_updates(updates)

    async def cursor_get(key: str) -> str | None:
        row = await acceptor.read(lambda session: session.get(ChannelCursor, key))
        return row.value if row is not None else None

    async def cursor_set(key: str, value: str) -> None:
        def write() -> None:
            with runtime.sf.begin() as session:
                row = session.get(ChannelCursor, key)
                if row is None:
                    session.add(ChannelCursor(id=key, value=value, updated_at=utcnow()))
                else:
                    row.value, row.updated_at = value, utcnow()

        await asyncio.to_thread(write)

    return PollContext(
        accept=accept, apply_updates=apply_updates, cursor_get=cursor_get, cursor_set=cursor_set, stopping=stopping
    )


async def _keep_polling(adapter: Any, ctx: PollContext) -> None:
    backoff = 1.0
    while not ctx.stopping.is_set():
        try:
            await adapter.poll(ctx)
            backoff = 1.0
        except Exception as exc:  # noqa: BLE001 - a poller must outlive its provider's trouble
            log.error("poller_crashed", provider=adapter.name, error=f"{type(exc).__name__}: {exc}"[:300])
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ctx.stopping.wait(), backoff)
        backoff = min(backoff * 2, 300.0)


def start_pollers(adapters: dict[str, Any], acceptor: GroupCommitAcceptor) -> PollerSet:
    """Start a task for every adapter whose settings ask for polling."""
    pollers = PollerSet()
    ctx = poll_context(acceptor, pollers.stopping)
    for adapter in adapters.values():
        enabled = getattr(adapter, "polling_enabled", None)
        if enabled is not None and enabled():
            pollers.tasks.append(asyncio.get_running_loop().create_task(_keep_polling(adapter, ctx)))
            log.info("poller_started", provider=adapter.name)
    return pollers
