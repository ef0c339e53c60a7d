"""Two poller processes on one PostgreSQL database: one polls, the other takes over when it goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.base import PollContext
from complaints import lease
from complaints.models import SchedulerLease
from gateway.accept import GroupCommitAcceptor
from gateway.pollers import PollerSet, start_intake
from tests.conftest import base_settings
from workers.setup import build_runtime

LEASE_SECONDS = 3.0


class CountingPoller:
    """A polling adapter that notes when it polls and when it is told to stop."""

    name = "imap"

    def __init__(self) -> None:
        self.active = False
        self.starts: list[float] = []
        self.stops: list[float] = []

    def polling_enabled(self) -> bool:
        return True

    async def poll(self, ctx: PollContext) -> None:
        self.active = True
        self.starts.append(time.monotonic())
        try:
            await ctx.stopping.wait()
        finally:
            self.active = False
            self.stops.append(time.monotonic())


class PollerProcess:
    """What one ``intake poller`` process runs: its own runtime, acceptor and poller set."""

    def __init__(self, pg_url: str, tmp_path: Path) -> None:
        settings = base_settings(tmp_path, database_url=pg_url, poller_lease_seconds=LEASE_SECONDS)
        self.runtime = build_runtime(settings)
        self.acceptor = GroupCommitAcceptor(self.runtime)
        self.poller = CountingPoller()
        self.running: PollerSet | None = None

    async def start(self) -> None:
        self.acceptor.start()
        self.running = await start_intake(self.acceptor, pollers={"imap": self.poller})

    async def die(self) -> None:
        """As a SIGKILL would: the tasks end without a word to the database (no lease release)."""
        assert self.running is not None
        for task in self.running.tasks:
            task.cancel()
        await asyncio.gather(*self.running.tasks, return_exceptions=True)
        self.poller.active = False

    async def close(self) -> None:
        if self.running is not None:
            await self.running.stop()
        await self.acceptor.stop()
        self.runtime.close()


@pytest.fixture
async def two(pg_url: str, tmp_path: Path) -> AsyncIterator[tuple[PollerProcess, PollerProcess]]:
    first = PollerProcess(pg_url, tmp_path / "a")
    second = PollerProcess(pg_url, tmp_path / "b")
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def until(condition: Callable[[], Any], timeout: float) -> float:
    """Seconds until ``condition()`` holds; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_only_one_of_two_pollers_polls_and_the_other_takes_over_when_it_dies(
    two: tuple[PollerProcess, PollerProcess],
) -> None:
    first, second = two
    await first.start()
    await until(lambda: first.poller.active, 5)
    await second.start()
    # Several renewals long: the second stands by the whole time.
    await asyncio.sleep(LEASE_SECONDS * 1.5)
    assert first.poller.active and not second.poller.starts
    await first.die()
    took = await until(lambda: second.poller.active, LEASE_SECONDS * 3)
    assert took <= LEASE_SECONDS + 1.0, f"standby took {took:.2f} s to take over"
    assert len(second.poller.starts) == 1 and len(first.poller.starts) == 1
    with second.runtime.sf() as session:
        row = session.scalar(select(SchedulerLease).where(SchedulerLease.name == "poller:imap"))
        assert row is not None and row.expires_at > row.renewed_at


async def test_a_clean_stop_hands_over_at_the_next_check(two: tuple[PollerProcess, PollerProcess]) -> None:
    first, second = two
    await first.start()
    await until(lambda: first.poller.active, 5)
    await second.start()
    assert first.running is not None
    await first.running.stop()
    first.running = None
    took = await until(lambda: second.poller.active, LEASE_SECONDS)
    assert took <= LEASE_SECONDS / 6 + 1.0


async def test_a_holder_that_cannot_renew_stops_before_its_lease_runs_out(
    two: tuple[PollerProcess, PollerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Database gone for the holder: it stops polling before a standby could take the lease over."""
    first, second = two
    await first.start()
    await until(lambda: first.poller.active, 5)
    renewed = time.monotonic()
    real = lease.acquire

    def failing(session: Any, name: str, holder: str, **kw: Any) -> bool:
        if first.running is not None and not second.running:
            raise OSError("database gone")
        return real(session, name, holder, **kw)

    monkeypatch.setattr(lease, "acquire", failing)
    await until(lambda: not first.poller.active, LEASE_SECONDS * 2)
    stopped = first.poller.stops[-1]
    # The row expires LEASE_SECONDS * 5/6 after the last renewal (at most one interval before `renewed`).
    assert stopped - renewed < LEASE_SECONDS * 5 / 6
    # When the database answers again, it (or a standby) polls again.
    await second.start()
    await until(lambda: first.poller.active or second.poller.active, LEASE_SECONDS * 3)
    assert not (first.poller.active and second.poller.active)
