"""`intake dlq list|show|requeue|purge` against real Redis and PostgreSQL, as an operator at a terminal meets it."""

from __future__ import annotations

import getpass
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from complaints import store
from complaints.models import DeadLetterAction, InboxMessage
from gateway.embedded import start_workers
from tests.conftest import base_settings
from tests.gateway.test_cli import intake
from tests.support.dead_letters import ERROR, Outage, envelope, spend_budget
from workers import actors
from workers.queue_inspect import dead_letters, queue_depths
from workers.runtime import Runtime
from workers.setup import build_runtime
from workers.verify import verify_batch


def _bury(runtime: Runtime, ext: str) -> str:
    """One complaint whose verify message dies (its row's budget spent); returns the inbox id."""
    [outcome] = store.accept_batch(runtime.sf, [envelope(ext)])
    with runtime.sf.begin() as session:
        spend_budget(session, outcome.inbox_id)
    runtime.send("verify_intake", [outcome.inbox_id])
    return outcome.inbox_id


def test_dlq_commands_on_redis(
    tmp_path: Path, pg_url: str, redis_namespace: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """list and show name dead messages; requeue puts one back (row reset); purge needs a reason; unknown ids: 1."""
    redis_url, namespace = redis_namespace
    monkeypatch.setitem(actors.STAGES, "verify_intake", Outage().wrap(verify_batch))
    settings = base_settings(
        tmp_path,
        reply_max_retries=0,
        sweep_after_seconds=600,
        database_url=pg_url,
        redis_url=redis_url,
        redis_namespace=namespace,
    )
    runtime = build_runtime(settings)
    pool = start_workers(runtime, threads=1)
    try:
        first, second = _bury(runtime, "cli-1"), _bury(runtime, "cli-2")
        deadline = time.monotonic() + 15
        while dead_letters(runtime)[1] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        letters, total = dead_letters(runtime)
        assert total == 2
    finally:
        pool.stop()  # the terminal acts on the queue while no worker consumes it
    try:
        env = {
            "DATA_DIR": str(tmp_path / "var"),
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "REDIS_NAMESPACE": namespace,
        }
        by_row = {letter.ids[0]: letter.message_id for letter in letters}

        listing = intake("dlq", "list", env=env)
        assert listing.returncode == 0, listing.stderr
        assert by_row[first] in listing.stdout and by_row[second] in listing.stdout
        assert "verify_intake" in listing.stdout and ERROR in listing.stdout and "2 dead letter(s)" in listing.stdout

        shown = intake("dlq", "show", by_row[first], env=env)
        assert shown.returncode == 0, shown.stderr
        assert f"inbox  {first}  state dead" in shown.stdout and "attempts:   1" in shown.stdout
        assert intake("dlq", "show", "no-such-id", env=env).returncode == 1

        requeued = intake("dlq", "requeue", by_row[first], "no-such-id", env=env)
        assert requeued.returncode == 1  # the unknown id is named, the known one is still requeued
        assert "no dead letter no-such-id" in requeued.stderr
        assert f"requeued {by_row[first]}" in requeued.stdout and "1 row(s) made ready again" in requeued.stdout
        [depth] = queue_depths(runtime.broker)
        assert (depth.ready, depth.dead) == (1, 1)
        with runtime.read_sf() as session:
            row = session.get(InboxMessage, first)
            assert (row.state, row.attempts) == ("accepted", 0)

        no_reason = intake("dlq", "purge", "--all", env=env)
        assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
        purged = intake("dlq", "purge", "--reason", "pilot test data", "--all", env=env)
        assert purged.returncode == 0, purged.stderr
        assert "1 discarded" in purged.stdout
        after = intake("dlq", "list", env=env).stdout.splitlines()
        # The discarded message's row is still dead: the listing points at the page that retries it.
        assert after == [
            "intake dlq: 1 inbox message(s) dead on their row: see /ops/health/dead-letters",
            "intake dlq: no dead letters",
        ]
        with runtime.read_sf() as session:
            actions = [(a.actor, a.action, a.message_id, a.reason) for a in session.scalars(select(DeadLetterAction))]
            assert session.get(InboxMessage, second).state == "dead"  # discard leaves the row as it is
        who = f"cli:{getpass.getuser()}"
        assert sorted(actions) == sorted(
            [(who, "requeue", by_row[first], None), (who, "discard", by_row[second], "pilot test data")]
        )
    finally:
        runtime.close()


def test_dlq_without_redis_says_where_the_dead_letters_are(tmp_path: Path) -> None:
    """Without REDIS_URL the command explains that the embedded queue's dead letters are on the console page."""
    result = intake("dlq", "list", env={"DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr and "/ops/health/dead-letters" in result.stderr
