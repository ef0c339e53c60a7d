"""Runs the polling adapters (IMAP mailbox, X mentions and DMs, Telegram long poll) and the
server adapters (SMTP intake) inside the gateway's loop.

Each gets the same :class:`PollContext`, implemented here with the database: ``accept`` is the
webhook path's own (normalise, durably accept by group commit, then the queue), unreadable
input is kept as an ``unreadable`` inbox row, positions go to ``channel_cursors`` and health
to ``poller_state``. A poller that crashes is logged, reported and restarted with backoff; it
never takes the process down. Each adapter polls only while its process holds the adapter's lease
(gateway/poller_lease.py), so two ``intake poller`` processes are safe: one polls, one stands by.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy.exc import DataError, IntegrityError

from channels.base import (
    AcceptResult,
    DeliveryUpdate,
    Intake,
    PollContext,
    PollerHealth,
    PollingAdapter,
    ServerAdapter,
)
from channels.storage import store_bytes
from complaints import store
from complaints.models import ChannelCursor, PollerState
from gateway.accept import GroupCommitAcceptor
from gateway.poller_lease import PollerLease
from normalizer.envelope import ComplaintEnvelope, utcnow
from normalizer.normalize import InvalidIntake, build_envelope

log = structlog.get_logger(__name__)


@dataclass
class PollerSet:
    """The running pollers and servers of one process."""

    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    servers: dict[str, ServerAdapter] = field(default_factory=dict)
    listening: dict[str, str] = field(default_factory=dict)
    """Server name -> where it listens, for the operator."""

    async def stop(self) -> None:
        """Stop the servers, then ask every poller to stop and wait (cancel after 10 s)."""
        self.stopping.set()
        for server in self.servers.values():
            await server.stop()
        if self.tasks:
            _done, pending = await asyncio.wait(self.tasks, timeout=10)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def poll_context(acceptor: GroupCommitAcceptor, stopping: asyncio.Event) -> PollContext:
    """The context pollers and servers work with: accept, unreadable input, cursors, health."""
    runtime = acceptor.runtime

    async def accept(items: Sequence[Intake | ComplaintEnvelope]) -> list[AcceptResult]:
        results: list[AcceptResult | None] = [None] * len(items)
        envelopes: list[tuple[int, ComplaintEnvelope]] = []
        for index, item in enumerate(items):
            if isinstance(item, ComplaintEnvelope):
                envelopes.append((index, item))
                continue
            try:
                envelopes.append((index, build_envelope(item)))
            except InvalidIntake as exc:
                log.warning("poll_intake_refused", provider=item.provider, reason=str(exc))
                results[index] = await _keep_refused(item, f"not a message we can store: {exc}")
        for (index, _), result in zip(envelopes, await _accept_each([e for _, e in envelopes]), strict=True):
            results[index] = result
        return [r if r is not None else AcceptResult(refused="not accepted") for r in results]

    async def _accept_each(envelopes: list[ComplaintEnvelope]) -> list[AcceptResult]:
        try:
            outcomes = await acceptor.accept(envelopes)
            # part-monitor: the accept line a webhook writes too; a polled message's request id is its inbox id.
            for env, o in zip(envelopes, outcomes, strict=True):
                log.info("accepted", provider=env.provider, inbox=o.inbox_id, ticket=o.ticket, duplicate=o.duplicate)
            return [AcceptResult(inbox_id=o.inbox_id, ticket=o.ticket, duplicate=o.duplicate) for o in outcomes]
        except (DataError, IntegrityError) as exc:
            if len(envelopes) <= 1:
                log.error("poll_store_refused", provider=envelopes[0].provider, error=type(exc).__name__)
                return [await _keep_refused(envelopes[0], f"refused by the database: {type(exc).__name__}")]
        # One envelope the database refuses as sent: find it, the others are stored (again, harmlessly).
        results = []
        for envelope in envelopes:
            results.extend(await _accept_each([envelope]))
        return results

    async def _keep_refused(item: Intake | ComplaintEnvelope, reason: str) -> AcceptResult:
        """Keep what a poller fetched but we cannot store, so moving its cursor past it loses nothing.

        The record (the envelope, or the intake as the adapter read it) is stored by hash under
        ``DATA_DIR/refused`` with an ``unreadable`` inbox row naming it, as unreadable mail is.
        Raises when even that fails: the poller then keeps its cursor and tries again later.
        """
        record = item.to_dict() if isinstance(item, ComplaintEnvelope) else dataclasses.asdict(item)
        data = json.dumps(record, default=str, sort_keys=True).encode("utf-8", "surrogatepass")
        sha = await asyncio.to_thread(store_bytes, runtime.settings.data_dir / "refused", data)
        await asyncio.to_thread(
            store.keep_unreadable,
            runtime.sf,
            # Cut to the columns' sizes: an over-long name may be why the database refused it.
            channel=item.channel[:32],
            provider=item.provider[:32],
            external_id=f"refused:{sha}",
            reason=reason,
            raw_ref=sha,
        )
        runtime.activity.inbound(item.channel[:32], "unreadable")
        return AcceptResult(refused=reason)

    async def keep_unreadable(*, channel: str, provider: str, external_id: str, reason: str, raw_ref: str) -> None:
        await asyncio.to_thread(
            store.keep_unreadable,
            runtime.sf,
            channel=channel,
            provider=provider,
            external_id=external_id,
            reason=reason,
            raw_ref=raw_ref,
        )
        runtime.activity.inbound(channel, "unreadable")

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

    async def report(health: PollerHealth) -> None:
        def write() -> None:
            now = utcnow()
            with runtime.sf.begin() as session:
                row = session.get(PollerState, health.poller)
                if row is None:
                    row = PollerState(id=health.poller, provider=health.provider, status=health.status, updated_at=now)
                    session.add(row)
                row.status, row.updated_at = health.status, now
                if health.polled:
                    row.last_poll_at = now
                if health.error is not None:
                    row.last_error, row.last_error_at = health.error[:1000], now

        await asyncio.to_thread(write)

    return PollContext(
        accept=accept,
        apply_updates=apply_updates,
        cursor_get=cursor_get,
        cursor_set=cursor_set,
        stopping=stopping,
        keep_unreadable=keep_unreadable,
        report=report,
        count_inbound=runtime.activity.inbound,  # part-instrument
    )


async def _keep_polling(adapter: PollingAdapter, ctx: PollContext, lease: PollerLease) -> None:
    """Poll while this process holds the adapter's lease; wait as a standby while another does."""
    while await lease.wait_until_held(ctx.stopping):
        lost = asyncio.Event()
        keeper = asyncio.create_task(lease.keep(lost, ctx.stopping))
        # The adapter stops when the process stops or the lease is lost, whichever comes first.
        relay = asyncio.create_task(_first_of(ctx.stopping, lost))
        try:
            await _poll_until(adapter, dataclasses.replace(ctx, stopping=lost))
        finally:
            for task in (keeper, relay):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    await lease.release()


async def _first_of(stopping: asyncio.Event, lost: asyncio.Event) -> None:
    await stopping.wait()
    lost.set()


async def _poll_until(adapter: PollingAdapter, ctx: PollContext) -> None:
    backoff = 1.0
    while not ctx.stopping.is_set():
        try:
            await adapter.poll(ctx)
            backoff = 1.0
        except Exception as exc:  # noqa: BLE001 - a poller must outlive its provider's trouble
            error = f"{type(exc).__name__}: {exc}"[:300]
            log.error("poller_crashed", provider=adapter.name, error=error)
            with contextlib.suppress(Exception):
                await ctx.report(PollerHealth(poller=adapter.name, provider=adapter.name, status="error", error=error))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ctx.stopping.wait(), backoff)
        backoff = min(backoff * 2, 300.0)


async def start_intake(
    acceptor: GroupCommitAcceptor,
    *,
    pollers: Mapping[str, PollingAdapter] | None = None,
    servers: Mapping[str, ServerAdapter] | None = None,
) -> PollerSet:
    """Start a task per polling adapter and every server adapter, all on one context.

    A server that cannot start (port taken) is stopped again with the others and raises.
    """
    running = PollerSet()
    ctx = poll_context(acceptor, running.stopping)
    runtime = acceptor.runtime
    loop = asyncio.get_running_loop()
    for name, adapter in (pollers or {}).items():
        lease = PollerLease(runtime.sf, name, runtime.settings.poller_lease_seconds)
        running.tasks.append(loop.create_task(_keep_polling(adapter, ctx, lease), name=f"poller-{name}"))
        log.info("poller_started", provider=name)
    try:
        for name, server in (servers or {}).items():
            running.listening[name] = await server.start(ctx)
            running.servers[name] = server
            log.info("server_started", provider=name)
    except BaseException:
        await running.stop()
        raise
    return running
