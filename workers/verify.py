"""SOP steps 2–3 done by a worker: open the case and check the reporter's identity.

A complete, valid identity moves the case on to routing. A missing or invalid one returns
the complaint to the citizen (SOP step 3) with a reply naming exactly what is missing, on the
channel it came in on. A status query (``CEK <ticket>``) is answered by ``workers.status``, a
chat turn goes to ``workers.conversation``, a follow-up of an open case to ``workers.followup``;
each decides on the envelope's typed fields, never on a channel's ``raw`` facts. A sender past
``SENDER_RATE_LIMIT`` is held by ``workers.sender_limits`` before any of them answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from sqlalchemy import update

from complaints import lifecycle, sla
from complaints.models import InboxMessage
from normalizer.envelope import ComplaintEnvelope, utcnow
from workers import conversation, followup, rating_reply, sender_limits
from workers.batch import FollowUps, StageResult, each_in_savepoint
from workers.budget import attempt_budget, retry_delay
from workers.casework import check_case
from workers.status import answer_status_query

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def verify_batch(runtime: Runtime, inbox_ids: list[str]) -> StageResult:
    """Verify a batch of accepted messages in one transaction."""
    return each_in_savepoint(runtime, "verify_intake", inbox_ids, verify_one, count_failure)


def count_failure(runtime: Runtime, session: Session, inbox_id: str, exc: BaseException) -> bool:
    """Count a failed attempt on the inbox row; True while its retry budget lasts.

    Runs after the failing savepoint was rolled back, so the count survives. A message whose
    budget is spent is ``dead`` at once, whichever retry chain (Dramatiq's or a sweep's) held it.
    """
    now = utcnow()
    error = f"{type(exc).__name__}: {exc}"[:1000]
    row = session.execute(
        update(InboxMessage)
        .where(InboxMessage.id == inbox_id, InboxMessage.state == "accepted")
        .values(attempts=InboxMessage.attempts + 1, error=error, updated_at=now)
        .returning(InboxMessage.attempts)
    ).first()
    if row is None:
        return False  # finished or dead meanwhile: nothing to retry
    if row.attempts >= attempt_budget(runtime.settings):
        session.execute(
            update(InboxMessage).where(InboxMessage.id == inbox_id).values(state="dead", next_attempt_at=None)
        )
        log.error("inbox_dead", inbox=inbox_id, attempts=row.attempts, error=type(exc).__name__)
        return False
    session.execute(
        update(InboxMessage)
        .where(InboxMessage.id == inbox_id)
        .values(next_attempt_at=now + retry_delay(runtime.settings, row.attempts))
    )
    return True


def verify_one(runtime: Runtime, session: Session, inbox_id: str) -> FollowUps:
    """Process one accepted message; return the follow-up work ``{actor: [ids]}``."""
    # Row lock (PostgreSQL): a sweep may hand the same message to two workers at once.
    inbox = session.get(InboxMessage, inbox_id, with_for_update=True)
    if inbox is None or inbox.state != "accepted":
        return {}  # already done by an earlier run: every actor is idempotent
    envelope = ComplaintEnvelope.from_dict(inbox.envelope)
    inbox.attempts += 1
    inbox.state = "done"
    inbox.updated_at = utcnow()
    inbox.next_attempt_at = None
    counter = runtime.sender_counter
    if not envelope.automatic and counter is not None and counter.over_limit(envelope):
        return sender_limits.hold(runtime, session, inbox, envelope)  # part-abuse: kept, grouped, told once
    if envelope.kind == "status_query":
        followup.note_status_query(session, envelope)  # CEK on a closed case also reaches the operator
        return answer_status_query(runtime, session, inbox, envelope)
    if envelope.kind == "conversation":
        return conversation.handle_turn(runtime, session, inbox, envelope)
    if envelope.automatic:
        # RFC 3834: never answer robots; a bounce of our own reply marks that reply failed.
        inbox.state = "ignored"
        inbox.error = f"automatic message ({envelope.automatic}): no case, no reply"
        bounced = followup.apply_bounce(session, envelope)
        if bounced is not None and bounced.settled is not None:
            runtime.activity.outbound(bounced.provider, bounced.settled)
        return {}
    rated = rating_reply.handle_rating(runtime, session, inbox, envelope)  # issue 14: PUAS / TIDAK PUAS
    if rated is not None:
        return rated
    case = followup.find_case(session, envelope, window_days=runtime.settings.complete_reply_window_days)
    if case is not None:
        return followup.add_to_case(runtime, session, case, inbox, envelope)
    complaint = lifecycle.open_case(
        session, inbox, envelope, sop=runtime.config.sop, calendar=sla.calendar_of(runtime.config.calendar)
    )
    if not lifecycle.can(complaint, "verify", "system"):
        return {}
    return check_case(runtime, session, complaint, actor="worker:verify_intake")
