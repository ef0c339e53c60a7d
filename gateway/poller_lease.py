"""One active poller per adapter among several ``intake poller`` processes (issue 12, poller HA).

Each polling adapter (IMAP mailbox, X, Telegram long poll) polls only while its process holds the
lease row ``poller:<adapter name>`` (the scheduler's ``scheduler_leases`` table, complaints/lease.py:
the same statements on SQLite and PostgreSQL, and no connection held open for the lock). The holder
renews it every sixth of ``POLLER_LEASE_SECONDS``; a standby tries to take it just as often. A
holder that dies stops renewing, so its lease runs out at most ``POLLER_LEASE_SECONDS`` minus one
check interval after its last renewal, and the standby's next check, at most one interval later,
takes it over: within ``POLLER_LEASE_SECONDS`` of the death.

A holder that cannot renew (database down) stops its adapter as soon as its lease could have
expired, before anyone else could take it over, so two processes never poll at once on purpose.
Should it happen anyway (a process frozen longer than the lease), nothing is stored twice: every
poller's accept is deduplicated on the provider's message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from complaints import lease
from normalizer.envelope import utcnow

log = structlog.get_logger(__name__)

CHECKS_PER_LEASE = 6


def holder_id() -> str:
    """Who holds a lease, for an operator reading the row: host, process id and a random tail."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


class PollerLease:
    """The lease of one polling adapter, taken and kept by this process."""

    def __init__(self, sf: sessionmaker[Session], adapter: str, seconds: float, *, holder: str | None = None) -> None:
        self.sf = sf
        self.name = f"poller:{adapter}"[:40]
        self.holder = holder or holder_id()
        self.interval = seconds / CHECKS_PER_LEASE
        # The row's expiry: a standby checking one interval after it is still within `seconds`.
        self.ttl = timedelta(seconds=seconds - self.interval)
        self.valid_until = 0.0
        """time.monotonic() until which the last successful renewal holds the lease for us."""

    async def _try(self) -> bool | None:
        """Take or renew the lease once: True held, False held by another, None the database failed."""

        def acquire() -> bool:
            with self.sf.begin() as session:
                return lease.acquire(session, self.name, self.holder, now=utcnow(), ttl=self.ttl)

        started = time.monotonic()
        try:
            # Bounded: a hung connection must not keep a holder polling past its lease.
            held = await asyncio.wait_for(asyncio.to_thread(acquire), self.interval)
        except Exception as exc:  # noqa: BLE001 - a database outage must not end the process
            log.warning("poller_lease_failed", lease=self.name, error=type(exc).__name__)
            return None
        if held:
            # Counted from before the statement: the row may have been written at its very start.
            self.valid_until = started + self.ttl.total_seconds()
        return held

    async def wait_until_held(self, stopping: asyncio.Event) -> bool:
        """Wait until this process holds the lease (True) or ``stopping`` is set (False)."""
        said_standby = False
        while not stopping.is_set():
            if await self._try():
                log.info("poller_lease_taken", lease=self.name, holder=self.holder)
                return True
            if not said_standby:
                log.info("poller_standby", lease=self.name, holder=self.holder)
                said_standby = True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval)
        return False

    async def keep(self, lost: asyncio.Event, stopping: asyncio.Event) -> None:
        """Renew the lease until ``stopping``; set ``lost`` when it is taken or may have run out."""
        while not stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval)
            if stopping.is_set():
                break
            held = await self._try()
            if held:
                continue
            if held is False or time.monotonic() + self.interval >= self.valid_until:
                # Another holder has it, or it runs out before the next check: stop polling now.
                log.warning("poller_lease_lost", lease=self.name, holder=self.holder)
                lost.set()
                return

    async def release(self) -> None:
        """Give the lease up on a clean stop, so a standby takes over at its next check."""

        def give_up() -> None:
            with self.sf.begin() as session:
                lease.release(session, self.name, self.holder, now=utcnow())

        try:
            await asyncio.to_thread(give_up)
        except Exception as exc:  # noqa: BLE001 - the lease runs out on its own anyway
            log.warning("poller_lease_release_failed", lease=self.name, error=type(exc).__name__)
