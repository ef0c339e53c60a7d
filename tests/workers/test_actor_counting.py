"""The actor middleware counts processed, failed attempts and dead messages per actor."""

from __future__ import annotations

from pathlib import Path

import dramatiq
from dramatiq.brokers.stub import StubBroker

from tests.conftest import base_settings
from workers.activity import Activity
from workers.actor_counting import ActorActivityCounter
from workers.broker import make_broker


def test_actor_outcomes_are_counted_per_actor(tmp_path: Path) -> None:
    """One good message is processed; a poison message fails each attempt and is counted dead once."""
    # Given a broker with the counter (placed like the runtime's: before Retries) and two actors
    activity = Activity()
    events: list[tuple[str, str, str]] = []
    activity.add_listener(lambda event, labels, n: events.append((event, labels["actor"], labels["outcome"])))
    broker = make_broker(base_settings(tmp_path), [ActorActivityCounter(activity)])
    assert isinstance(broker, StubBroker)

    @dramatiq.actor(broker=broker, actor_name="fine", queue_name="intake")
    def fine(ids: list[str]) -> None:
        return None

    @dramatiq.actor(
        broker=broker, actor_name="poison", queue_name="intake", max_retries=2, min_backoff=1, max_backoff=5
    )
    def poison(ids: list[str]) -> None:
        raise ValueError("always")

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        # When each gets one message
        fine.send(["a"])
        poison.send(["b"])
        broker.join("intake", fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    # Then the good one was processed once; the poison one failed 3 attempts (1 + 2 retries) and died once
    assert events.count(("actor", "fine", "processed")) == 1
    assert events.count(("actor", "poison", "failed")) == 3
    assert events.count(("actor", "poison", "dead")) == 1
    assert ("actor", "poison", "processed") not in events
    assert len(broker.dead_letters) == 1
