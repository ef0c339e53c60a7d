"""Redis dead letters are found by their message id through an index, not by reading every body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from complaints import store
from gateway.embedded import start_workers
from tests.conftest import base_settings
from tests.support.dead_letters import Outage, envelope, spend_budget
from tests.workers.test_dead_letter_queue import _dead_inbox, _until
from tests.workers.test_dead_letters import FlakyAdapter
from workers import actors, dead_letter_queue
from workers.broker import QUEUE
from workers.queue_inspect import dead_letter, dead_letters, discard_dead
from workers.runtime import Runtime
from workers.setup import build_runtime
from workers.verify import verify_batch


@pytest.fixture
def on_redis(
    tmp_path: Path, redis_namespace: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, redis.Redis]]:
    """Workers on Redis whose verify stage always fails, so a message dies at its first attempt."""
    monkeypatch.setitem(actors.STAGES, "verify_intake", Outage().wrap(verify_batch))
    url, namespace = redis_namespace
    settings = base_settings(
        tmp_path, reply_max_retries=0, sweep_after_seconds=600, redis_url=url, redis_namespace=namespace
    )
    runtime = build_runtime(settings)
    pool = start_workers(runtime, threads=1)
    assert runtime.outbound is not None
    runtime.outbound.adapters = {"test": FlakyAdapter([])}
    try:
        yield runtime, redis.Redis.from_url(url)
    finally:
        pool.stop()
        runtime.close()


def _no_scan(*_: Any) -> Any:
    raise AssertionError("read every dead letter's body")


def test_dead_letter_is_found_through_the_index_and_forgotten_when_discarded(
    on_redis: tuple[Runtime, redis.Redis], redis_namespace: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder indexes message id -> Redis key; detail reads only that body; discard drops the entry."""
    runtime, client = on_redis
    _, namespace = redis_namespace
    index, dead_set = f"{namespace}:{QUEUE}.XQ.ids", f"{namespace}:{QUEUE}.XQ"
    # Given two dead messages
    _dead_inbox(runtime, "indexed-1")
    [outcome] = store.accept_batch(runtime.sf, [envelope("indexed-2")])
    inbox_id = outcome.inbox_id
    with runtime.sf.begin() as session:
        spend_budget(session, inbox_id)
    runtime.send("verify_intake", [inbox_id])
    letters = _until(lambda: dead_letters(runtime)[0] if dead_letters(runtime)[1] == 2 else None)
    wanted = next(d for d in letters if d.ids == (inbox_id,))
    # Then the index names each by its message id, pointing at its key in the dead-letter set
    entries = {k.decode(): v.decode() for k, v in client.hgetall(index).items()}
    assert set(entries) == {d.message_id for d in letters}
    assert client.zscore(dead_set, entries[wanted.message_id]) is not None
    assert 0 < client.pttl(index) <= runtime.broker.dead_message_ttl  # type: ignore[attr-defined]
    # When its detail is asked for, no other body is read
    with monkeypatch.context() as patched:
        patched.setattr(dead_letter_queue, "_entries", _no_scan)
        detail = dead_letter(runtime, wanted.message_id)
    assert detail is not None and detail.letter.ids == (inbox_id,)
    # And when it is discarded, its entry goes with it (the other stays)
    assert len(discard_dead(runtime, [wanted.message_id], "test", actor="staff:1").done) == 1
    assert client.hexists(index, wanted.message_id) is False
    assert len(client.hgetall(index)) == 1


def test_dead_letter_from_before_the_index_is_still_found(
    on_redis: tuple[Runtime, redis.Redis], redis_namespace: tuple[str, str]
) -> None:
    """A dead letter with no index entry (recorded by an older release) is found by reading the bodies."""
    runtime, client = on_redis
    _, namespace = redis_namespace
    inbox_id = _dead_inbox(runtime, "old-1")
    client.delete(f"{namespace}:{QUEUE}.XQ.ids")
    [letter], _ = dead_letters(runtime)
    detail = dead_letter(runtime, letter.message_id)
    assert detail is not None and detail.letter.ids == (inbox_id,)
    assert dead_letter(runtime, "no-such-message") is None
