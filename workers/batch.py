"""How a stage processes a batch of ids: one transaction, one savepoint per id.

A batch is one commit instead of one per id (the worker-side twin of the gateway's group
commit); a savepoint per id keeps a failing id from spoiling the others, which are committed
while the failing one is reported back for a retry of its own. Whatever the failing id's
savepoint wrote is rolled back, so its failure is recorded afterwards, in the batch's own
transaction (``on_failure``): that is where a row's attempt count and retry time are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from workers import request_ids

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

FollowUps = dict[str, list[str]]
OnFailure = Callable[["Runtime", "Session", str, BaseException], bool]
"""Records a failed item on its row (outside the rolled-back savepoint); True: retry it."""

# Ids per transaction: large enough to amortise the commit, small enough that the accept
# path (which has priority on SQLite) never waits long for a worker's transaction.
CHUNK = 20


@dataclass
class StageResult:
    """What a stage did with a batch: work for other actors, and the ids that failed."""

    follow_ups: FollowUps = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)

    def add(self, follow_ups: FollowUps) -> None:
        """Merge one item's follow-up work."""
        for actor, ids in follow_ups.items():
            self.follow_ups.setdefault(actor, []).extend(ids)


def each_in_savepoint(
    runtime: Runtime,
    stage: str,
    ids: list[str],
    step: Callable[[Runtime, Session, str], FollowUps],
    on_failure: OnFailure | None = None,
) -> StageResult:
    """Run ``step(runtime, session, id)`` for every id inside one transaction.

    An id whose step raises is handed to ``on_failure`` (when given) and reported back for a
    retry only if it says so.
    """
    result = StageResult()
    for start in range(0, len(ids), CHUNK):
        with runtime.sf.begin() as session:
            for item_id in ids[start : start + CHUNK]:
                # The item's request id on its lines, and on the work it causes (workers/request_ids.py).
                with request_ids.item_scope(item_id) as request_id:
                    try:
                        with session.begin_nested():
                            follow_ups = step(runtime, session, item_id)
                        for more in follow_ups.values():
                            request_ids.follow(request_id, more)
                        result.add(follow_ups)
                    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
                        log.warning(
                            "stage_failed", stage=stage, item=item_id, error=f"{type(exc).__name__}: {exc}"[:300]
                        )
                        if on_failure is None or on_failure(runtime, session, item_id, exc):
                            result.failed[item_id] = exc
    return result
