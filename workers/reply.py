"""SOP step 9's last mile: send queued replies through the channel each complaint came in on.

The outbox row makes this idempotent: a reply is claimed (``queued`` → ``sending``) before
it is sent, so it is never sent by two workers at once nor again once sent. A batch is
claimed in one transaction, sent concurrently (no transaction is held
while a provider answers), and recorded in one transaction.

The row also holds the retry budget (see workers/budget.py): a claim counts an attempt and
none starts once ``REPLY_MAX_RETRIES`` + 1 have; a retryable failure puts the row back with
the time its Dramatiq retry is due, a permanent one (or a spent budget) marks it ``failed``.
A send whose outcome is unknown (the request may have reached the provider) is tried once
more at most; if that does not settle it, the reply is ``unknown`` for an operator to check.
How far a multi-part reply got (``parts_sent``) is kept on the row, so a retry anywhere
sends only the rest.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import case, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from channels.base import OutboundReply, SendError, SendResult
from complaints import attention
from complaints.models import Complaint, Reply
from normalizer.envelope import utcnow
from workers import request_ids
from workers.batch import StageResult
from workers.budget import UNKNOWN_OUTCOME_RETRIES, attempt_budget, retry_delay, send_deadline

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

RECORD_RETRY_SECONDS = 60.0
"""How long a send's outcome waits in memory for the database to come back (workers/actors.py adds it
to the actor's time limit)."""


def send_batch(runtime: Runtime, reply_ids: list[str]) -> StageResult:
    """Send every still-queued reply of the batch."""
    budget = attempt_budget(runtime.settings)
    with runtime.sf.begin() as session:
        now = utcnow()
        # A row put back by the sweeper after its budget was spent ends here, not at the provider.
        spent = session.scalars(
            update(Reply)
            .where(Reply.id.in_(reply_ids), Reply.status == "queued", Reply.attempts >= budget)
            .values(
                status=case((Reply.unknown_outcomes > 0, "unknown"), else_="failed"),
                next_attempt_at=None,
                updated_at=now,
            )
            .returning(Reply.id)
        ).all()
        for reply_id in spent:
            ended = session.get(Reply, reply_id)
            if ended is not None:
                attention.answer_delivery_ended(session, ended)  # an answer that never left flags its case
        # Claim atomically: of two workers holding the same id (a retry and a sweep), only
        # one moves the row out of "queued", and only that one sends — and only while the
        # row's budget lasts, however many retry chains hold its id.
        claimed = list(
            session.scalars(
                update(Reply)
                .where(Reply.id.in_(reply_ids), Reply.status == "queued", Reply.attempts < budget)
                .values(
                    status="sending",
                    attempts=Reply.attempts + 1,
                    updated_at=now,
                    # The longest deadline for now; each row gets its own just below.
                    next_attempt_at=now + send_deadline(runtime.settings, "x" * 10**6),
                )
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
        for row, _ticket, _language in rows:
            # Reclaimed by the sweeper only once a send of this length cannot still be running.
            row.next_attempt_at = now + send_deadline(runtime.settings, row.text)
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
                parts_sent=reply.parts_sent,
            )
            for reply, ticket, language in rows
        ]
    if not outbound:
        return StageResult()
    if runtime.outbound is None:
        raise RuntimeError("send_reply runs only in a process with an outbound sender (gateway.embedded)")
    outcomes = runtime.outbound.send_many(outbound)
    for item, outcome in zip(outbound, outcomes, strict=True):
        # Counted as sent, whatever becomes of the row: the provider has it (or may have it: unknown).
        runtime.activity.outbound(item.provider or item.channel, send_result_label(outcome))
    return _record_outcomes(runtime, outbound, outcomes, budget)


def _record_outcomes(
    runtime: Runtime, outbound: list[OutboundReply], outcomes: list[SendResult | BaseException], budget: int
) -> StageResult:
    """Record what the provider said, trying again while the database is away (issue 12, chaos run).

    The send has happened: if this record were lost the row would stay ``sending``, the sweeper
    would reclaim it and the citizen would get the reply twice (seen with PostgreSQL stopped for
    10 s). So the outcome is kept in memory and written as soon as the database answers again,
    for up to ``RECORD_RETRY_SECONDS`` (the actor's time limit allows for it).
    """
    deadline = time.monotonic() + RECORD_RETRY_SECONDS
    pause = 0.5
    while True:
        try:
            result = StageResult()
            with runtime.sf.begin() as session:
                for item, outcome in zip(outbound, outcomes, strict=True):
                    reply = session.get(Reply, item.id)
                    if reply is None:
                        continue
                    with request_ids.item_scope(item.id):  # the reply's lines carry its complaint's request id
                        if isinstance(outcome, SendResult):
                            _record_sent(reply, item, outcome)
                        elif _record_failure(runtime, session, reply, item, outcome, budget):
                            result.failed[item.id] = outcome
            return result
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("reply_outcome_not_recorded", replies=len(outbound), retry_in=pause, error=type(exc).__name__)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def send_result_label(outcome: SendResult | BaseException) -> str:
    """The outbound counter's result for one send attempt: sent, unknown (may have arrived) or failed."""
    if isinstance(outcome, SendResult):
        return "sent"
    if isinstance(outcome, SendError) and outcome.outcome_unknown:
        return "unknown"
    return "failed"


def _record_sent(reply: Reply, item: OutboundReply, outcome: SendResult) -> None:
    now = utcnow()
    reply.updated_at = now
    # A delivery report may already have arrived; "queued": the sweeper took the row back while the
    # database kept this record waiting, and no worker has claimed it again yet.
    if reply.status in ("sending", "unknown", "queued"):
        reply.status = "sent"
    reply.provider_message_id = outcome.provider_message_id or reply.provider_message_id
    reply.sent_at = now
    reply.error = None
    reply.next_attempt_at = None
    log.info("reply_sent", reply=item.id, provider=item.provider)


def _record_failure(
    runtime: Runtime, session: Session, reply: Reply, item: OutboundReply, outcome: BaseException, budget: int
) -> bool:
    """Record a failed send on its row; True when Dramatiq should retry it.

    A final failure of the answer flags its case for an operator, in the same transaction.
    """
    now = utcnow()
    reply.updated_at = now
    reply.error = f"{outcome}"[:1000]
    send_error = outcome if isinstance(outcome, SendError) else None
    if send_error is not None:
        if send_error.parts_sent is not None:
            reply.parts_sent = max(reply.parts_sent, send_error.parts_sent)
        reply.provider_message_id = reply.provider_message_id or send_error.provider_message_id
    unknown = send_error is not None and send_error.outcome_unknown
    if unknown:
        reply.unknown_outcomes += 1
    retryable = send_error is None or send_error.retryable or unknown
    retry = (
        retryable
        and reply.attempts < budget
        and (not unknown or reply.unknown_outcomes <= UNKNOWN_OUTCOME_RETRIES)
        and reply.status == "sending"
    )
    log.warning(
        "reply_send_failed",
        reply=item.id,
        provider=item.provider,
        retryable=retryable,
        outcome_unknown=unknown,
        attempts=reply.attempts,
        retry=retry,
        error=type(outcome).__name__,
    )
    if reply.status != "sending":
        return False  # a delivery report settled it meanwhile
    if retry:
        reply.status = "queued"  # free for the retry to claim
        reply.next_attempt_at = now + retry_delay(runtime.settings, reply.attempts)
        return True
    # The citizen may already hold a reply whose earlier send had an unknown outcome.
    reply.status = "unknown" if reply.unknown_outcomes else "failed"
    reply.next_attempt_at = None
    attention.answer_delivery_ended(session, reply)
    return False
