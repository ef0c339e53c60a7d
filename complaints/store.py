"""Durable storage operations used by the gateway (accept, look-ups) and the workers.

Every function takes a session factory or a session and does plain synchronous SQL; the
gateway calls them from a thread so the event loop never blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from complaints import attention
from complaints.models import Base, Complaint, HistoryEntry, InboxMessage, Reply
from normalizer.envelope import ComplaintEnvelope, new_id, utcnow
from normalizer.tickets import new_ticket


@dataclass(frozen=True, slots=True)
class AcceptOutcome:
    """The result of accepting one envelope: its inbox row and whether it was a retry."""

    inbox_id: str
    ticket: str | None
    duplicate: bool


def _insert_ignoring_conflicts(
    bind: Engine | Connection, table: type[Base] = InboxMessage
) -> postgresql.Insert | sqlite.Insert:
    """INSERT ... ON CONFLICT DO NOTHING for this dialect (both SQLite and PostgreSQL have it)."""
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def accept_batch(sf: sessionmaker[Session], envelopes: Sequence[ComplaintEnvelope]) -> list[AcceptOutcome]:
    """Store envelopes durably in one transaction; return one outcome per envelope, in order.

    A (channel, external_id) already stored — a provider retry, or the same message twice in
    one batch — is not stored again: its outcome carries the original's ticket and
    ``duplicate=True``.
    """
    outcomes: dict[int, AcceptOutcome] = {}
    todo = list(range(len(envelopes)))
    engine = sf.kw["bind"]
    for _attempt in range(5):
        if not todo:
            break
        now = utcnow()
        rows, first_of_key = [], {}
        for i in todo:
            env = envelopes[i]
            key = (env.channel, env.external_id)
            if key in first_of_key:
                continue
            first_of_key[key] = i
            rows.append(
                {
                    "id": env.id,
                    "channel": env.channel,
                    "provider": env.provider,
                    "external_id": env.external_id,
                    "kind": env.kind,
                    "ticket": new_ticket() if env.kind == "complaint" else None,
                    "envelope": env.to_dict(),
                    "state": "accepted",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with sf.begin() as session:
            # Core executemany without RETURNING: the driver pipelines it, and whether a row
            # is ours shows in the look-up below (its id is the envelope's own).
            if rows:
                session.connection().execute(_insert_ignoring_conflicts(engine), rows)
            keys = list({(envelopes[i].channel, envelopes[i].external_id) for i in todo})
            found = {
                (r.channel, r.external_id): r
                for r in session.execute(
                    select(InboxMessage.id, InboxMessage.channel, InboxMessage.external_id, InboxMessage.ticket).where(
                        tuple_(InboxMessage.channel, InboxMessage.external_id).in_(keys)
                    )
                )
            }
        retry = []
        for i in todo:
            env = envelopes[i]
            row = found.get((env.channel, env.external_id))
            if row is None:
                retry.append(i)  # lost a ticket-number collision: try again with a new number
                continue
            fresh = row.id == env.id
            outcomes[i] = AcceptOutcome(inbox_id=row.id, ticket=row.ticket, duplicate=not fresh)
        todo = retry
    if todo:
        raise RuntimeError(f"could not store {len(todo)} message(s) after repeated ticket collisions")
    return [outcomes[i] for i in range(len(envelopes))]


def keep_unreadable(
    sf: sessionmaker[Session], *, channel: str, provider: str, external_id: str, reason: str, raw_ref: str
) -> None:
    """Record a message we could not read, so it is kept, reported and never imported again."""
    engine = sf.kw["bind"]
    now = utcnow()
    with sf.begin() as session:
        session.connection().execute(
            _insert_ignoring_conflicts(engine),
            [
                {
                    "id": new_id(),
                    "channel": channel,
                    "provider": provider,
                    "external_id": external_id,
                    "kind": "unreadable",
                    "ticket": None,
                    "envelope": {"raw_sha256": raw_ref, "reason": reason},
                    "state": "unreadable",
                    "attempts": 0,
                    "error": reason[:1000],
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )


def stale_inbox_ids(session: Session, grace: timedelta, limit: int = 500) -> list[str]:
    """Accepted messages whose next attempt was due more than ``grace`` ago (for the sweeper).

    A message waiting for its scheduled retry is left alone: re-enqueuing it would start a
    second retry chain beside the first.
    """
    cutoff = utcnow() - grace
    return list(
        session.scalars(
            select(InboxMessage.id)
            .where(InboxMessage.state == "accepted", _due(InboxMessage, cutoff))
            .order_by(InboxMessage.created_at)
            .limit(limit)
        )
    )


def stale_reply_ids(session: Session, grace: timedelta, limit: int = 500) -> list[str]:
    """Queued replies whose next attempt was due more than ``grace`` ago (their message was lost)."""
    cutoff = utcnow() - grace
    return list(
        session.scalars(
            select(Reply.id)
            .where(Reply.status == "queued", _due(Reply, cutoff))
            .order_by(Reply.created_at)
            .limit(limit)
        )
    )


def _due(model: type[InboxMessage] | type[Reply], cutoff: datetime) -> ColumnElement[bool]:
    """``next_attempt_at`` before ``cutoff`` (rows written before it existed: ``updated_at``)."""
    return or_(
        model.next_attempt_at < cutoff,
        and_(model.next_attempt_at.is_(None), model.updated_at < cutoff),
    )


def reclaim_stale_sending(session: Session, grace: timedelta, limit: int = 500) -> list[str]:
    """Replies stuck in ``sending`` past their send deadline (their worker died mid-send).

    Whether the provider got them is unknown, so this counts as an unknown outcome: the first
    time the reply goes back to ``queued`` (one more try: a duplicate SMS is better than a
    citizen who never hears back); a reply already tried after an unknown outcome becomes
    ``unknown`` for an operator to look at. Returns the ids put back in the queue.
    """
    cutoff = utcnow() - grace
    stuck = session.execute(
        select(Reply.id, Reply.unknown_outcomes).where(Reply.status == "sending", _due(Reply, cutoff)).limit(limit)
    ).all()
    again = [r.id for r in stuck if r.unknown_outcomes < 1]
    given_up = [r.id for r in stuck if r.unknown_outcomes >= 1]
    now = utcnow()
    if again:
        session.execute(
            update(Reply)
            .where(Reply.id.in_(again), Reply.status == "sending")
            .values(
                status="queued",
                unknown_outcomes=Reply.unknown_outcomes + 1,
                next_attempt_at=now,
                updated_at=now,
                error="worker lost mid-send; sending once more",
            )
        )
    if given_up:
        ended = session.scalars(
            update(Reply)
            .where(Reply.id.in_(given_up), Reply.status == "sending")
            .values(
                status="unknown",
                unknown_outcomes=Reply.unknown_outcomes + 1,
                updated_at=now,
                error="worker lost mid-send again; whether the citizen got it is unknown",
            )
            .returning(Reply.id)
        ).all()
        for reply_id in ended:
            reply = session.get(Reply, reply_id)
            if reply is not None:
                attention.answer_delivery_ended(session, reply)
    return again


def touch(session: Session, model: type[InboxMessage] | type[Reply] | type[Complaint], ids: Sequence[str]) -> None:
    """Mark these due now, so the sweeper waits a full period before trying them again."""
    if not ids:
        return
    now = utcnow()
    if model is Complaint:
        session.execute(update(Complaint).where(Complaint.id.in_(ids)).values(updated_at=now))
    else:
        session.execute(update(model).where(model.id.in_(ids)).values(updated_at=now, next_attempt_at=now))


def complaint_by_ticket(session: Session, ticket: str) -> Complaint | None:
    """The case with this ticket, or None."""
    return session.scalar(select(Complaint).where(Complaint.ticket == ticket))


def inbox_by_ticket(session: Session, ticket: str) -> InboxMessage | None:
    """The accepted message that will become the case with this ticket, or None."""
    return session.scalar(select(InboxMessage).where(InboxMessage.ticket == ticket))


def history_of(session: Session, complaint_id: str) -> list[HistoryEntry]:
    """A case's history, oldest first."""
    return list(
        session.scalars(select(HistoryEntry).where(HistoryEntry.complaint_id == complaint_id).order_by(HistoryEntry.id))
    )


def queue_reply(
    session: Session,
    *,
    dedupe_key: str,
    kind: str,
    channel: str,
    provider: str | None,
    address: str,
    text: str,
    thread_ref: str | None = None,
    complaint_id: str | None = None,
    inbox_id: str | None = None,
) -> str | None:
    """Add a reply to the outbox; return its id, or None when ``dedupe_key`` already exists.

    The dedupe key (e.g. ``<inbox id>:ack``) is what makes a re-run worker harmless: the
    same decision never queues the same reply twice.
    """
    engine = session.get_bind()
    now = utcnow()
    reply_id = new_id()
    stmt = (
        _insert_ignoring_conflicts(engine, Reply)
        .values(
            id=reply_id,
            dedupe_key=dedupe_key,
            complaint_id=complaint_id,
            inbox_id=inbox_id,
            kind=kind,
            channel=channel,
            provider=provider,
            address=address,
            thread_ref=thread_ref,
            text=text,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        .returning(Reply.id)
    )
    return session.scalar(stmt)


def queue_case_reply(
    session: Session, complaint: Complaint, kind: str, text: str, *, round_id: str = "", dedupe_key: str | None = None
) -> str | None:
    """Queue a reply to a case's citizen on the channel the complaint came in on.

    Once per kind and ``round_id`` (e.g. the inbox id of a follow-up that is checked again), or
    once per ``dedupe_key`` when one is given (a notice that is once per sender, not per case).
    """
    return queue_reply(
        session,
        dedupe_key=dedupe_key or f"{complaint.id}:{kind}" + (f":{round_id}" if round_id else ""),
        kind=kind,
        channel=complaint.reply_channel,
        provider=complaint.reply_provider,
        address=complaint.reply_address,
        thread_ref=complaint.reply_thread_ref,
        complaint_id=complaint.id,
        inbox_id=complaint.inbox_id,
        text=text,
    )


def recent_reply_count(session: Session, address: str, *, within_seconds: int) -> int:
    """How many replies were queued to ``address`` in the last ``within_seconds``."""
    cutoff = utcnow() - timedelta(seconds=within_seconds)
    return int(
        session.scalar(
            select(func.count())
            .select_from(Reply)
            .where(func.lower(Reply.address) == address.lower(), Reply.created_at >= cutoff)
        )
        or 0
    )


@dataclass(frozen=True, slots=True)
class DeliveryApplied:
    """A delivery report that matched a reply: its provider, and what the report settled."""

    provider: str
    """The reply's provider (its channel when it has none): the label outbound counts use."""
    settled: str | None
    """``delivered`` or ``failed`` when this report moved the reply there; None otherwise (repeat, earlier state)."""


def apply_delivery_update(
    session: Session,
    *,
    status: str,
    reply_id: str | None = None,
    provider_message_id: str | None = None,
    detail: str | None = None,
) -> bool:
    """Record a provider's delivery report on a reply; return False if no reply matches.

    Reports can arrive out of order (``sent`` after ``delivered``), so a final state is never
    overwritten by an earlier one.
    """
    applied = apply_delivery_report(
        session, status=status, reply_id=reply_id, provider_message_id=provider_message_id, detail=detail
    )
    return applied is not None


def apply_delivery_report(
    session: Session,
    *,
    status: str,
    reply_id: str | None = None,
    provider_message_id: str | None = None,
    detail: str | None = None,
) -> DeliveryApplied | None:
    """:func:`apply_delivery_update`, telling the caller what it settled (for the outbound counters)."""
    if reply_id:
        reply = session.get(Reply, reply_id)
    elif provider_message_id:
        reply = session.scalar(select(Reply).where(Reply.provider_message_id == provider_message_id))
    else:
        return None
    if reply is None:
        return None
    settled = None
    # "unknown" ranks with "sending": a provider's report is exactly what settles it.
    rank = {"queued": 0, "sending": 0, "unknown": 0, "sent": 1, "delivered": 2, "failed": 2}
    if rank.get(status, 0) >= rank.get(reply.status, 0) and reply.status not in ("delivered", "failed"):
        reply.status = status
        if status in ("delivered", "failed"):
            settled = status
        if status == "failed":
            reply.error = detail or "provider reported failure"
            # A refused or bounced answer: the operator chooses another contact (same transaction).
            attention.answer_delivery_ended(session, reply)
    reply.updated_at = utcnow()
    return DeliveryApplied(provider=reply.provider or reply.channel, settled=settled)
