"""Shared fixtures: settings for the two ways to run (embedded, distributed)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from tests.support import services

# part-abuse: the per-address and per-sender limits are off in every test and every process a test
# starts (tests send many messages from one phone and one address); the tests of the limits
# themselves pass rate_limits_enabled=True (tests/gateway/test_rate_limits.py, tests/workers/test_sender_limits.py).
os.environ["RATE_LIMITS_ENABLED"] = "false"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (sweepers of other tests never see its rows)."""
    url, name = services.create_pg_database()
    yield url
    services.drop_pg_database(name)


@pytest.fixture
def redis_namespace() -> Iterator[tuple[str, str]]:
    """A Redis URL and a namespace of its own for one test."""
    url = services.check_redis()
    namespace = f"intake-test-{uuid.uuid4().hex[:8]}"
    yield url, namespace
    services.drop_namespace(url, namespace)


def base_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a test: files under tmp_path, fast retries and sweeps, ignoring any .env."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "var",
        "host": "127.0.0.1",
        "port": 0,
        "retry_min_backoff_ms": 200,
        "retry_max_backoff_ms": 2000,
        "sweep_interval_seconds": 1.0,
        "sweep_after_seconds": 5.0,
        "worker_threads": 4,
        # part-monitor: every running system beats and stores its counters each second.
        "monitor_interval_seconds": 1.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


@pytest.fixture(params=["embedded", "distributed"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """Settings overrides for SQLite + in-process queue, and for PostgreSQL + Redis."""
    if request.param == "embedded":
        return {}
    url = request.getfixturevalue("pg_url")
    redis_url, namespace = request.getfixturevalue("redis_namespace")
    return {"database_url": url, "redis_url": redis_url, "redis_namespace": namespace}
