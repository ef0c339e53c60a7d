"""Declares the Dramatiq actors on a runtime's broker.

Every actor takes a list of ids (JSON primitives only) so one queue message can carry a whole
group-committed batch: a worker spends about half its time acknowledging messages, so fewer,
fatter messages are cheaper. When one id of a batch fails, it is split off into a message of
its own (with its own retry budget) and the rest of the batch carries on; a single-id message
that fails raises, so Dramatiq retries it with backoff and finally dead-letters it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dramatiq
import structlog

from workers.broker import QUEUE

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

# name -> "module:function" taking (runtime, id) and returning follow-up {actor: [ids]}.
STAGES: dict[str, str] = {
    "verify_intake": "workers.verify:verify_one",
    "route_to_opd": "workers.route:route_one",
    "send_reply": "workers.reply:send_one",
}


def _load(target: str) -> Callable[..., dict[str, list[str]]]:
    module_name, _, func = target.partition(":")
    return getattr(__import__(module_name, fromlist=[func]), func)  # type: ignore[no-any-return]


def run_batch(runtime: Runtime, name: str, step: Callable[..., dict[str, list[str]]], ids: list[str]) -> None:
    """Run ``step`` on each id; enqueue follow-ups; split failures off (see module doc)."""
    follow_ups: dict[str, list[str]] = {}
    failed: list[str] = []
    last_error: Exception | None = None
    for item_id in ids:
        try:
            for actor, more in step(runtime, item_id).items():
                follow_ups.setdefault(actor, []).extend(more)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
            last_error = exc
            failed.append(item_id)
            log.warning("stage_failed", stage=name, item=item_id, error=type(exc).__name__)
    for actor, more in follow_ups.items():
        runtime.send(actor, more)
    if failed and len(ids) == 1:
        raise last_error  # type: ignore[misc]
    for item_id in failed:
        runtime.send(name, [item_id])


def declare_actors(runtime: Runtime) -> dict[str, dramatiq.Actor[Any, Any]]:
    """Create one actor per stage on ``runtime.broker``."""
    settings = runtime.settings
    actors: dict[str, dramatiq.Actor[Any, Any]] = {}
    for name, target in STAGES.items():
        step = _load(target)

        def fn(ids: list[str], _name: str = name, _step: Callable[..., Any] = step) -> None:
            run_batch(runtime, _name, _step, ids)

        fn.__name__ = name
        actors[name] = dramatiq.actor(
            fn,
            actor_name=name,
            queue_name=QUEUE,
            broker=runtime.broker,
            max_retries=settings.reply_max_retries,
            min_backoff=settings.retry_min_backoff_ms,
            max_backoff=settings.retry_max_backoff_ms,
            # A reply send can wait on a slow provider; nothing else here takes long.
            time_limit=int(max(60.0, settings.send_timeout_seconds * 4) * 1000),
        )
    return actors
