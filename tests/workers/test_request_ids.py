"""Request ids ride on queue messages: through retries, onto the work an item causes, never onto another item."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

from config.settings import Settings
from workers import request_ids
from workers.broker import make_broker
from workers.request_ids import RequestIdMiddleware


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    """An in-process broker with the middleware where workers/broker.py puts it (first)."""
    stub = StubBroker()
    stub.emit_after("process_boot")
    stub.add_middleware(RequestIdMiddleware(), before=type(stub.middleware[0]))
    yield stub
    stub.close()


def run(broker: StubBroker) -> None:
    """Process everything queued (retries and follow-ups included), then stop the worker."""
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join("default", timeout=10_000, fail_fast=False)
        worker.join()
    finally:
        worker.stop()


def test_a_retried_message_keeps_its_request_ids(broker: StubBroker) -> None:
    """The second attempt of a failed batch is logged under the same request ids as the first."""
    seen: list[dict[str, Any]] = []

    @dramatiq.actor(broker=broker, max_retries=1, min_backoff=10, max_backoff=10)
    def flaky(ids: list[str]) -> None:
        seen.append(structlog.contextvars.get_contextvars())
        if len(seen) == 1:
            raise RuntimeError("first attempt fails")

    # Given a batch of two complaints from two HTTP requests
    with request_ids.carrying({"a": "req-a", "b": "req-b"}):
        flaky.send(["a", "b"])
    # When its first attempt fails and Dramatiq retries it
    run(broker)
    # Then both attempts carry both request ids
    assert [s.get("request_ids") for s in seen] == [["req-a", "req-b"], ["req-a", "req-b"]]


def test_work_an_item_causes_carries_that_items_request_id(broker: StubBroker) -> None:
    """A case opened for one item is routed under that item's request id, not its batch neighbour's."""
    routed: dict[str, Any] = {}

    @dramatiq.actor(broker=broker)
    def route(ids: list[str]) -> None:
        for case_id in ids:
            with request_ids.item_scope(case_id):
                routed[case_id] = structlog.contextvars.get_contextvars()

    @dramatiq.actor(broker=broker)
    def verify(ids: list[str]) -> None:
        for inbox_id in ids:
            with request_ids.item_scope(inbox_id) as request_id:
                request_ids.follow(request_id, [f"case-{inbox_id}"])
        route.send([f"case-{i}" for i in ids])

    # Given a batch of two accepted messages from two requests
    with request_ids.carrying({"a": "req-a", "b": "req-b"}):
        verify.send(["a", "b"])
    # When verify opens a case for each and sends them on to routing in one message
    run(broker)
    # Then each case's lines carry its own item's id only (not the batch's list)
    assert routed == {"case-a": {"request_id": "req-a"}, "case-b": {"request_id": "req-b"}}


def test_a_message_sent_while_serving_a_request_carries_its_id(broker: StubBroker) -> None:
    """An operator's click that queues work (no trail) gives that work the click's request id."""
    seen: list[dict[str, Any]] = []

    @dramatiq.actor(broker=broker)
    def send_reply(ids: list[str]) -> None:
        seen.append(structlog.contextvars.get_contextvars())

    bound = request_ids.bind_request("req-click")
    try:
        send_reply.send(["r1"])
    finally:
        bound.reset()
    send_reply.send(["r2"])  # the sweeper: no request, no id
    run(broker)
    assert seen == [{"request_ids": ["req-click"]}, {}]
    assert request_ids.current() is None


def test_request_ids_never_look_like_personal_data() -> None:
    """A request id is never masked by the log redaction as a NIK or a phone number."""
    from config.logging import mask

    ids = {request_ids.new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(mask(i) == i and len(i) == 16 for i in ids)


def test_a_message_that_dies_is_reported_under_its_request_ids(tmp_path: Path) -> None:
    """The dead-letter recorder's place in the chain (workers/broker.py) still sees the ids of a message that died."""
    seen: list[dict[str, Any]] = []

    class Probe(Middleware):
        """Stands where the dead-letter recorder stands: its "after" hook logs the death."""

        def after_process_message(
            self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
        ) -> None:
            if exception is not None:
                seen.append(structlog.contextvars.get_contextvars())

    broker = make_broker(Settings(_env_file=None, data_dir=tmp_path), [Probe()])  # type: ignore[call-arg]
    broker.emit_after("process_boot")

    @dramatiq.actor(broker=broker, max_retries=0)
    def poison(ids: list[str]) -> None:
        raise RuntimeError("always fails")

    with request_ids.carrying({"p": "req-p"}):
        poison.send(["p"])
    run(broker)  # type: ignore[arg-type]
    broker.close()
    assert seen == [{"request_ids": ["req-p"]}]
