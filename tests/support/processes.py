"""The Procfile's processes (`intake gateway`, `worker`, `poller`, ...) as subprocesses of a test."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def distributed_env(tmp_path: Path, pg_url: str, redis_namespace: tuple[str, str], **extra: str) -> dict[str, str]:
    """The environment of a process on PostgreSQL + Redis, files under ``tmp_path/var`` (``extra``: settings)."""
    redis_url, namespace = redis_namespace
    return {
        **os.environ,
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": namespace,
        **extra,
    }


def mailbox_env(mailbox: Any) -> dict[str, str]:
    """The ``IMAP_*`` settings of a process watching a :class:`tests.support.dovecot.DovecotHarness`."""
    return {
        "IMAP_HOST": mailbox.host,
        "IMAP_PORT": str(mailbox.port),
        "IMAP_USER": mailbox.user,
        "IMAP_PASSWORD": mailbox.password,
        "IMAP_SSL": "false",
        "IMAP_IDLE_SECONDS": "5",
    }


def stop_processes(procs: Iterable[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """SIGTERM every process still running, wait for each, kill what does not stop in ``timeout``."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
