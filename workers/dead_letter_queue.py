"""Dead letters: list, inspect, requeue and discard, the same way on Redis and on the embedded broker.

A dead letter is a queue message Dramatiq's Retries gave up on (Redis: sorted set
``<ns>:<queue>.XQ`` scored by time of death, bodies in ``<ns>:<queue>.XQ.msgs``, kept
``dead_message_ttl``; the embedded StubBroker: ``broker.dead_letters_by_queue[queue]``, in
memory). Its public id is Dramatiq's ``message_id`` on both (Redis keys the set by a per-enqueue
``redis_message_id``, mapped back here). Requeue and discard first *take* the message out of the
dead-letter queue atomically (of two operators pressing at once, one wins), then write the
database; if that write fails the message is put back, so nothing is lost either way. Everything
here blocks (Redis round trips, database writes): call it from a thread.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import q_name, xq_name
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, aliased

from complaints.models import Complaint, DeadLetterAction, InboxMessage, Reply
from complaints.monitoring import record_dead_letter_action
from config.logging import mask
from normalizer.envelope import utcnow
from workers import dead_letter_index
from workers.budget import attempt_budget

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

# Rows the dead-letter recorder (workers/dead_letters.py) may have marked, per actor.
_ROW_KINDS = {"verify_intake": "inbox", "send_reply": "reply", "route_to_opd": "case"}
_RESET_OPTIONS = ("retries", "traceback", "requeue_timestamp", "eta", "redis_message_id")
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered queue message, as operators see it (personal data masked)."""

    message_id: str
    queue: str
    actor: str
    ids: tuple[str, ...]
    attempts: int
    """How many times a worker ran it (the first run and Dramatiq's retries)."""
    error: str | None
    """The last error in one line: the rows' recorded error, else the message's traceback; masked."""
    traceback: str | None
    """The traceback Dramatiq kept on the message (masked); on Redis the one of the attempt before last."""
    died_at: datetime
    tickets: tuple[str, ...] = ()
    """The cases the message is about (where its rows have one), for links to them."""

    @property
    def count(self) -> int:
        """How many ids (inbox messages, replies or cases) the message carries."""
        return len(self.ids)


@dataclass(frozen=True)
class NamedRow:
    """A database row a dead message names, with its state now (no personal data)."""

    kind: str  # inbox | reply | case
    id: str
    state: str
    attempts: int | None
    error: str | None
    ticket: str | None


@dataclass(frozen=True)
class DeadLetterDetail:
    """A dead letter with the rows it names and the message body's fields."""

    letter: DeadLetter
    rows: tuple[NamedRow, ...]
    options: dict[str, str]
    """The message options except the traceback (already on the letter), as text."""


@dataclass
class DeadLetterOutcome:
    """What a requeue or discard did."""

    done: list[DeadLetter] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Ids asked for that are not (or no longer) in the dead-letter queue."""
    rows_reset: int = 0


@dataclass(frozen=True)
class _Entry:
    """One dead message as the broker holds it: where, under which key, and its body."""

    queue: str
    key: str
    died_ms: float
    message: dramatiq.Message[Any]
    on_redis: bool


def _dead_queues(broker: dramatiq.Broker) -> list[str]:
    return sorted(q for q in broker.get_declared_queues() if not q.endswith(".DQ") and not q.endswith(".XQ"))


@dataclass(frozen=True)
class _Slot:
    """Where one dead message sits, without its body (enough to sort and page)."""

    queue: str
    key: str
    died_ms: float


def _stub_messages(broker: StubBroker, queue: str) -> list[dramatiq.Message[Any]]:
    # The stub keeps MessageProxy objects; the message itself is what gets requeued.
    return [proxy._message for proxy in list(broker.dead_letters_by_queue.get(queue, []))]  # noqa: SLF001


def _stub_died_ms(message: dramatiq.Message[Any]) -> float:
    # Retries stamps the moment it gave up; the stub keeps no time of death of its own.
    return float(message.options.get("requeue_timestamp") or message.message_timestamp)


def _index(broker: dramatiq.Broker) -> list[_Slot]:
    """Every dead message's place, newest death first: on Redis only ids and scores are read."""
    slots: list[_Slot] = []
    for queue in _dead_queues(broker):
        if isinstance(broker, StubBroker):
            slots.extend(_Slot(queue, m.message_id, _stub_died_ms(m)) for m in _stub_messages(broker, queue))
            continue
        xq = f"{broker.namespace}:{xq_name(queue)}"  # type: ignore[attr-defined]
        for key, score in broker.client.zrange(xq, 0, -1, withscores=True):  # type: ignore[attr-defined]
            slots.append(_Slot(queue, _text(key), float(score)))
    return sorted(slots, key=lambda slot: slot.died_ms, reverse=True)


def _load(broker: dramatiq.Broker, slots: Sequence[_Slot]) -> list[_Entry]:
    """The bodies of ``slots``, in their order (one that expired or was taken meanwhile is skipped)."""
    found: list[_Entry] = []
    if isinstance(broker, StubBroker):
        messages = {m.message_id: m for q in {s.queue for s in slots} for m in _stub_messages(broker, q)}
        return [_Entry(s.queue, s.key, s.died_ms, messages[s.key], on_redis=False) for s in slots if s.key in messages]
    bodies: dict[tuple[str, str], Any] = {}
    for queue in {s.queue for s in slots}:
        keys = [s.key for s in slots if s.queue == queue]
        xq = f"{broker.namespace}:{xq_name(queue)}"  # type: ignore[attr-defined]
        bodies.update(zip(((queue, k) for k in keys), broker.client.hmget(f"{xq}.msgs", keys), strict=True))  # type: ignore[attr-defined]
    for slot in slots:
        body = bodies.get((slot.queue, slot.key))
        if body is None:
            continue
        try:
            message = dramatiq.Message.decode(body)
        except Exception:  # noqa: BLE001 - a body we cannot read is logged and left where it is, not fatal
            log.warning("dead_letter_unreadable", queue=slot.queue)
            continue
        found.append(_Entry(slot.queue, slot.key, slot.died_ms, message, on_redis=True))
    return found


def _entries(broker: dramatiq.Broker) -> list[_Entry]:
    """Every dead message of every queue with its body, newest death first."""
    return _load(broker, _index(broker))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _ids(message: dramatiq.Message[Any]) -> tuple[str, ...]:
    args = message.args
    if args and isinstance(args[0], list | tuple):
        return tuple(str(i) for i in args[0])
    return ()


def _last_line(traceback: str | None) -> str | None:
    lines = [line for line in (traceback or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else None


def _letter(entry: _Entry, rows: Sequence[NamedRow] = ()) -> DeadLetter:
    message = entry.message
    retries = int(message.options.get("retries", 0) or 0)
    # The stub keeps the message Retries updated after the last failure; Redis keeps the body as it
    # was enqueued for the last attempt, whose retries count (and traceback) is one behind.
    attempts = retries + 1 if entry.on_redis else max(retries, 1)
    tb = message.options.get("traceback")
    error = next((r.error for r in rows if r.error), None) or _last_line(tb)
    return DeadLetter(
        message_id=message.message_id,
        queue=entry.queue,
        actor=message.actor_name,
        ids=_ids(message),
        attempts=attempts,
        error=mask(error)[:MAX_ERROR_CHARS] if error else None,
        traceback=mask(tb) if isinstance(tb, str) else None,
        died_at=datetime.fromtimestamp(entry.died_ms / 1000, tz=UTC),
        tickets=tuple(sorted({r.ticket for r in rows if r.ticket})),
    )


def _named_rows(session: Session, actor: str, ids: Sequence[str]) -> list[NamedRow]:
    """The rows a message of ``actor`` names, with their state and (masked) error."""
    kind = _ROW_KINDS.get(actor)
    if not ids or kind is None:
        return []
    if kind == "inbox":
        inbox = session.execute(
            # The ticket is given at accept time: its case page says "processing failed" until a case exists.
            select(
                InboxMessage.id, InboxMessage.state, InboxMessage.attempts, InboxMessage.error, InboxMessage.ticket
            ).where(InboxMessage.id.in_(ids))
        ).all()
        return [NamedRow("inbox", i, s, a, masked(e), t) for i, s, a, e, t in inbox]
    if kind == "reply":
        replies = session.execute(
            select(Reply.id, Reply.status, Reply.attempts, Reply.error, Complaint.ticket)
            .outerjoin(Complaint, Complaint.id == Reply.complaint_id)
            .where(Reply.id.in_(ids))
        ).all()
        return [NamedRow("reply", i, s, a, masked(e), t) for i, s, a, e, t in replies]
    cases = session.execute(select(Complaint.id, Complaint.status, Complaint.ticket).where(Complaint.id.in_(ids)))
    return [NamedRow("case", i, s, None, None, t) for i, s, t in cases.all()]


def masked(error: str | None) -> str | None:
    """``error`` with personal data masked and cut to :data:`MAX_ERROR_CHARS` (None stays None)."""
    return mask(error)[:MAX_ERROR_CHARS] if error else None


def dead_letters(runtime: Runtime, limit: int = 50, offset: int = 0) -> tuple[list[DeadLetter], int]:
    """A page of dead messages, newest death first, and how many there are in all (blocking)."""
    slots = _index(runtime.broker)
    page = _load(runtime.broker, slots[offset : offset + limit])
    with runtime.read_sf() as session:
        letters = []
        for entry in page:
            letters.append(_letter(entry, _named_rows(session, entry.message.actor_name, _ids(entry.message))))
    return letters, len(slots)


def dead_letter(runtime: Runtime, message_id: str) -> DeadLetterDetail | None:
    """One dead message with the rows it names (None: no such dead message)."""
    entry = _found(runtime.broker, [message_id]).get(message_id)
    if entry is None:
        return None
    with runtime.read_sf() as session:
        rows = _named_rows(session, entry.message.actor_name, _ids(entry.message))
    letter = _letter(entry, rows)
    options = {k: mask(str(v))[:200] for k, v in sorted(entry.message.options.items()) if k != "traceback"}
    return DeadLetterDetail(letter=letter, rows=tuple(rows), options=options)


def _take(broker: dramatiq.Broker, entry: _Entry) -> bool:
    """Remove ``entry`` from its dead-letter queue; False if someone else took it first."""
    if not entry.on_redis:
        dead = broker.dead_letters_by_queue.get(entry.queue, [])  # type: ignore[attr-defined]
        for proxy in list(dead):
            if proxy.message_id == entry.key:
                try:
                    dead.remove(proxy)
                except ValueError:
                    return False
                return True
        return False
    client, xq = broker.client, f"{broker.namespace}:{xq_name(entry.queue)}"  # type: ignore[attr-defined]
    with client.pipeline(transaction=True) as pipe:
        pipe.zrem(xq, entry.key)
        pipe.hdel(f"{xq}.msgs", entry.key)
        pipe.hdel(dead_letter_index.index_key(broker, entry.queue), entry.message.message_id)
        removed, *_ = pipe.execute()
    return bool(removed)


def _put_back(broker: dramatiq.Broker, entry: _Entry) -> None:
    """Undo :func:`_take` (the database write after it failed)."""
    if not entry.on_redis:
        broker.dead_letters_by_queue[entry.queue].append(MessageProxy(entry.message))  # type: ignore[attr-defined]
        return
    client, xq = broker.client, f"{broker.namespace}:{xq_name(entry.queue)}"  # type: ignore[attr-defined]
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(f"{xq}.msgs", entry.key, entry.message.encode())
        pipe.zadd(xq, {entry.key: entry.died_ms})
        pipe.execute()
    dead_letter_index.remember(broker, entry.message, entry.key)


def _reset_rows(session: Session, actor: str, ids: Sequence[str], budget: int) -> int:
    """Put back the rows the dead-letter recorder marked, and only those still as it left them.

    An inbox message still ``dead`` becomes ``accepted``; a reply still ``failed`` becomes
    ``queued`` unless the answer was sent again since (a newer reply of the same kind for the same
    case: the citizen would get it twice), and only if the recorder failed it (attempts spent) with
    no part sent and no send of unknown outcome. A reply ``unknown`` may have reached the citizen
    and is left alone. Attempts start again from 0 and the next attempt is due now, so if the queue
    message is lost the sweeper still does the work. Returns how many rows were reset.
    """
    if not ids:
        return 0
    now = utcnow()
    fresh = {"attempts": 0, "error": None, "next_attempt_at": now, "updated_at": now}
    if actor == "verify_intake":
        return len(reset_dead_inbox(session, ids))
    if actor == "send_reply":
        newer = aliased(Reply)
        resent = (
            select(newer.id)
            .where(
                newer.complaint_id == Reply.complaint_id,
                newer.kind == Reply.kind,
                newer.created_at > Reply.created_at,
            )
            .exists()
        )
        # part-escfix: only rows the dead-letter recorder failed (their attempt budget spent), and
        # none of which a part went out or a send may have arrived: requeueing those could send
        # the citizen the reply (or its first parts) twice.
        recorded = and_(Reply.attempts >= budget, Reply.parts_sent == 0, Reply.unknown_outcomes == 0)
        done = session.execute(
            update(Reply)
            .where(Reply.id.in_(ids), Reply.status == "failed", recorded, ~resent)
            .values(status="queued", **fresh)
            .returning(Reply.id)
        ).all()
        return len(done)
    return 0  # route_to_opd: the recorder handed the case to triage, where the operator decides


def _found(broker: dramatiq.Broker, message_ids: Sequence[str]) -> dict[str, _Entry]:
    """The dead letters of ``message_ids`` that exist: on Redis through the index
    (:mod:`workers.dead_letter_index`), reading every body only for ids it does not know."""
    by_id: dict[str, _Entry] = {}
    if not isinstance(broker, StubBroker):
        slots = [
            _Slot(queue, *place)
            for message_id in message_ids
            for queue in _dead_queues(broker)
            if (place := dead_letter_index.lookup(broker, queue, message_id)) is not None
        ]
        by_id = {e.message.message_id: e for e in _load(broker, slots) if e.message.message_id in message_ids}
    if any(m not in by_id for m in message_ids):  # dead before the index (or on the embedded broker)
        by_id.update({e.message.message_id: e for e in _entries(broker) if e.message.message_id not in by_id})
    return by_id


def _select(runtime: Runtime, message_ids: Sequence[str] | None) -> tuple[list[_Entry], list[str]]:
    if message_ids is None:
        return _entries(runtime.broker), []
    wanted = list(dict.fromkeys(message_ids))
    by_id = _found(runtime.broker, wanted)
    return [by_id[m] for m in wanted if m in by_id], [m for m in wanted if m not in by_id]


def requeue_dead(runtime: Runtime, message_ids: Sequence[str] | None, *, actor: str) -> DeadLetterOutcome:
    """Send dead messages (``None``: all) to their queue again with fresh retries, resetting their rows.

    ``actor`` is who asks (``staff:<id>`` or ``cli:<user>``); each message's requeue is recorded.
    Blocking: call in a thread.
    """
    entries, missing = _select(runtime, message_ids)
    outcome = DeadLetterOutcome(missing=missing)
    for entry in entries:
        if not _take(runtime.broker, entry):
            outcome.missing.append(entry.message.message_id)
            continue
        message = entry.message
        try:
            with runtime.sf.begin() as session:
                budget = attempt_budget(runtime.settings)
                outcome.rows_reset += _reset_rows(session, message.actor_name, _ids(message), budget)
                record_dead_letter_action(
                    session,
                    actor=actor,
                    action="requeue",
                    message_id=message.message_id,
                    actor_name=message.actor_name,
                    reason=None,
                )
        except Exception:
            _put_back(runtime.broker, entry)
            raise
        outcome.done.append(_letter(entry))
        options = {k: v for k, v in message.options.items() if k not in _RESET_OPTIONS}
        fresh: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=q_name(message.queue_name),
            actor_name=message.actor_name,
            args=message.args,
            kwargs=message.kwargs,
            options=options,
            message_id=message.message_id,
            message_timestamp=int(time.time() * 1000),
        )
        try:
            runtime.broker.enqueue(fresh)
        except Exception as exc:  # noqa: BLE001 - the rows are due now: the sweeper sends them
            log.error("dead_letter_requeue_enqueue_failed", actor=message.actor_name, error=type(exc).__name__)
    if outcome.done:
        log.info("dead_letters_requeued", count=len(outcome.done), rows_reset=outcome.rows_reset, by=actor)
    return outcome


def discard_dead(runtime: Runtime, message_ids: Sequence[str] | None, reason: str, *, actor: str) -> DeadLetterOutcome:
    """Remove dead messages (``None``: all) for good, recording ``reason``; their rows stay as they are.

    Raises :class:`ValueError` when ``reason`` is blank. Blocking: call in a thread.
    """
    reason = " ".join(reason.split())[:500]
    if not reason:
        raise ValueError("a reason is required to discard dead messages")
    entries, missing = _select(runtime, message_ids)
    outcome = DeadLetterOutcome(missing=missing)
    for entry in entries:
        if not _take(runtime.broker, entry):
            outcome.missing.append(entry.message.message_id)
            continue
        try:
            with runtime.sf.begin() as session:
                record_dead_letter_action(
                    session,
                    actor=actor,
                    action="discard",
                    message_id=entry.message.message_id,
                    actor_name=entry.message.actor_name,
                    reason=reason,
                )
        except Exception:
            _put_back(runtime.broker, entry)
            raise
        outcome.done.append(_letter(entry))
    if outcome.done:
        log.info("dead_letters_discarded", count=len(outcome.done), by=actor)
    return outcome


def recent_actions(runtime: Runtime, limit: int = 20) -> list[DeadLetterAction]:
    """The latest requeues and discards, newest first (from the index on their time)."""
    with runtime.read_sf() as session:
        rows = list(session.scalars(select(DeadLetterAction).order_by(DeadLetterAction.at.desc()).limit(limit)))
        session.expunge_all()
    return rows


def reset_dead_inbox(session: Session, ids: Sequence[str]) -> Sequence[Any]:
    """Make inbox messages still ``dead`` ``accepted`` again, attempts from 0, due now; returns their ids."""
    now = utcnow()
    return session.execute(
        update(InboxMessage)
        .where(InboxMessage.id.in_(ids), InboxMessage.state == "dead")
        .values(state="accepted", attempts=0, error=None, next_attempt_at=now, updated_at=now)
        .returning(InboxMessage.id)
    ).all()
