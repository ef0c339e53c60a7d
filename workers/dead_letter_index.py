"""Redis: which dead letter is which, without reading every body.

Dramatiq keeps a queue's dead letters in ``<ns>:<queue>.XQ`` (a sorted set) and their bodies in
``<ns>:<queue>.XQ.msgs``, both keyed by the ``redis_message_id`` of the last delivery, a key the
operator never sees: the console and ``intake dlq`` name a dead letter by Dramatiq's
``message_id``, which is only inside the body. This index, the hash ``<ns>:<queue>.XQ.ids``
(``message_id`` -> ``redis_message_id``), is written by the dead-letter recorder as Retries gives
up on a message, so one dead letter is found with two small reads. Dead letters from before the
index have no entry: callers fall back to reading the bodies.

The hash expires ``dead_message_ttl`` after its last write: by then Dramatiq has dropped every
dead letter it names, so it never outgrows the dead letters it serves. An entry whose dead letter
was taken (requeued, discarded) is removed with it; one left stale (expired, purged) names nothing
and is ignored. It is not removed on sight: the recorder writes the entry a moment before the
broker moves the message into the dead-letter set, and a look-up in between must not undo it.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import q_name, xq_name


def index_key(broker: Any, queue: str) -> str:
    """The index hash of ``queue``'s dead letters: ``<namespace>:<queue>.XQ.ids``."""
    return f"{broker.namespace}:{xq_name(q_name(queue))}.ids"


def remember(broker: dramatiq.Broker, message: Any, redis_id: str | None = None) -> None:
    """Record that ``message`` dies (or lies again) under its Redis id (no-op off Redis).

    ``redis_id``: the key it sits under when it is not the message's own ``redis_message_id``
    option (a dead letter put back after a failed requeue).
    """
    key = redis_id or message.options.get("redis_message_id")
    if isinstance(broker, StubBroker) or not key:
        return
    name = index_key(broker, message.queue_name)
    with broker.client.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
        pipe.hset(name, message.message_id, key)
        pipe.pexpire(name, int(broker.dead_message_ttl))  # type: ignore[attr-defined]
        pipe.execute()


def lookup(broker: dramatiq.Broker, queue: str, message_id: str) -> tuple[str, float] | None:
    """(Redis id, time of death in ms) of ``message_id`` among ``queue``'s dead letters, when indexed."""
    client, name = broker.client, index_key(broker, queue)  # type: ignore[attr-defined]
    redis_id = client.hget(name, message_id)
    if redis_id is None:
        return None
    key = redis_id.decode() if isinstance(redis_id, bytes) else str(redis_id)
    died_ms = client.zscore(f"{broker.namespace}:{xq_name(queue)}", key)  # type: ignore[attr-defined]
    if died_ms is None:  # not dead (yet, or any more): the entry names nothing now
        return None
    return key, float(died_ms)
