"""Dramatiq broker set-up: Redis when REDIS_URL is set, an in-process broker otherwise."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries

from config.settings import Settings
from workers.request_ids import RequestIdMiddleware

QUEUE = "intake"


def make_broker(settings: Settings, extra_middleware: list[Middleware] | None = None) -> dramatiq.Broker:
    """Create the broker for these settings (not installed globally: callers pass it on).

    The embedded default is Dramatiq's in-memory broker consumed by in-process worker
    threads: nothing to install, and nothing lost on a crash either, because every message
    is also a database row that the sweeper re-enqueues.
    """
    if settings.redis_url:
        from dramatiq.brokers.redis import RedisBroker

        broker: dramatiq.Broker = RedisBroker(
            url=settings.redis_url,
            namespace=settings.redis_namespace,
            # A worker killed with -9 leaves unacknowledged messages; Redis hands them to
            # another worker once this heartbeat has lapsed.
            heartbeat_timeout=int(settings.worker_heartbeat_timeout_seconds * 1000),
            # A Redis that stops answering must not hang the accept path: fail, and let the
            # sweeper enqueue the (already durable) rows later.
            socket_connect_timeout=5,
            socket_timeout=10,
        )
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    for middleware in extra_middleware or []:
        # "after" hooks run in reverse order: placing ours before Retries makes it see the
        # message after Retries has decided whether it failed for good.
        broker.add_middleware(middleware, before=Retries)
    # part-monitor: request ids ride on every message. First in line, so its "after" hooks run
    # last: Retries' re-enqueue and the dead-letter recorder's lines still see the ids.
    broker.add_middleware(RequestIdMiddleware(), before=type(broker.middleware[0]))
    return broker
