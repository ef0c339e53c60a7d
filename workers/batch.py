"""How a stage processes a batch of ids: one transaction, one savepoint per id.

A batch is one commit instead of one per id (the worker-side twin of the gateway's group
commit); a savepoint per id keeps a failing id from spoiling the others, which are committed
while the failing one is reported back for a retry of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

FollowUps = dict[str, list[str]]

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
    runtime: Runtime, stage: str, ids: list[str], step: Callable[[Runtime, Session, str], FollowUps]
) -> StageResult:
    """Run ``step(runtime, session, id)`` for every id inside one transaction."""
    result = StageResult()
    for start in range(0, len(ids), CHUNK):
        with runtime.sf.begin() as session:
            for item_id in ids[start : start + CHUNK]:
                try:
                    with session.begin_nested():
                        result.add(step(runtime, session, item_id))
                except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
                    result.failed[item_id] = exc
                    log.warning("stage_failed", stage=stage, item=item_id, error=f"{type(exc).__name__}: {exc}"[:300])
    return result
