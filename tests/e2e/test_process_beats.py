"""The Procfile's processes beat: one that stops cleanly says so, one killed with -9 goes stale."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from complaints.db import upgrade
from complaints.models import ProcessBeat
from tests.support.processes import distributed_env
from tests.support.system import free_port

ROOT = Path(__file__).resolve().parents[2]


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *args], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT
    )


def wait(fn: Any, timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; processes said:\n{log.read_text()[-3000:]}")


def test_stopped_process_is_marked_stopped_and_killed_one_goes_stale(
    tmp_path: Path, pg_url: str, redis_namespace: tuple[str, str]
) -> None:
    """`intake worker`, `scheduler`, `smtp` beat with their role; SIGTERM marks stopped, SIGKILL leaves a stale beat."""
    env = distributed_env(
        tmp_path,
        pg_url,
        redis_namespace,
        MONITOR_INTERVAL_SECONDS="0.2",
        SMTP_INTAKE_PORT=str(free_port()),
        SMTP_INTAKE_DOMAINS="bogorkota.go.id",
    )
    log = tmp_path / "processes.log"
    engine = create_engine(pg_url)
    upgrade(engine)  # before anyone looks for heartbeats (each process migrates too, one at a time)

    def beats() -> dict[int, ProcessBeat]:
        with Session(engine) as session:
            return {b.pid: b for b in session.scalars(select(ProcessBeat))}

    # Given a worker, the scheduler and an SMTP intake process
    worker, smtp = spawn(["worker", "--threads", "2"], env, log), spawn(["smtp"], env, log)
    scheduler = spawn(["scheduler"], env, log)
    procs = [worker, smtp, scheduler]
    try:
        wait(lambda: {worker.pid, smtp.pid, scheduler.pid} <= beats().keys(), 60, "three heartbeats", log)
        rows = beats()
        assert (rows[worker.pid].role, rows[worker.pid].threads, rows[worker.pid].stopped_at) == ("worker", 2, None)
        assert (rows[smtp.pid].role, rows[smtp.pid].threads) == ("smtp", 0)
        assert rows[scheduler.pid].role == "scheduler"
        # When the worker and the scheduler are stopped and the SMTP process is killed
        worker.send_signal(signal.SIGTERM)
        scheduler.send_signal(signal.SIGTERM)
        smtp.send_signal(signal.SIGKILL)
        assert worker.wait(30) == 0 and scheduler.wait(30) == 0
        smtp.wait(10)
        last_beat = beats()[smtp.pid].beat_at
        time.sleep(1.0)  # five monitor intervals
        # Then the stopped one says so, and the killed one neither says it stopped nor beats any more
        rows = beats()
        assert rows[worker.pid].stopped_at is not None and rows[scheduler.pid].stopped_at is not None
        assert rows[smtp.pid].stopped_at is None and rows[smtp.pid].beat_at == last_beat
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        engine.dispose()
