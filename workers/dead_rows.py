"""Inbox messages that died on their own row: listed beside the queue's dead letters, processed again.

A complaint whose own processing keeps failing never reaches the queue's dead letters: its row
counts the attempts and ends ``dead`` itself (workers/verify.py) while the queue message
completes. Operators see those rows on the dead-letter page and can have them processed again.
Blocking (database, queue): call from a thread.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import func, select

from complaints.models import InboxMessage
from complaints.monitoring import record_dead_letter_action
from workers.dead_letter_queue import masked, reset_dead_inbox

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeadRow:
    """An inbox message whose processing gave up on the row itself (no queue message is left)."""

    id: str
    channel: str
    ticket: str | None
    attempts: int
    error: str | None
    died_at: datetime


def dead_inbox_rows(runtime: Runtime, limit: int = 50, exclude: Collection[str] = ()) -> tuple[list[DeadRow], int]:
    """The newest ``dead`` inbox messages and how many there are (the state index keeps both cheap).

    ``exclude``: ids not to list, e.g. those a listed dead queue message names already (its requeue
    resets them too).
    """
    dead = InboxMessage.state == "dead"
    if exclude:
        dead = dead & InboxMessage.id.not_in(list(exclude))
    with runtime.read_sf() as session:
        total = session.scalar(select(func.count()).select_from(InboxMessage).where(dead))
        rows = session.scalars(select(InboxMessage).where(dead).order_by(InboxMessage.updated_at.desc()).limit(limit))
        found = [DeadRow(r.id, r.channel, r.ticket, r.attempts, masked(r.error), _utc(r.updated_at)) for r in rows]
    return found, int(total or 0)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def retry_dead_rows(runtime: Runtime, inbox_ids: Sequence[str], *, actor: str) -> int:
    """Make ``dead`` inbox messages ``accepted`` again (attempts from 0) and send them to be processed.

    Only rows still dead are touched; each is recorded as a requeue of ``inbox:<id>`` by ``actor``.
    If the queue cannot take the message now, the sweeper sends the rows later (they are due).
    Returns how many rows were reset.
    """
    if not inbox_ids:
        return 0
    with runtime.sf.begin() as session:
        reset = [row_id for (row_id,) in reset_dead_inbox(session, list(dict.fromkeys(inbox_ids)))]
        for row_id in reset:
            record_dead_letter_action(
                session, actor=actor, action="requeue", message_id=f"inbox:{row_id}", actor_name="verify_intake",
                reason=None,
            )  # fmt: skip
    for start in range(0, len(reset), 100):
        try:
            runtime.send("verify_intake", reset[start : start + 100])
        except Exception as exc:  # noqa: BLE001 - the rows are due now: the sweeper sends them
            log.error("dead_rows_enqueue_failed", count=len(reset), error=type(exc).__name__)
    if reset:
        log.info("dead_rows_requeued", count=len(reset), by=actor)
    return len(reset)
