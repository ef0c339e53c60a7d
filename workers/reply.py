"""SOP step 9's last mile: send queued replies through the channel each complaint came in on.

The outbox row makes this idempotent: a reply is claimed (``queued`` → ``sending``) before
it is sent, so it is never sent by two workers at once nor again once sent. A batch is
claimed in one transaction, sent concurrently (no transaction is held
while a provider answers), and recorded in one transaction. A retryable send error is
reported back so Dramatiq retries that reply with backoff; a permanent one marks the reply
failed (visible to operators) and stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select, update

from channels.base import OutboundReply, SendError, SendResult
from complaints.models import Complaint, Reply
from normalizer.envelope import utcnow
from workers.batch import StageResult

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def send_batch(runtime: Runtime, reply_ids: list[str]) -> StageResult:
    """Send every still-queued reply of the batch."""
    with runtime.sf.begin() as session:
        now = utcnow()
        # Claim atomically: of two workers holding the same id (a retry and a sweep), only
        # one moves the row out of "queued", and only that one sends.
        claimed = list(
            session.scalars(
                update(Reply)
                .where(Reply.id.in_(reply_ids), Reply.status == "queued")
                .values(status="sending", attempts=Reply.attempts + 1, updated_at=now)
                .returning(Reply.id)
            )
        )
        rows = (
            session.execute(
                select(Reply, Complaint.ticket, Complaint.language)
                .outerjoin(Complaint, Complaint.id == Reply.complaint_id)
                .where(Reply.id.in_(claimed))
            ).all()
            if claimed
            else []
        )
        outbound = [
            OutboundReply(
                id=reply.id,
                channel=reply.channel,
                provider=reply.provider,
                address=reply.address,
                text=reply.text,
                thread_ref=reply.thread_ref,
                ticket=ticket,
                kind=reply.kind,
                language=language,
            )
            for reply, ticket, language in rows
        ]
    if not outbound:
        return StageResult()
    outcomes = runtime.outbound.send_many(outbound)
    result = StageResult()
    with runtime.sf.begin() as session:
        now = utcnow()
        for item, outcome in zip(outbound, outcomes, strict=True):
            reply = session.get(Reply, item.id)
            if reply is None:
                continue
            reply.updated_at = now
            if isinstance(outcome, SendResult):
                if reply.status == "sending":  # a delivery report may already have arrived
                    reply.status = "sent"
                reply.provider_message_id = outcome.provider_message_id or reply.provider_message_id
                reply.sent_at = now
                reply.error = None
                log.info("reply_sent", reply=item.id, provider=item.provider)
                continue
            reply.error = f"{outcome}"[:1000]
            retryable = not isinstance(outcome, SendError) or outcome.retryable
            log.warning(
                "reply_send_failed",
                reply=item.id,
                provider=item.provider,
                retryable=retryable,
                error=type(outcome).__name__,
            )
            if retryable:
                reply.status = "queued"  # free for the retry to claim
                result.failed[item.id] = outcome
            else:
                reply.status = "failed"
    return result
