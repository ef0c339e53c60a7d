"""Looks inside the Dramatiq broker, the same way for Redis and for the embedded in-process broker.

Dramatiq has no inspection API, so this module reads each broker's own structures: for Redis the
keys its dispatch script keeps (``<ns>:<queue>`` list of ready ids, ``<ns>:<queue>.msgs`` bodies,
``<ns>:<queue>.DQ`` delayed, ``<ns>:<queue>.XQ`` dead sorted by time of death,
``<ns>:__acks__.<worker>.<queue>`` in flight); for the stub broker its in-memory queues. All of it
blocks (Redis round trips): call from a thread, never on the event loop.
"""

from __future__ import annotations

import json
import time
from queue import Queue
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name

from complaints.monitoring import QueueDepth


def _age_seconds(body: bytes | str | None, now_ms: float) -> float | None:
    """Age of a queue message from its encoded body (``message_timestamp`` is milliseconds)."""
    if not body:
        return None
    try:
        stamp = json.loads(body)["message_timestamp"]
    except (ValueError, KeyError, TypeError):
        return None
    return max(0.0, (now_ms - float(stamp)) / 1000)


def _stub_depth(broker: StubBroker, queue: str, now_ms: float) -> QueueDepth:
    ready_q: Queue[Any] = broker.queues[queue]
    delayed_q: Queue[Any] = broker.queues[dq_name(queue)]
    ready = ready_q.qsize()
    # Queue.unfinished_tasks counts messages put and not yet task_done(): waiting plus in flight.
    in_flight = max(0, ready_q.unfinished_tasks - ready) + max(0, delayed_q.unfinished_tasks - delayed_q.qsize())
    with ready_q.mutex:
        first = ready_q.queue[0] if ready_q.queue else None
    return QueueDepth(
        queue=queue,
        ready=ready,
        delayed=delayed_q.qsize(),
        in_flight=in_flight,
        dead=len(broker.dead_letters_by_queue.get(queue, [])),
        oldest_ready_seconds=_age_seconds(first, now_ms),
    )


def _redis_depth(broker: Any, queue: str, now_ms: float) -> QueueDepth:
    client = broker.client
    ns = broker.namespace
    in_flight = 0
    for key in client.scan_iter(match=f"{ns}:__acks__.*.{queue}", count=500):
        in_flight += int(client.scard(key))
    for key in client.scan_iter(match=f"{ns}:__acks__.*.{dq_name(queue)}", count=500):
        in_flight += int(client.scard(key))
    with client.pipeline(transaction=False) as pipe:
        pipe.llen(f"{ns}:{queue}")
        pipe.llen(f"{ns}:{dq_name(queue)}")
        pipe.zcard(f"{ns}:{xq_name(queue)}")
        pipe.lindex(f"{ns}:{queue}", 0)
        ready, delayed, dead, first_id = pipe.execute()
    body = client.hget(f"{ns}:{queue}.msgs", first_id) if first_id else None
    return QueueDepth(
        queue=queue,
        ready=int(ready),
        delayed=int(delayed),
        in_flight=in_flight,
        dead=int(dead),
        oldest_ready_seconds=_age_seconds(body, now_ms),
    )


def queue_depths(broker: dramatiq.Broker) -> list[QueueDepth]:
    """Every declared (non-delay) queue's depth right now, by queue name."""
    now_ms = time.time() * 1000
    queues = sorted(q for q in broker.get_declared_queues() if not q.endswith(".DQ") and not q.endswith(".XQ"))
    if isinstance(broker, StubBroker):
        return [_stub_depth(broker, q, now_ms) for q in queues]
    return [_redis_depth(broker, q, now_ms) for q in queues]


# part-dlq: dead letters (list, inspect, requeue, discard) live in workers/dead_letter_queue.py and
# inbox rows dead on their own in workers/dead_rows.py;
# their public names are re-exported here, next to the queue depths.
from workers.dead_letter_queue import (  # noqa: E402 - the re-export block of part-dlq
    DeadLetter,
    DeadLetterDetail,
    DeadLetterOutcome,
    NamedRow,
    dead_letter,
    dead_letters,
    discard_dead,
    recent_actions,
    requeue_dead,
)
from workers.dead_rows import DeadRow, dead_inbox_rows, retry_dead_rows  # noqa: E402 - part-dlq

__all__ = [
    "DeadLetter",
    "DeadLetterDetail",
    "DeadLetterOutcome",
    "DeadRow",
    "NamedRow",
    "dead_inbox_rows",
    "dead_letter",
    "dead_letters",
    "discard_dead",
    "queue_depths",
    "recent_actions",
    "requeue_dead",
    "retry_dead_rows",
]
