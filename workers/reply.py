"""SOP step 9's last mile: send a queued reply through the channel the complaint came in on.

The outbox row makes this idempotent: a reply that is no longer ``queued`` is never sent
again. A retryable send error raises so Dramatiq retries with backoff; a permanent one marks
the reply failed (visible to operators) and stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from channels.base import OutboundReply, SendError
from complaints.models import Reply
from normalizer.envelope import utcnow

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def send_one(runtime: Runtime, reply_id: str) -> dict[str, list[str]]:
    """Send one reply if it is still queued."""
    with runtime.sf.begin() as session:
        reply = session.get(Reply, reply_id)
        if reply is None or reply.status != "queued":
            return {}
        reply.attempts += 1
        reply.updated_at = utcnow()
        outbound = OutboundReply(
            id=reply.id,
            channel=reply.channel,
            provider=reply.provider,
            address=reply.address,
            text=reply.text,
            thread_ref=reply.thread_ref,
        )
    try:
        result = runtime.outbound.send(outbound)
    except SendError as exc:
        with runtime.sf.begin() as session:
            reply = session.get(Reply, reply_id)
            assert reply is not None
            reply.error = str(exc)[:1000]
            reply.updated_at = utcnow()
            if not exc.retryable:
                reply.status = "failed"
        log.warning("reply_send_failed", reply=reply_id, provider=outbound.provider, retryable=exc.retryable)
        if exc.retryable:
            raise
        return {}
    with runtime.sf.begin() as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None
        if reply.status == "queued":  # a delivery report may already have arrived
            reply.status = "sent"
        reply.provider_message_id = result.provider_message_id or reply.provider_message_id
        reply.sent_at = reply.updated_at = utcnow()
        reply.error = None
    log.info("reply_sent", reply=reply_id, provider=outbound.provider)
    return {}
