"""SOP step 9's last mile: send queued replies through the channel each complaint came in on.

The outbox row makes this idempotent: a reply that is no longer ``queued`` is never sent
again. A batch is claimed in one transaction, sent concurrently (no transaction is held
while a provider answers), and recorded in one transaction. A retryable send error is
reported back so Dramatiq retries that reply with backoff; a permanent one marks the reply
failed (visible to operators) and stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from channels.base import OutboundReply, SendError, SendResult
from complaints.models import Reply
from normalizer.envelope import utcnow
from workers.batch import StageResult

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def send_batch(runtime: Runtime, reply_ids: list[str]) -> StageResult:
    """Send every still-queued reply of the batch."""
    with runtime.sf.begin() as session:
        replies = session.scalars(select(Reply).where(Reply.id.in_(reply_ids), Reply.status == "queued")).all()
        now = utcnow()
        outbound = []
        for reply in replies:
            reply.attempts += 1
            reply.updated_at = now
            outbound.append(
                OutboundReply(id=reply.id, channel=reply.channel, provider=reply.provider, address=reply.address,
                              text=reply.text, thread_ref=reply.thread_ref)
            )
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
                if reply.status == "queued":  # a delivery report may already have arrived
                    reply.status = "sent"
                reply.provider_message_id = outcome.provider_message_id or reply.provider_message_id
                reply.sent_at = now
                reply.error = None
                log.info("reply_sent", reply=item.id, provider=item.provider)
                continue
            reply.error = f"{outcome}"[:1000]
            retryable = not isinstance(outcome, SendError) or outcome.retryable
            log.warning("reply_send_failed", reply=item.id, provider=item.provider, retryable=retryable,
                        error=type(outcome).__name__)
            if retryable:
                result.failed[item.id] = outcome
            else:
                reply.status = "failed"
    return result
