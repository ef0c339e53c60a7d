"""Real PostgreSQL and Redis for tests: a fresh database per run, a fresh Redis namespace per test.

A missing service fails the test with the command that starts it; nothing is skipped.
"""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
import redis

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOWTO = "run `make services` (or `bash .ci/services`), which installs and starts PostgreSQL and Redis"


def create_pg_database() -> tuple[str, str]:
    """Create an empty database; return (SQLAlchemy URL, name)."""
    name = f"intake_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}; {HOWTO}", pytrace=False)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}", name


def drop_pg_database(name: str) -> None:
    """Drop a database made by :func:`create_pg_database`."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def check_redis() -> str:
    """Return the Redis URL after checking it answers."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}; {HOWTO}", pytrace=False)
    return REDIS_URL


def drop_namespace(url: str, namespace: str) -> None:
    """Delete a test's Dramatiq keys."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)
