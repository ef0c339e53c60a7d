"""Re-enqueues work that was accepted but never finished (a lost queue message, a crash).

The database is the source of truth. An inbox message still ``accepted`` or a reply still
``queued`` is sent to its actor again only when its ``next_attempt_at`` passed more than
``SWEEP_AFTER_SECONDS`` ago: a row waiting for its own scheduled Dramatiq retry is left alone,
so a sweep never starts a second retry chain beside a live one. A reply stuck in ``sending``
past its send deadline (its worker died) is queued again once (see
``store.reclaim_stale_sending``); a case still ``diverifikasi`` after ``SWEEP_AFTER_SECONDS``
is routed again. Every actor is idempotent and every row keeps its own attempt budget, so a
sweep that races a slow worker is harmless.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import structlog
from sqlalchemy import CursorResult, delete, func, select, true
from sqlalchemy.orm import Session

from channels.storage import remove_stale_held_uploads
from complaints import store, transitions
from complaints.models import Complaint, Conversation, InboxMessage, Reply
from normalizer.envelope import utcnow
from workers import request_ids

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def sweep_once(runtime: Runtime) -> dict[str, int]:
    """One pass; returns how many ids were re-enqueued per actor."""
    older = timedelta(seconds=runtime.settings.sweep_after_seconds)
    with runtime.sf.begin() as session:
        inbox_ids = store.stale_inbox_ids(session, older)
        # A claimed send's next_attempt_at is its deadline (workers/budget.send_deadline, by its length).
        reclaimed = store.reclaim_stale_sending(session, older)
        reply_ids = store.stale_reply_ids(session, older) + reclaimed
        cutoff = utcnow() - older
        case_ids = list(
            session.scalars(
                select(Complaint.id)
                .where(
                    Complaint.status.in_(transitions.statuses_allowing("dispose", "system")),
                    Complaint.updated_at < cutoff,
                    # AUTO_DISPOSE=false: a routed case waits in verified for the operator, not for a worker.
                    true() if runtime.settings.auto_dispose else Complaint.opd_code.is_(None),
                )
                .limit(500)
            )
        )
        # An abandoned guided conversation holds NIK, address and phone: forget it after a day.
        # A DELETE's result is a CursorResult (it has rowcount); Session.execute declares only Result.
        forgotten = cast(
            "CursorResult[Any]",
            session.execute(delete(Conversation).where(Conversation.updated_at < utcnow() - timedelta(hours=24))),
        ).rowcount
        store.touch(session, InboxMessage, inbox_ids)
        store.touch(session, Reply, reply_ids)
        store.touch(session, Complaint, case_ids)
        inbox_of = _inbox_ids_of(session, case_ids, reply_ids)
    counts = {"verify_intake": len(inbox_ids), "route_to_opd": len(case_ids), "send_reply": len(reply_ids)}
    for actor, ids in (("verify_intake", inbox_ids), ("route_to_opd", case_ids), ("send_reply", reply_ids)):
        # The first request id went with the lost message: each item starts a new one here, logged
        # beside its inbox id, so `grep <inbox id>` finds the new id and `grep <new id>` the rest.
        trail = {item: request_ids.new_request_id() for item in ids}
        for item in ids:
            log.warning(
                "sweeper_requeued_item",
                actor=actor,
                item_id=item,
                inbox_id=item if actor == "verify_intake" else inbox_of.get(item),
                request_id=trail[item],
            )
        with request_ids.carrying(trail):
            for start in range(0, len(ids), 100):
                runtime.send(actor, ids[start : start + 100])
    if any(counts.values()):
        log.warning("sweeper_requeued", **counts)
    if forgotten:
        log.info("conversations_forgotten", count=forgotten)
    # part-hostile: photos held for a corrected web-form post nobody sent (channels/storage.py).
    dropped = remove_stale_held_uploads(runtime.settings.data_dir, runtime.settings.upload_orphan_hours * 3600)
    if dropped:
        log.info("held_uploads_removed", count=dropped)
    return counts


def _inbox_ids_of(session: Session, case_ids: list[str], reply_ids: list[str]) -> dict[str, str | None]:
    """The inbox message each re-enqueued case or reply came from (None: a reply with no message behind it)."""
    found: dict[str, str | None] = {}
    if case_ids:
        found.update(session.execute(select(Complaint.id, Complaint.inbox_id).where(Complaint.id.in_(case_ids))).all())
    if reply_ids:
        # A reply names its inbox message when it answers one directly, else its case does.
        inbox_id = func.coalesce(Reply.inbox_id, Complaint.inbox_id)
        replies = select(Reply.id, inbox_id).outerjoin(Complaint, Complaint.id == Reply.complaint_id)
        found.update(session.execute(replies.where(Reply.id.in_(reply_ids))).all())
    return found


class Sweeper(threading.Thread):
    """Background thread calling :func:`sweep_once` every ``SWEEP_INTERVAL_SECONDS``."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(name="sweeper", daemon=True)
        self.runtime = runtime
        self.stopping = threading.Event()

    def run(self) -> None:
        """Sweep until :meth:`stop`; a failed sweep is logged and tried again next time."""
        while not self.stopping.wait(self.runtime.settings.sweep_interval_seconds):
            try:
                sweep_once(self.runtime)
            except Exception as exc:  # noqa: BLE001 - the sweeper must outlive a database hiccup
                log.error("sweep_failed", error=f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        """Ask the thread to end after its current pass."""
        self.stopping.set()
