"""Looks inside the Dramatiq broker, the same way for Redis and for the embedded in-process broker.

Dramatiq has no inspection API, so this module reads each broker's own structures: for Redis the
keys its dispatch script keeps (``<ns>:<queue>`` list of ready ids, ``<ns>:<queue>.msgs`` bodies,
``<ns>:<queue>.DQ`` delayed, ``<ns>:<queue>.XQ`` dead sorted by time of death,
``<ns>:__acks__.<worker>.<queue>`` in flight); for the stub broker its in-memory queues. All of it
blocks (Redis round trips): call from a thread, never on the event loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from queue import Queue
from typing import TYPE_CHECKING, Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, q_name, xq_name
from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from complaints.models import Complaint, DeadLetterAction, InboxMessage, Reply
from complaints.monitoring import QueueDepth, record_dead_letter_action
from config.logging import mask
from normalizer.envelope import utcnow

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def _age_seconds(body: bytes | str | None, now_ms: float) -> float | None:
    """Age of a queue message from its encoded body (``message_timestamp`` is milliseconds)."""
    if not body:
        return None
    try:
        stamp = json.loads(body)["message_timestamp"]
    except (ValueError, KeyError, TypeError):
        return None
    return max(0.0, (now_ms - float(stamp)) / 1000)


def _stub_depth(broker: StubBroker, queue: str, now_ms: float) -> QueueDepth:
    ready_q: Queue[Any] = broker.queues[queue]
    delayed_q: Queue[Any] = broker.queues[dq_name(queue)]
    ready = ready_q.qsize()
    # Queue.unfinished_tasks counts messages put and not yet task_done(): waiting plus in flight.
    in_flight = max(0, ready_q.unfinished_tasks - ready) + max(0, delayed_q.unfinished_tasks - delayed_q.qsize())
    with ready_q.mutex:
        first = ready_q.queue[0] if ready_q.queue else None
    return QueueDepth(
        queue=queue,
        ready=ready,
        delayed=delayed_q.qsize(),
        in_flight=in_flight,
        dead=len(broker.dead_letters_by_queue.get(queue, [])),
        oldest_ready_seconds=_age_seconds(first, now_ms),
    )


def _redis_depth(broker: Any, queue: str, now_ms: float) -> QueueDepth:
    client = broker.client
    ns = broker.namespace
    in_flight = 0
    for key in client.scan_iter(match=f"{ns}:__acks__.*.{queue}", count=500):
        in_flight += int(client.scard(key))
    for key in client.scan_iter(match=f"{ns}:__acks__.*.{dq_name(queue)}", count=500):
        in_flight += int(client.scard(key))
    with client.pipeline(transaction=False) as pipe:
        pipe.llen(f"{ns}:{queue}")
        pipe.llen(f"{ns}:{dq_name(queue)}")
        pipe.zcard(f"{ns}:{xq_name(queue)}")
        pipe.lindex(f"{ns}:{queue}", 0)
        ready, delayed, dead, first_id = pipe.execute()
    body = client.hget(f"{ns}:{queue}.msgs", first_id) if first_id else None
    return QueueDepth(
        queue=queue,
        ready=int(ready),
        delayed=int(delayed),
        in_flight=in_flight,
        dead=int(dead),
        oldest_ready_seconds=_age_seconds(body, now_ms),
    )


def queue_depths(broker: dramatiq.Broker) -> list[QueueDepth]:
    """Every declared (non-delay) queue's depth right now, by queue name."""
    now_ms = time.time() * 1000
    queues = sorted(q for q in broker.get_declared_queues() if not q.endswith(".DQ") and not q.endswith(".XQ"))
    if isinstance(broker, StubBroker):
        return [_stub_depth(broker, q, now_ms) for q in queues]
    return [_redis_depth(broker, q, now_ms) for q in queues]


# --------------------------------------------------------------------------- part-dlq: dead letters
#
# A dead letter is a queue message Dramatiq's Retries gave up on. Its public id is Dramatiq's
# ``message_id`` on both brokers (Redis keys the dead-letter set by a per-enqueue
# ``redis_message_id``, which this module maps back). Requeue and discard first *take* the message
# out of the dead-letter queue atomically (of two operators pressing at once, one wins), then write
# the database; if that write fails the message is put back, so nothing is lost either way.

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


def _entries(broker: dramatiq.Broker) -> list[_Entry]:
    """Every dead message of every queue, newest death first (blocking on Redis)."""
    found: list[_Entry] = []
    for queue in _dead_queues(broker):
        if isinstance(broker, StubBroker):
            for proxy in list(broker.dead_letters_by_queue.get(queue, [])):
                message = proxy._message  # noqa: SLF001 - the stub keeps proxies; we need the message itself
                died = message.options.get("requeue_timestamp") or message.message_timestamp
                found.append(_Entry(queue, message.message_id, float(died), message, on_redis=False))
            continue
        client, xq = broker.client, f"{broker.namespace}:{xq_name(queue)}"  # type: ignore[attr-defined]
        scores = dict(client.zrange(xq, 0, -1, withscores=True))
        bodies = client.hgetall(f"{xq}.msgs") if scores else {}
        for key, score in scores.items():
            body = bodies.get(key)
            if body is None:
                continue  # expired between the two reads
            try:
                message = dramatiq.Message.decode(body)
            except Exception:  # noqa: BLE001 - a body we cannot read is shown as unreadable, not fatal
                log.warning("dead_letter_unreadable", queue=queue)
                continue
            found.append(_Entry(queue, _text(key), float(score), message, on_redis=True))
    return sorted(found, key=lambda e: e.died_ms, reverse=True)


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


def _letter(entry: _Entry, row_error: str | None) -> DeadLetter:
    message = entry.message
    retries = int(message.options.get("retries", 0) or 0)
    # The stub keeps the message Retries updated after the last failure; Redis keeps the body as it
    # was enqueued for the last attempt, whose retries count (and traceback) is one behind.
    attempts = retries + 1 if entry.on_redis else max(retries, 1)
    tb = message.options.get("traceback")
    error = row_error or _last_line(tb)
    return DeadLetter(
        message_id=message.message_id,
        queue=entry.queue,
        actor=message.actor_name,
        ids=_ids(message),
        attempts=attempts,
        error=mask(error)[:MAX_ERROR_CHARS] if error else None,
        traceback=mask(tb) if isinstance(tb, str) else None,
        died_at=datetime.fromtimestamp(entry.died_ms / 1000, tz=UTC),
    )


def _named_rows(session: Session, actor: str, ids: Sequence[str]) -> list[NamedRow]:
    """The rows a message of ``actor`` names, with their state and (masked) error."""
    kind = _ROW_KINDS.get(actor)
    if not ids or kind is None:
        return []
    if kind == "inbox":
        inbox = session.execute(
            select(InboxMessage.id, InboxMessage.state, InboxMessage.attempts, InboxMessage.error, Complaint.ticket)
            .outerjoin(Complaint, Complaint.inbox_id == InboxMessage.id)
            .where(InboxMessage.id.in_(ids))
        ).all()
        return [NamedRow("inbox", i, s, a, _masked(e), t) for i, s, a, e, t in inbox]
    if kind == "reply":
        replies = session.execute(
            select(Reply.id, Reply.status, Reply.attempts, Reply.error, Complaint.ticket)
            .outerjoin(Complaint, Complaint.id == Reply.complaint_id)
            .where(Reply.id.in_(ids))
        ).all()
        return [NamedRow("reply", i, s, a, _masked(e), t) for i, s, a, e, t in replies]
    cases = session.execute(select(Complaint.id, Complaint.status, Complaint.ticket).where(Complaint.id.in_(ids)))
    return [NamedRow("case", i, s, None, None, t) for i, s, t in cases.all()]


def _masked(error: str | None) -> str | None:
    return mask(error)[:MAX_ERROR_CHARS] if error else None


def dead_letters(runtime: Runtime, limit: int = 50, offset: int = 0) -> tuple[list[DeadLetter], int]:
    """A page of dead messages, newest death first, and how many there are in all (blocking)."""
    entries = _entries(runtime.broker)
    page = entries[offset : offset + limit]
    with runtime.read_sf() as session:
        letters = []
        for entry in page:
            rows = _named_rows(session, entry.message.actor_name, _ids(entry.message))
            letters.append(_letter(entry, next((r.error for r in rows if r.error), None)))
    return letters, len(entries)


def tickets_of(runtime: Runtime, letters: Sequence[DeadLetter]) -> dict[str, list[str]]:
    """``{message_id: [tickets]}``: the cases the dead messages are about, where there are any."""
    found: dict[str, list[str]] = {}
    with runtime.read_sf() as session:
        for letter in letters:
            rows = _named_rows(session, letter.actor, letter.ids)
            found[letter.message_id] = sorted({r.ticket for r in rows if r.ticket})
    return found


def dead_letter(runtime: Runtime, message_id: str) -> DeadLetterDetail | None:
    """One dead message with the rows it names (None: no such dead message)."""
    entry = next((e for e in _entries(runtime.broker) if e.message.message_id == message_id), None)
    if entry is None:
        return None
    with runtime.read_sf() as session:
        rows = _named_rows(session, entry.message.actor_name, _ids(entry.message))
    letter = _letter(entry, next((r.error for r in rows if r.error), None))
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
        removed, _ = pipe.execute()
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


def _reset_rows(session: Session, actor: str, ids: Sequence[str]) -> int:
    """Put back the rows the dead-letter recorder marked, and only those still as it left them.

    An inbox message still ``dead`` becomes ``accepted``; a reply still ``failed`` becomes
    ``queued`` unless the answer was sent again since (a newer reply of the same kind for the same
    case: the citizen would get it twice). A reply ``unknown`` may have reached the citizen and is
    left alone. Attempts start again from 0 and the next attempt is due now, so if the queue
    message is lost the sweeper still does the work. Returns how many rows were reset.
    """
    if not ids:
        return 0
    now = utcnow()
    fresh = {"attempts": 0, "error": None, "next_attempt_at": now, "updated_at": now}
    if actor == "verify_intake":
        done = session.execute(
            update(InboxMessage)
            .where(InboxMessage.id.in_(ids), InboxMessage.state == "dead")
            .values(state="accepted", **fresh)
            .returning(InboxMessage.id)
        ).all()
        return len(done)
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
        done = session.execute(
            update(Reply)
            .where(Reply.id.in_(ids), Reply.status == "failed", ~resent)
            .values(status="queued", **fresh)
            .returning(Reply.id)
        ).all()
        return len(done)
    return 0  # route_to_opd: the recorder handed the case to triage, where the operator decides


def _select(runtime: Runtime, message_ids: Sequence[str] | None) -> tuple[list[_Entry], list[str]]:
    entries = _entries(runtime.broker)
    if message_ids is None:
        return entries, []
    wanted = list(dict.fromkeys(message_ids))
    by_id = {e.message.message_id: e for e in entries}
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
                outcome.rows_reset += _reset_rows(session, message.actor_name, _ids(message))
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
        outcome.done.append(_letter(entry, None))
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
        outcome.done.append(_letter(entry, None))
    if outcome.done:
        log.info("dead_letters_discarded", count=len(outcome.done), by=actor)
    return outcome


def recent_actions(runtime: Runtime, limit: int = 20) -> list[DeadLetterAction]:
    """The latest requeues and discards, newest first (from the index on their time)."""
    with runtime.read_sf() as session:
        rows = list(session.scalars(select(DeadLetterAction).order_by(DeadLetterAction.at.desc()).limit(limit)))
        session.expunge_all()
    return rows
