"""Run the whole system (web + workers) in a background thread for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from config.settings import Settings
from gateway.embedded import EmbeddedSystem, start_system

T = TypeVar("T")


class SystemThread:
    """An :class:`EmbeddedSystem` served from its own event loop thread."""

    def __init__(self, settings: Settings, *, with_workers: bool = True) -> None:
        self.settings = settings
        self.with_workers = with_workers
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="system-under-test", daemon=True)
        self.system: EmbeddedSystem | None = None

    def start(self) -> SystemThread:
        """Start serving; returns once the port is open."""
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(start_system(self.settings, with_workers=self.with_workers), self.loop)
        self.system = fut.result(60)
        return self

    @property
    def url(self) -> str:
        """Base URL of the running gateway."""
        assert self.system is not None
        return self.system.urls[0]

    def db(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` against the system's database."""
        assert self.system is not None
        with self.system.runtime.read_sf() as session:
            return fn(session)

    def wait_for(self, fn: Callable[[Session], Any], timeout: float = 15.0, interval: float = 0.1) -> Any:
        """Poll ``fn(session)`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.db(fn)
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")

    def stop(self) -> None:
        """Stop the system and its loop."""
        if self.system is not None:
            asyncio.run_coroutine_threadsafe(self.system.stop(), self.loop).result(30)
            self.system = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@contextlib.contextmanager
def running_system(settings: Settings, *, with_workers: bool = True) -> Iterator[SystemThread]:
    """Context manager around :class:`SystemThread`."""
    st = SystemThread(settings, with_workers=with_workers).start()
    try:
        yield st
    finally:
        st.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_db(system: Any, fn: Callable[[Session], Any], timeout: float = 15.0) -> Any:
    """Poll ``fn(session)`` on an in-loop :class:`EmbeddedSystem` until truthy, without blocking the loop."""
    import asyncio

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with system.runtime.read_sf() as session:
            last = fn(session)
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
