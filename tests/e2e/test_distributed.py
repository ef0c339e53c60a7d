"""The Procfile's processes on PostgreSQL + Redis: a worker killed with -9 loses no complaint."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from complaints.models import Complaint, Reply
from tests.support.processes import stop_processes
from tests.support.system import free_port

NIK = "3271014505900002"
TOKEN = "tok"


class SlowSendsms:
    """A stand-in for Kannel's sendsms that can hold requests open (a stuck provider)."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.completed: list[dict[str, list[str]]] = []
        self.started = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                outer.started.set()
                held = outer.hold.is_set()
                while outer.hold.is_set():
                    time.sleep(0.05)
                # A request held while its worker was killed never reached the citizen:
                # only requests answered normally count as delivered.
                if not held:
                    outer.completed.append(parse_qs(urlparse(self.path).query))
                self.send_response(202)
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(b"0: Accepted for delivery")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/sendsms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.hold.clear()
        self.server.shutdown()


@pytest.fixture
def sendsms() -> Iterator[SlowSendsms]:
    fake = SlowSendsms()
    yield fake
    fake.close()


def _spawn(role: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "gateway.cli", role]
    return subprocess.Popen(
        args, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2]
    )


def _wait(fn: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_task_still_completes(
    tmp_path: Path, pg_url: str, redis_namespace: tuple[str, str], sendsms: SlowSendsms
) -> None:
    """kill -9 of a worker while it sends the reply: another worker finishes and the citizen gets the ticket."""
    redis_url, namespace = redis_namespace
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": namespace,
        "SECRET_KEY": "distributed-test-secret-key-0123456789abcdef",  # the gateway refuses to start without one
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "KANNEL_SENDSMS_URL": sendsms.url,
        "KANNEL_USERNAME": "u",
        "KANNEL_PASSWORD": "p",
        "KANNEL_INBOUND_TOKEN": TOKEN,
        "SWEEP_INTERVAL_SECONDS": "1",
        "SWEEP_AFTER_SECONDS": "4",
        "WORKER_HEARTBEAT_TIMEOUT_SECONDS": "5",
        "RETRY_MIN_BACKOFF_MS": "200",
        "SEND_TIMEOUT_SECONDS": "3",
    }
    log = tmp_path / "processes.log"
    engine = create_engine(pg_url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # Given the web and worker processes of the Procfile, and a provider that hangs
        procs.append(_spawn("gateway", env, log))
        first_worker = _spawn("worker", env, log)
        procs.append(first_worker)
        _wait(lambda: _ready(port), 30, "gateway /readyz")
        sendsms.hold.set()
        query = urlencode(
            {
                "token": TOKEN,
                "from": "+6281234567890",
                "to": "1708",
                "id": "kill-9-test",
                "text": f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran 5#jalan berlubang di Jl. Sudirman",
            }
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/channels/sms/kannel?{query}", timeout=10) as resp:
            assert resp.status == 200
        # When the worker is killed while it is in the middle of sending the reply
        assert sendsms.started.wait(30), log.read_text()[-3000:]
        first_worker.send_signal(signal.SIGKILL)
        first_worker.wait(10)
        sendsms.hold.clear()
        procs.append(_spawn("worker", env, log))
        # Then another worker completes the complaint and the reply reaches the provider
        _wait(lambda: sendsms.completed, 60, "the reply to reach sendsms")
        with Session(engine) as session:
            case = session.scalar(select(Complaint))
            assert case is not None and case.status == "disposisi"
            reply = _wait(
                lambda: session.scalar(
                    select(Reply).where(Reply.status == "sent").execution_options(populate_existing=True)
                ),
                20,
                "reply marked sent",
            )
            assert reply.complaint_id == case.id
        texts = [q["text"][0] for q in sendsms.completed]
        assert all(case.ticket in t for t in texts), texts
    finally:
        stop_processes(procs)
        engine.dispose()


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False
