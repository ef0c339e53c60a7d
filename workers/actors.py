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

from workers.batch import StageResult
from workers.broker import QUEUE
from workers.budget import MAX_PARTS_WAITED
from workers.reply import RECORD_RETRY_SECONDS, send_batch
from workers.route import route_batch
from workers.verify import verify_batch

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

Stage = Callable[["Runtime", list[str]], StageResult]

# Actor name -> the stage it runs on a batch of ids.
STAGES: dict[str, Stage] = {
    "verify_intake": verify_batch,
    "route_to_opd": route_batch,
    "send_reply": send_batch,
}


def run_batch(runtime: Runtime, name: str, stage: Stage, ids: list[str]) -> None:
    """Run ``stage`` on the batch; enqueue follow-ups; split failures off (see module doc)."""
    result = stage(runtime, ids)
    for actor, more in result.follow_ups.items():
        runtime.send(actor, more)
    if result.failed and len(ids) == 1:
        raise next(iter(result.failed.values()))
    for item_id in result.failed:
        runtime.send(name, [item_id])


def declare_actors(runtime: Runtime) -> dict[str, dramatiq.Actor[Any, Any]]:
    """Create one actor per stage on ``runtime.broker``."""
    settings = runtime.settings
    actors: dict[str, dramatiq.Actor[Any, Any]] = {}
    for name, stage in STAGES.items():

        def fn(ids: list[str], _name: str = name, _stage: Stage = stage) -> None:
            run_batch(runtime, _name, _stage, ids)

        fn.__name__ = name
        # The decorator form: dramatiq's type hints declare actor(fn) or actor(**options)(fn).
        actors[name] = dramatiq.actor(
            actor_name=name,
            queue_name=QUEUE,
            broker=runtime.broker,
            max_retries=settings.reply_max_retries,
            min_backoff=settings.retry_min_backoff_ms,
            max_backoff=settings.retry_max_backoff_ms,
            # A reply send can wait on a slow provider, one time-out per part of a long answer
            # (workers/outbound.py); nothing else here takes long.
            # Plus the time a reply's outcome may wait for the database (workers/reply.py).
            time_limit=int(
                (max(60.0, (settings.send_timeout_seconds + 5) * MAX_PARTS_WAITED + 30) + RECORD_RETRY_SECONDS) * 1000
            ),
        )(fn)
    return actors
