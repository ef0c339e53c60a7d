"""Makes dead-lettered work visible: the row it was about records the failure.

Dramatiq's Retries middleware gives up on a message after its retries and moves it to the
dead-letter queue; this middleware, added after it, then marks the inbox message ``dead``,
the reply ``failed`` (``unknown`` when an earlier send may have arrived) or the unroutable
case ``triase`` with the error, so operators see it and the sweeper stops retrying.
"""

from __future__ import annotations

from typing import Any

import structlog
from dramatiq.middleware import Middleware
from sqlalchemy import case, select, update
from sqlalchemy.orm import Session, sessionmaker

from complaints import lifecycle
from complaints.models import Complaint, InboxMessage, Reply
from config.model import SopConfig
from normalizer.envelope import utcnow

log = structlog.get_logger(__name__)


class DeadLetterRecorder(Middleware):
    """Record messages that exhausted their retries on their database rows."""

    def __init__(self, sf: sessionmaker[Session], sop: SopConfig) -> None:
        # Only the session factory and the SOP: the broker (which holds this middleware) is
        # built before the runtime that holds the broker.
        self.sf = sf
        self.sop = sop

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        """Called after every message; acts only on ones Retries has just failed for good."""
        if exception is None or not message.failed:
            return
        ids = list(message.args[0]) if message.args else []
        error = f"{type(exception).__name__}: {exception}"[:1000]
        now = utcnow()
        with self.sf.begin() as session:
            if message.actor_name == "send_reply":
                session.execute(
                    update(Reply)
                    .where(Reply.id.in_(ids), Reply.status.in_(("queued", "sending")))
                    .values(
                        # An earlier send with an unknown outcome may have reached the citizen.
                        status=case((Reply.unknown_outcomes > 0, "unknown"), else_="failed"),
                        error=error,
                        updated_at=now,
                        next_attempt_at=None,
                    )
                )
            elif message.actor_name == "verify_intake":
                session.execute(
                    update(InboxMessage)
                    .where(InboxMessage.id.in_(ids), InboxMessage.state == "accepted")
                    .values(state="dead", error=error, updated_at=now, next_attempt_at=None)
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
                            actor="worker:route_to_opd",
                            role="system",
                            action="routing_failed",
                            note=error,
                        )
        log.error("dead_letter", actor=message.actor_name, count=len(ids), error=type(exception).__name__)
