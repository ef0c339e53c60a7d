"""Makes dead-lettered work visible: the row it was about records the failure.

Dramatiq's Retries middleware gives up on a message after its retries and moves it to the
dead-letter queue; this middleware, added after it, then marks the inbox message ``dead``,
the reply ``failed`` (``unknown`` when an earlier send may have arrived) or the unroutable
case ``triase`` with the error, so operators see it and the sweeper stops retrying.
"""

from __future__ import annotations

from typing import Any

import structlog
from dramatiq.broker import Broker, MessageProxy
from dramatiq.middleware import Middleware
from sqlalchemy import case, select, update
from sqlalchemy.orm import Session, sessionmaker

from complaints import lifecycle, sla
from complaints.models import Complaint, InboxMessage, Reply
from config.model import SopConfig
from normalizer.envelope import utcnow
from workers import dead_letter_index

log = structlog.get_logger(__name__)


class DeadLetterRecorder(Middleware):
    """Record messages that exhausted their retries on their database rows."""

    def __init__(self, sf: sessionmaker[Session], sop: SopConfig, budget: int, calendar: sla.Calendar) -> None:
        # Only the session factory, the SOP and the attempt budget: the broker (which holds this
        # middleware) is built before the runtime that holds the broker.
        self.sf = sf
        self.sop = sop
        self.budget = budget
        self.calendar = calendar  # part-clock: deadlines count in working hours

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,  # whatever the actor returned: dramatiq types it Any
        exception: BaseException | None = None,
    ) -> None:
        """Called after every message; acts only on ones Retries has just failed for good."""
        if exception is None or not message.failed:
            return
        try:  # Redis: note where it will lie, so its detail page needs no scan of every body
            dead_letter_index.remember(broker, message)
        except Exception as exc:  # noqa: BLE001 - the index only speeds look-ups up; the rows matter more
            log.warning("dead_letter_index_failed", error=type(exc).__name__)
        ids = list(message.args[0]) if message.args else []
        error = f"{type(exception).__name__}: {exception}"[:1000]
        now = utcnow()
        with self.sf.begin() as session:
            if message.actor_name == "send_reply":
                # Only rows whose own budget is spent fail here. A row of the same message that
                # still has attempts left goes back to the sweeper (due now); a row another chain
                # is sending right now is left to that chain.
                spent = Reply.attempts >= self.budget
                session.execute(
                    update(Reply)
                    .where(Reply.id.in_(ids), Reply.status == "queued", spent)
                    .values(
                        # An earlier send with an unknown outcome may have reached the citizen.
                        status=case((Reply.unknown_outcomes > 0, "unknown"), else_="failed"),
                        error=error,
                        updated_at=now,
                        next_attempt_at=None,
                    )
                )
                session.execute(
                    update(Reply)
                    .where(Reply.id.in_(ids), Reply.status == "queued", ~spent)
                    .values(error=error, updated_at=now, next_attempt_at=now)
                )
            elif message.actor_name == "verify_intake":
                spent = InboxMessage.attempts >= self.budget
                session.execute(
                    update(InboxMessage)
                    .where(InboxMessage.id.in_(ids), InboxMessage.state == "accepted", spent)
                    .values(state="dead", error=error, updated_at=now, next_attempt_at=None)
                )
                session.execute(
                    update(InboxMessage)
                    .where(InboxMessage.id.in_(ids), InboxMessage.state == "accepted", ~spent)
                    .values(error=error, updated_at=now, next_attempt_at=now)
                )
            elif message.actor_name == "route_to_opd":
                # Routing could not decide: hand the case to the operator instead of retrying.
                for complaint in session.scalars(select(Complaint).where(Complaint.id.in_(ids))):
                    if lifecycle.can(complaint, "to_triage", "system"):
                        lifecycle.transition(
                            session,
                            complaint,
                            lifecycle.TRIAGE,
                            sop=self.sop,
                            calendar=self.calendar,
                            actor="worker:route_to_opd",
                            role="system",
                            action="routing_failed",
                            note=error,
                        )
        log.error("dead_letter", actor=message.actor_name, count=len(ids), error=type(exception).__name__)
