"""Reads and writes of what operators watch: heartbeats, per-minute counters, queue samples.

Every function takes a session (or engine) and plain values, so the monitor thread of each
process writes here and the health page, ``intake queues`` and ``/metrics`` read here. Reads look
at recent minutes only (an index-backed range), never at a whole table: the page stays fast with
a million complaints stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from complaints.models import ActivityCount, DeadLetterAction, ProcessBeat, QueueSample
from normalizer.envelope import utcnow

# The metrics counted per minute (see workers/activity.py for their labels).
METRICS = ("inbound", "actor", "outbound")


def minute_of(at: datetime) -> datetime:
    """The start of the minute ``at`` falls in (counters and samples are kept per minute)."""
    return at.replace(second=0, microsecond=0)


def _upsert(engine_or_session: Engine | Session, model: type[ActivityCount] | type[QueueSample]) -> object:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return postgresql.insert(model) if bind.dialect.name == "postgresql" else sqlite.insert(model)


def add_counts(session: Session, counts: Mapping[tuple[datetime, str, str], int]) -> None:
    """Add ``{(minute, metric, label): n}`` to the stored counters (several processes add to one row)."""
    if not counts:
        return
    rows = [
        {"minute": m, "metric": metric, "label": label[:120], "count": n} for (m, metric, label), n in counts.items()
    ]
    stmt = _upsert(session, ActivityCount)
    stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["minute", "metric", "label"],
        set_={"count": ActivityCount.count + stmt.excluded.count},  # type: ignore[attr-defined]
    )
    session.execute(stmt, rows)


def counts_since(session: Session, since: datetime, metric: str | None = None) -> list[tuple[datetime, str, str, int]]:
    """``(minute, metric, label, count)`` rows from ``since`` on, oldest first."""
    query = select(ActivityCount.minute, ActivityCount.metric, ActivityCount.label, ActivityCount.count).where(
        ActivityCount.minute >= minute_of(since)
    )
    if metric is not None:
        query = query.where(ActivityCount.metric == metric)
    return [(m, met, lab, n) for m, met, lab, n in session.execute(query.order_by(ActivityCount.minute)).all()]


def totals_since(session: Session, since: datetime, metric: str) -> dict[str, int]:
    """``{label: total}`` of one metric from ``since`` on."""
    rows = session.execute(
        select(ActivityCount.label, func.sum(ActivityCount.count))
        .where(ActivityCount.minute >= minute_of(since), ActivityCount.metric == metric)
        .group_by(ActivityCount.label)
    ).all()
    return {label: int(total or 0) for label, total in rows}


@dataclass(frozen=True)
class ProcessInfo:
    """One process as its heartbeat row describes it."""

    id: str
    role: str
    host: str
    pid: int
    threads: int
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None


def beat(session: Session, info: ProcessInfo) -> None:
    """Write this process's heartbeat (insert the first time, then move ``beat_at``)."""
    row = session.get(ProcessBeat, info.id)
    if row is None:
        session.add(
            ProcessBeat(
                id=info.id,
                role=info.role,
                host=info.host[:120],
                pid=info.pid,
                threads=info.threads,
                started_at=info.started_at,
                beat_at=info.beat_at,
                stopped_at=info.stopped_at,
            )
        )
    else:
        row.beat_at = info.beat_at
        row.threads = info.threads
        row.stopped_at = info.stopped_at


def processes(session: Session, *, forget_after: timedelta = timedelta(days=1)) -> list[ProcessInfo]:
    """Processes that beat or stopped within ``forget_after``, newest start first."""
    cutoff = utcnow() - forget_after
    rows = session.scalars(
        select(ProcessBeat).where(ProcessBeat.beat_at >= cutoff).order_by(ProcessBeat.started_at.desc())
    )
    return [ProcessInfo(r.id, r.role, r.host, r.pid, r.threads, r.started_at, r.beat_at, r.stopped_at) for r in rows]


def forget_old(session: Session, *, keep: timedelta = timedelta(days=2)) -> None:
    """Drop heartbeats, counters and samples older than ``keep`` (the monitor calls this now and then)."""
    cutoff = utcnow() - keep
    session.execute(delete(ProcessBeat).where(ProcessBeat.beat_at < cutoff))
    session.execute(delete(ActivityCount).where(ActivityCount.minute < cutoff))
    session.execute(delete(QueueSample).where(QueueSample.minute < cutoff))


def mark_stopped(session: Session, process_id: str) -> None:
    """A process that ends cleanly says so, and is then not reported missing."""
    now = utcnow()
    session.execute(update(ProcessBeat).where(ProcessBeat.id == process_id).values(stopped_at=now, beat_at=now))


@dataclass(frozen=True)
class QueueDepth:
    """One Dramatiq queue right now (see :func:`workers.queue_inspect.queue_depths`)."""

    queue: str
    ready: int
    delayed: int
    in_flight: int
    dead: int
    oldest_ready_seconds: float | None = None
    """Age of the oldest message waiting to be consumed (None: empty, or the broker cannot tell)."""


def add_queue_samples(session: Session, minute: datetime, depths: Iterable[QueueDepth]) -> None:
    """Store this minute's depths unless another process already did (first writer wins)."""
    rows = [
        {"minute": minute_of(minute), "queue": d.queue, "ready": d.ready, "delayed": d.delayed,
         "in_flight": d.in_flight, "dead": d.dead}
        for d in depths
    ]  # fmt: skip
    if rows:
        session.execute(_upsert(session, QueueSample).on_conflict_do_nothing(), rows)  # type: ignore[attr-defined]


def queue_samples_since(session: Session, since: datetime) -> list[QueueSample]:
    """Stored samples from ``since`` on, oldest first."""
    return list(
        session.scalars(select(QueueSample).where(QueueSample.minute >= minute_of(since)).order_by(QueueSample.minute))
    )


def record_dead_letter_action(
    session: Session, *, actor: str, action: str, message_id: str, actor_name: str, reason: str | None
) -> None:
    """Write who requeued or discarded a dead-lettered message (the page and ``intake dlq`` both call this)."""
    session.add(
        DeadLetterAction(
            at=utcnow(), actor=actor, action=action, message_id=message_id, actor_name=actor_name, reason=reason
        )
    )
