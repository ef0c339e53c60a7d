"""The monitor thread: heartbeats, per-minute counters and queue samples reach the database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from complaints import monitoring
from complaints.models import ActivityCount, ProcessBeat, QueueSample
from normalizer.envelope import utcnow
from tests.conftest import base_settings
from workers.monitor import Monitor
from workers.runtime import Runtime
from workers.setup import build_runtime


@pytest.fixture
def runtime(tmp_path: Path, backend: dict[str, Any]) -> Iterator[Runtime]:
    """A process's runtime (no workers consuming) on SQLite + stub broker or PostgreSQL + Redis."""
    built = build_runtime(base_settings(tmp_path, monitor_interval_seconds=0.1, **backend))
    yield built
    built.close()


def wait_for(runtime: Runtime, fn: Callable[[Session], Any], timeout: float = 10.0) -> Any:
    """Poll ``fn(session)`` until truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with runtime.read_sf() as session:
            last = fn(session)
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def beat_row(runtime: Runtime, process_id: str) -> ProcessBeat | None:
    with runtime.read_sf() as session:
        return session.get(ProcessBeat, process_id)


def counted(runtime: Runtime, metric: str) -> dict[str, int]:
    with runtime.read_sf() as session:
        return monitoring.totals_since(session, utcnow() - timedelta(hours=1), metric)


def test_monitor_writes_heartbeat_counters_and_marks_a_clean_stop(runtime: Runtime) -> None:
    """A running process beats with its role and threads, its counts reach the table, a stop is recorded."""
    # Given a worker process that has done some work
    runtime.activity.inbound("sms", "accepted", 3)
    runtime.activity.actor("verify_intake", "processed")
    monitor = Monitor(runtime, "worker", 6)
    # When its monitor runs
    monitor.start()
    try:
        first = wait_for(runtime, lambda s: s.get(ProcessBeat, monitor.process_id))
        assert (first.role, first.threads, first.pid, first.stopped_at) == ("worker", 6, monitor.pid, None)
        assert monitor.process_id.startswith(f"{monitor.host}:{monitor.pid}:")
        wait_for(runtime, lambda s: monitoring.totals_since(s, utcnow() - timedelta(hours=1), "inbound"))
        # Then its heartbeat keeps moving while it runs
        wait_for(runtime, lambda s: s.get(ProcessBeat, monitor.process_id).beat_at > first.beat_at)
        # And work done later is counted too, and added to what was there
        runtime.activity.inbound("sms", "accepted", 2)
        wait_for(runtime, lambda s: counted(runtime, "inbound") == {"sms:accepted": 5})
    finally:
        runtime.activity.outbound("kannel", "sent")  # done just before the process ends
        monitor.stop()
    assert not monitor.is_alive()
    # And a clean stop stores the last counts and says it stopped (it is not a missing process)
    assert counted(runtime, "outbound") == {"kannel:sent": 1}
    assert counted(runtime, "actor") == {"verify_intake:processed": 1}
    row = beat_row(runtime, monitor.process_id)
    assert row is not None and row.stopped_at is not None


def test_counts_survive_a_failed_write_and_the_thread_lives_on(tmp_path: Path) -> None:
    """While the counters table cannot be written the counts wait in memory; they are stored once it can."""
    runtime = build_runtime(base_settings(tmp_path, monitor_interval_seconds=0.1))
    monitor = Monitor(runtime, "serve", 4)
    try:
        # Given a database that refuses the monitor's writes (the table is gone for a while)
        with runtime.engine.begin() as conn:
            conn.execute(text("ALTER TABLE activity_counts RENAME TO activity_counts_away"))
        runtime.activity.inbound("web", "accepted", 2)
        # When several passes fail
        with structlog.testing.capture_logs() as logs:
            monitor.start()
            deadline = time.monotonic() + 10
            while len([e for e in logs if e["event"] == "monitor_write_failed"]) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            runtime.activity.inbound("web", "accepted", 1)
            time.sleep(0.3)
        failures = [e for e in logs if e["event"] == "monitor_write_failed"]
        assert len(failures) >= 3 and "activity_counts" in failures[0]["error"]
        assert monitor.is_alive()
        assert beat_row(runtime, monitor.process_id) is None  # the beat shares the failed transaction
        # Then, once the database is back, nothing counted meanwhile is lost
        with runtime.engine.begin() as conn:
            conn.execute(text("ALTER TABLE activity_counts_away RENAME TO activity_counts"))
        wait_for(runtime, lambda s: counted(runtime, "inbound") == {"web:accepted": 3})
        assert beat_row(runtime, monitor.process_id) is not None
    finally:
        monitor.stop()
        runtime.close()


def test_queue_is_sampled_once_a_minute_by_the_first_of_two_monitors(runtime: Runtime) -> None:
    """Two processes on one queue store one depth per queue and minute: the first one's; next minute again."""
    minute = monitoring.minute_of(utcnow())
    now = {"at": minute + timedelta(seconds=5)}

    def clock() -> datetime:
        return now["at"]

    first, second = Monitor(runtime, "gateway", 0, clock=clock), Monitor(runtime, "worker", 4, clock=clock)
    # Given an empty queue sampled by the first process
    first.pass_once()
    # When messages wait, and both processes pass again within the same minute
    runtime.send("verify_intake", ["a"])
    runtime.send("verify_intake", ["b"])
    now["at"] = minute + timedelta(seconds=30)
    second.pass_once()
    first.pass_once()
    # Then the minute keeps the first sample only
    with runtime.read_sf() as session:
        rows = [(r.minute, r.queue, r.ready) for r in session.scalars(select(QueueSample))]
    assert rows == [(minute, "intake", 0)]
    # And in the next minute whichever passes first samples the queue as it is then
    now["at"] = minute + timedelta(seconds=62)
    second.pass_once()
    first.pass_once()
    with runtime.read_sf() as session:
        rows = [(r.minute, r.ready) for r in session.scalars(select(QueueSample).order_by(QueueSample.minute))]
    assert rows == [(minute, 0), (minute + timedelta(minutes=1), 2)]


def test_old_monitoring_rows_are_forgotten(runtime: Runtime) -> None:
    """A starting monitor drops heartbeats, counters and samples older than two days, keeps recent ones."""
    old = monitoring.minute_of(utcnow() - timedelta(days=3))
    recent = monitoring.minute_of(utcnow() - timedelta(hours=1))
    with runtime.sf.begin() as session:
        monitoring.add_counts(session, {(old, "inbound", "sms:accepted"): 1, (recent, "inbound", "sms:accepted"): 2})
        monitoring.add_queue_samples(session, old, [monitoring.QueueDepth("intake", 1, 0, 0, 0)])
        monitoring.beat(session, monitoring.ProcessInfo("gone:1:1", "worker", "gone", 1, 4, old, old, None))
    Monitor(runtime, "poller", 0).pass_once()
    with runtime.read_sf() as session:
        assert [c.minute for c in session.scalars(select(ActivityCount))] == [recent]
        assert session.scalars(select(QueueSample).where(QueueSample.minute == old)).all() == []
        assert session.get(ProcessBeat, "gone:1:1") is None


def test_two_monitors_in_one_process_get_their_own_rows(runtime: Runtime) -> None:
    """Two systems started in one process within the same second still beat on separate rows."""
    a, b = Monitor(runtime, "serve", 4), Monitor(runtime, "serve", 4)
    try:
        assert a.process_id != b.process_id
    finally:
        a.stop()
        b.stop()


def test_an_unknown_role_is_refused(runtime: Runtime) -> None:
    """A typo in a role name fails at start, not on the health page."""
    with pytest.raises(ValueError, match="unknown process role"):
        Monitor(runtime, "workers", 4)
