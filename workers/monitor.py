"""The monitor thread every process runs: heartbeat, activity counters and queue samples to the database.

Each process (``intake serve``, ``gateway``, ``worker``, ``poller``, ``smtp``) starts one
:class:`Monitor`. Every ``MONITOR_INTERVAL_SECONDS`` it

- adds what :attr:`Runtime.activity <workers.runtime.Runtime.activity>` counted since the last
  time to ``activity_counts`` (a failed write puts the counts back, so the next pass carries them);
- moves its heartbeat row (``process_beats``, id ``<host>:<pid>:<started epoch>``);
- once a minute stores the depth of every queue (``queue_samples``; the first process to write a
  minute wins, the others see the minute is taken and skip the broker round trips);
- once an hour drops heartbeats, counters and samples older than two days.

:meth:`Monitor.stop` does a last pass and marks the process stopped, so a process that ends
cleanly is never reported missing, while one that is killed stops beating and goes stale.
Nothing here raises out of the thread: a database hiccup is logged and tried again next pass.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from complaints import monitoring
from complaints.models import QueueSample
from normalizer.envelope import utcnow
from workers.queue_inspect import queue_depths

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

ROLES = ("serve", "gateway", "worker", "poller", "smtp", "scheduler")
FORGET_EVERY = timedelta(hours=1)
"""How often a process drops monitoring rows older than ``monitoring.forget_old``'s two days."""

_ids_lock = threading.Lock()
_ids_in_use: set[str] = set()


def _process_id(host: str, pid: int, started: datetime) -> str:
    """``<host>:<pid>:<started epoch>``, made unique within this process (tests run several systems)."""
    base = f"{host}:{pid}:{int(started.timestamp())}"
    with _ids_lock:
        candidate, n = base, 1
        while candidate in _ids_in_use:
            n += 1
            candidate = f"{base}.{n}"
        _ids_in_use.add(candidate)
    return candidate


class Monitor(threading.Thread):
    """Writes one process's heartbeat, counters and queue samples until :meth:`stop`."""

    def __init__(self, runtime: Runtime, role: str, threads: int, *, clock: Callable[[], datetime] = utcnow) -> None:
        """``clock`` (UTC now) is for tests that walk through minutes."""
        if role not in ROLES:
            raise ValueError(f"unknown process role {role!r}; one of {', '.join(ROLES)}")
        super().__init__(name=f"monitor-{role}", daemon=True)
        self.runtime = runtime
        self.role = role
        self.threads = threads
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.clock = clock
        self.started_at = clock()
        self.process_id = _process_id(self.host, self.pid, self.started_at)
        self._stopping = threading.Event()
        self._sampled_minute: datetime | None = None
        self._forgot_at: datetime | None = None

    def run(self) -> None:
        """Pass now, then every interval until :meth:`stop`; then one last pass and the stop mark."""
        # A floor: an interval of 0 would spin, writing to the database as fast as it can.
        interval = max(0.05, self.runtime.settings.monitor_interval_seconds)
        self.pass_once()
        while not self._stopping.wait(interval):
            self.pass_once()
        self.pass_once()
        self._mark_stopped()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread after a last drain, with the process marked stopped (waits up to ``timeout``)."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)
        with _ids_lock:
            _ids_in_use.discard(self.process_id)

    def pass_once(self) -> None:
        """One pass: counters and heartbeat, the minute's queue sample, now and then the clean-up."""
        now = self.clock()
        self._write_counts_and_beat(now)
        minute = monitoring.minute_of(now)
        if minute != self._sampled_minute:
            self._sample_queues(minute)
        if self._forgot_at is None or now - self._forgot_at >= FORGET_EVERY:
            self._forget_old(now)

    def info(self, beat_at: datetime) -> monitoring.ProcessInfo:
        """This process as its heartbeat row describes it."""
        return monitoring.ProcessInfo(
            id=self.process_id,
            role=self.role,
            host=self.host,
            pid=self.pid,
            threads=self.threads,
            started_at=self.started_at,
            beat_at=beat_at,
            stopped_at=None,
        )

    def _write_counts_and_beat(self, now: datetime) -> None:
        counts = self.runtime.activity.drain()
        try:
            # One transaction per pass: on SQLite every write waits for the one writer.
            with self.runtime.sf.begin() as session:
                monitoring.add_counts(session, counts)
                monitoring.beat(session, self.info(now))
        except Exception as exc:  # noqa: BLE001 - the monitor must outlive a database hiccup
            self.runtime.activity.restore(counts)
            log.warning("monitor_write_failed", process=self.process_id, error=f"{type(exc).__name__}: {exc}"[:300])

    def _sample_queues(self, minute: datetime) -> None:
        try:
            with self.runtime.read_sf() as session:
                taken = session.scalar(select(QueueSample.minute).where(QueueSample.minute == minute).limit(1))
            if taken is None:
                # Blocking Redis round trips: fine here, this is the monitor's own thread.
                depths = queue_depths(self.runtime.broker)
                with self.runtime.sf.begin() as session:
                    monitoring.add_queue_samples(session, minute, depths)
        except Exception as exc:  # noqa: BLE001 - tried again on the next pass of this minute
            log.warning("queue_sample_failed", process=self.process_id, error=f"{type(exc).__name__}: {exc}"[:300])
            return
        self._sampled_minute = minute

    def _forget_old(self, now: datetime) -> None:
        try:
            with self.runtime.sf.begin() as session:
                monitoring.forget_old(session)
        except Exception as exc:  # noqa: BLE001 - old rows can wait for the next hour
            log.warning("monitor_forget_failed", process=self.process_id, error=f"{type(exc).__name__}: {exc}"[:300])
        self._forgot_at = now

    def _mark_stopped(self) -> None:
        try:
            with self.runtime.sf.begin() as session:
                monitoring.mark_stopped(session, self.process_id)
        except Exception as exc:  # noqa: BLE001 - it then looks like a killed process: stale, not lost
            log.warning("monitor_stop_not_saved", process=self.process_id, error=f"{type(exc).__name__}: {exc}"[:300])
