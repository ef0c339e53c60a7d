"""Separate gateway and worker processes (Procfile roles) share one PROMETHEUS_MULTIPROC_DIR:
the gateway's /metrics adds up both, and the worker serves Dramatiq's own metrics on its port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import stop_processes
from tests.support.system import free_port

TOKEN = "kannel-inbound-secret"
NIK = "3271014505900002"


def _spawn(role: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", role],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return str(answer.read().decode())
    except OSError:
        return None


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def _wait(fn: Any, timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def test_gateway_metrics_add_up_worker_processes_and_dramatiq_exports_its_own(
    tmp_path: Path, pg_url: str, redis_namespace: tuple[str, str]
) -> None:
    """An SMS taken by `intake gateway` and processed by `intake worker` shows in both processes' numbers."""
    redis_url, namespace = redis_namespace
    port, dramatiq_port = free_port(), free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": namespace,
        "SECRET_KEY": "metrics-test-secret-key-0123456789abcdef0123",
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "KANNEL_SENDSMS_URL": "http://127.0.0.1:9/cgi-bin/sendsms",
        "KANNEL_USERNAME": "u",
        "KANNEL_PASSWORD": "p",
        "KANNEL_INBOUND_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    log = tmp_path / "processes.log"
    procs = [
        _spawn("gateway", env, log),
        _spawn("worker", {**env, "DRAMATIQ_PROMETHEUS_PORT": str(dramatiq_port)}, log),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(f"{base}/readyz"), 30, "gateway /readyz", log)
        # (its answer is empty until a message was processed)
        _wait(lambda: _get(f"http://127.0.0.1:{dramatiq_port}/") is not None, 30, "the worker's Dramatiq exporter", log)
        # Given one SMS through the gateway process
        query = urlencode(
            {
                "token": TOKEN,
                "from": "+6281234567890",
                "id": "mp-1",
                "text": f"LAPOR#{NIK}#Siti#Jl. Pajajaran 5#PJU mati",
            }
        )
        assert _get(f"{base}/channels/sms/kannel?{query}") is not None
        # When the worker process has verified it
        verified = "intake_actor_messages_total"
        _wait(
            lambda: _sample(_get(f"{base}/metrics") or "", verified, actor="verify_intake", outcome="processed") == 1,
            30,
            "the worker's count in the gateway's /metrics",
            log,
        )
        # Then the gateway's /metrics holds the gateway's intake count and the worker's actor count
        text = _get(f"{base}/metrics") or ""
        assert _sample(text, "intake_inbound_messages_total", channel="sms", outcome="accepted") == 1
        # And the worker's own port serves Dramatiq's middleware metrics for the same message
        dramatiq_text = _get(f"http://127.0.0.1:{dramatiq_port}/") or ""
        assert _sample(dramatiq_text, "dramatiq_messages_total", actor_name="verify_intake", queue_name="intake") == 1
    finally:
        stop_processes(procs)
