"""part-escalation: `intake scheduler`, the Procfile's scheduler process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.gateway.test_cli import ROOT, _clean_env, intake


def test_scheduler_has_help_and_without_redis_explains_the_embedded_mode(tmp_path: Path) -> None:
    """`intake scheduler --help` works; without REDIS_URL it says `intake serve` runs the scheduler."""
    assert "usage: intake scheduler" in intake("scheduler", "--help").stdout
    result = intake("scheduler", env={"DATA_DIR": str(tmp_path)})
    assert result.returncode == 2 and "intake serve" in result.stderr


def test_a_wrong_digest_time_zone_stops_start_up_naming_the_setting(tmp_path: Path) -> None:
    """DIGEST_TIMEZONE must be a time zone the system knows (exit 2, the setting named)."""
    env = {"DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0", "DIGEST_TIMEZONE": "Asia/Bogor"}
    result = intake("scheduler", env=env)
    assert result.returncode == 2 and "DIGEST_TIMEZONE 'Asia/Bogor' is not a time zone" in result.stderr


def test_scheduler_starts_and_stops_on_sigterm(tmp_path: Path, pg_url: str, redis_namespace: tuple[str, str]) -> None:
    """The process migrates, says it runs, and exits 0 on SIGTERM."""
    redis_url, namespace = redis_namespace
    env = {
        **_clean_env(),
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": namespace,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "scheduler"],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("w"),
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert "intake scheduler: running every 60 s" in first, first + (tmp_path / "stderr.log").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, (tmp_path / "stderr.log").read_text()
    assert "intake scheduler: stopping" in (proc.stdout.read() if proc.stdout else "")
