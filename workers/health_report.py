"""The health picture: everything an operator needs to answer "is it flowing, and if not, where is it stuck?".

:func:`build_health` gathers, for one moment ``now``: the Dramatiq queues (depths from the broker,
processed and failed per actor over the last 1/5/15 minutes, depth and throughput per minute
over the last hours), the processes and their heartbeats, each inbound channel (last message
in, messages in the last hour, refused and malformed counts), the pollers, each outbound
provider, and accepted messages nobody processed. :mod:`workers.health_problems` turns the
picture into problems in words; the console page, ``/ops/status`` and ``intake queues`` show it.

Every query is index-backed or reads recent minutes of the monitoring tables, never a whole
table, so the page stays fast with a million complaints stored; counts of rows that should be
few (stuck, queued) stop at :data:`COUNT_CAP`. Nothing here holds personal data: poller ids and
errors pass through :func:`config.logging.mask` (an IMAP poller is named after its mailbox).
Blocking (database and Redis round trips): call it in a thread.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from complaints import sla
from complaints.counting import COUNT_CAP, capped_count
from complaints.models import InboxMessage, PollerState, Reply
from complaints.monitoring import (
    ProcessInfo,
    QueueDepth,
    counts_since,
    minute_of,
    processes,
    queue_samples_since,
    totals_since,
)
from config.logging import mask
from config.settings import Settings
from normalizer.envelope import utcnow
from workers.queue_inspect import queue_depths
from workers.runtime import Runtime

log = structlog.get_logger(__name__)

WINDOWS = (1, 5, 15)
"""Minutes over which processed and failed messages are counted."""
SERIES_HOURS = 3
"""How far back the depth and throughput chart goes."""
SAMPLE_FRESH = timedelta(minutes=5)
"""A stored queue sample older than this says nothing about now."""

# Inbound channel (inbox.channel) -> the settings providers that feed it. A channel with a provider
# switched on is expected to hear from citizens; silence there is worth a problem.
CHANNEL_PROVIDERS: dict[str, tuple[str, ...]] = {
    "sms": ("kannel", "twilio", "android_sms"),
    "email": ("imap", "smtp_intake"),
    "telegram": ("telegram",),
    "x": ("x",),
    "whatsapp": ("whatsapp",),
}
# Served by the gateway itself (citizen pages, app API): always on, shown but never "quiet".
ALWAYS_ON_CHANNELS = ("web", "app")
# Providers that send replies when their settings are present.
OUTBOUND_PROVIDERS = ("kannel", "twilio", "android_sms", "email", "telegram", "x", "whatsapp")


@dataclass(frozen=True)
class ActorActivity:
    """Queue messages of one actor over the last 1/5/15 minutes (keys of the dicts: minutes)."""

    actor: str
    queue: str
    processed: dict[int, int]
    failed: dict[int, int]
    dead: dict[int, int]


@dataclass(frozen=True)
class QueueHealth:
    """One Dramatiq queue now, with the activity of the actors consuming it."""

    depth: QueueDepth
    processed: dict[int, int]
    failed: dict[int, int]


@dataclass(frozen=True)
class SeriesPoint:
    """One minute of the chart: messages in the queues (None: nobody sampled) and messages processed."""

    minute: datetime
    depth: int | None
    processed: int


@dataclass(frozen=True)
class ProcessHealth:
    """A process and whether it is alive (beating), stopped cleanly, or missing."""

    info: ProcessInfo
    state: str  # alive | stopped | replaced (killed, a newer one of its role runs on its host) | missing


@dataclass(frozen=True)
class ChannelInbound:
    """What came in through one channel."""

    channel: str
    expected: bool
    """A provider of this channel is switched on (its silence during office hours is a problem)."""
    last_in: datetime | None
    last_hour: int
    accepted_24h: int
    refused_24h: int
    malformed_24h: int


@dataclass(frozen=True)
class PollerView:
    """One poller's health (id and error masked: an IMAP poller is named after its mailbox)."""

    id: str
    provider: str
    status: str
    last_poll_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


@dataclass(frozen=True)
class OutboundHealth:
    """Replies through one provider: queued now, and what happened over the last 24 h."""

    provider: str
    queued: int
    sent: int
    delivered: int
    failed: int
    unknown: int
    last_error: str | None
    last_error_at: datetime | None
    failing_since: datetime | None
    """The first minute with failures after the last success (None: not failing)."""


@dataclass(frozen=True)
class HealthPicture:
    """Everything :mod:`workers.health_problems` and the pages need, at one moment."""

    at: datetime
    queues: list[QueueHealth]
    queue_error: str | None
    """Why the broker could not be read (None: it answered)."""
    actors: list[ActorActivity]
    series: list[SeriesPoint]
    processes: list[ProcessHealth]
    channels: list[ChannelInbound]
    pollers: list[PollerView]
    outbound: list[OutboundHealth]
    stuck: int
    """Accepted messages older than HEALTH_STUCK_MINUTES still not processed (capped at COUNT_CAP)."""
    stuck_oldest: datetime | None
    dead_inbox: int = 0
    """Inbox messages accepted in the last 24 h that were given up after their retries (state ``dead``)."""
    calendar: sla.Calendar | None = None
    """part-escfix: the city's calendar (calendar.yaml): its holidays and days off are not office hours."""

    @property
    def dead_letters(self) -> int:
        """Messages in the dead-letter queues of the broker."""
        return sum(q.depth.dead for q in self.queues)


def _windows(rows: list[tuple[datetime, str, str, int]], now: datetime) -> dict[str, dict[int, int]]:
    """``{label: {window: total}}`` of per-minute rows for each window of :data:`WINDOWS`."""
    totals: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(WINDOWS, 0))
    for minute, _metric, label, n in rows:
        for window in WINDOWS:
            if minute >= minute_of(now - timedelta(minutes=window)):
                totals[label][window] += n
    return totals


def _sampled_depths(session: Session, now: datetime) -> list[QueueDepth]:
    """The newest stored sample per queue from the last few minutes (the monitor of a running process wrote it)."""
    newest: dict[str, QueueDepth] = {}
    for s in queue_samples_since(session, now - SAMPLE_FRESH):
        if s.minute <= now:
            newest[s.queue] = QueueDepth(s.queue, s.ready, s.delayed, s.in_flight, s.dead)
    return [newest[q] for q in sorted(newest)]


def _queue_part(
    runtime: Runtime, session: Session, actor_rows: list[tuple[datetime, str, str, int]], now: datetime, sampled: bool
) -> tuple[list[QueueHealth], list[ActorActivity], str | None]:
    try:
        depths = _sampled_depths(session, now) if sampled else queue_depths(runtime.broker)
        error = None
    except Exception as exc:  # noqa: BLE001 - a broker that does not answer is itself what the page must say
        depths, error = [], mask(f"{type(exc).__name__}: {exc}")[:200]
        log.warning("health_broker_unreadable", error=error)
    windows = _windows(actor_rows, now)
    zero = dict.fromkeys(WINDOWS, 0)
    queue_of = {name: actor.queue_name for name, actor in runtime.actors.items()}
    # Actors that counted something but are not declared here (another process's) join the default queue.
    names = sorted(set(queue_of) | {label.rpartition(":")[0] for label in windows})
    actors = [
        ActorActivity(
            actor=name,
            queue=queue_of.get(name, ""),
            processed=windows.get(f"{name}:processed", zero),
            failed=windows.get(f"{name}:failed", zero),
            dead=windows.get(f"{name}:dead", zero),
        )
        for name in names
    ]
    queues = []
    for depth in depths:
        mine = [a for a in actors if a.queue in (depth.queue, "")]
        queues.append(
            QueueHealth(
                depth=depth,
                processed={w: sum(a.processed[w] for a in mine) for w in WINDOWS},
                failed={w: sum(a.failed[w] for a in mine) for w in WINDOWS},
            )
        )
    return queues, actors, error


def _series(session: Session, actor_rows: list[tuple[datetime, str, str, int]], now: datetime) -> list[SeriesPoint]:
    start = minute_of(now - timedelta(hours=SERIES_HOURS))
    depth: dict[datetime, int] = defaultdict(int)
    for sample in queue_samples_since(session, start):
        depth[sample.minute] += sample.ready + sample.delayed + sample.in_flight
    processed: dict[datetime, int] = defaultdict(int)
    for minute, _metric, label, n in actor_rows:
        if label.endswith(":processed"):
            processed[minute] += n
    points, minute = [], start
    while minute <= minute_of(now):
        points.append(SeriesPoint(minute, depth.get(minute), processed.get(minute, 0)))
        minute += timedelta(minutes=1)
    return points


def _process_part(session: Session, settings: Settings, now: datetime) -> list[ProcessHealth]:
    # processes() keeps a day back from the wall clock; a frozen `now` in the past must see its own day.
    lag = max(timedelta(0), utcnow() - now)
    missing_after = timedelta(seconds=settings.health_worker_missing_seconds)
    infos = [i for i in processes(session, forget_after=timedelta(days=1) + lag) if i.started_at <= now]
    result = []
    for info in infos:
        if info.stopped_at is not None:
            state = "stopped"
        elif now - info.beat_at <= missing_after:
            state = "alive"
        elif any(
            o.id != info.id
            and o.role == info.role
            and o.host == info.host
            and o.started_at >= info.beat_at
            and o.stopped_at is None
            for o in infos
        ):
            # Killed and started again (a crash, kill -9, a redeploy): the newer process took its place.
            state = "replaced"
        else:
            state = "missing"
        result.append(ProcessHealth(info, state))
    return result


def _channel_part(session: Session, settings: Settings, now: datetime) -> list[ChannelInbound]:
    day = totals_since(session, now - timedelta(hours=24), "inbound")
    hour = totals_since(session, now - timedelta(hours=1), "inbound")
    expected = {c for c, providers in CHANNEL_PROVIDERS.items() if any(settings.provider_enabled(p) for p in providers)}
    seen = {label.rpartition(":")[0] for label in day}
    # Counters may be labelled by channel ("sms") or by provider ("kannel"): both count for the channel.
    alias = {p: c for c, providers in CHANNEL_PROVIDERS.items() for p in providers}
    names = sorted(expected | set(ALWAYS_ON_CHANNELS) | {alias.get(s, s) for s in seen})

    def total(source: dict[str, int], channel: str, outcome: str) -> int:
        keys = [channel, *CHANNEL_PROVIDERS.get(channel, ())]
        return sum(source.get(f"{k}:{outcome}", 0) for k in keys)

    result = []
    for channel in names:
        # max(created_at) for one channel is one probe of ix_inbox_channel_created.
        last_in = session.scalar(
            select(func.max(InboxMessage.created_at)).where(
                InboxMessage.channel == channel, InboxMessage.created_at <= now
            )
        )
        result.append(
            ChannelInbound(
                channel=channel,
                expected=channel in expected,
                last_in=last_in,
                last_hour=total(hour, channel, "accepted"),
                accepted_24h=total(day, channel, "accepted"),
                refused_24h=total(day, channel, "refused"),
                malformed_24h=total(day, channel, "malformed") + total(day, channel, "too_large"),
            )
        )
    return result


def _poller_part(session: Session) -> list[PollerView]:
    return [
        PollerView(
            id=mask(p.id),
            provider=p.provider,
            status=p.status,
            last_poll_at=p.last_poll_at,
            last_error=mask(p.last_error)[:300] if p.last_error else None,
            last_error_at=p.last_error_at,
        )
        for p in session.scalars(select(PollerState).order_by(PollerState.id))
    ]


def _capped_count(session: Session, *where: ColumnElement[bool]) -> int:
    return capped_count(session, InboxMessage.id, *where, cap=COUNT_CAP)  # shown as "10000+"


def _stuck_part(session: Session, settings: Settings, now: datetime) -> tuple[int, datetime | None]:
    cutoff = now - timedelta(minutes=settings.health_stuck_minutes)
    where = (InboxMessage.state == "accepted", InboxMessage.created_at < cutoff)
    oldest = session.scalar(select(func.min(InboxMessage.created_at)).where(*where))  # ix_inbox_state_created
    return (_capped_count(session, *where), oldest) if oldest is not None else (0, None)


def _last_errors(session: Session) -> dict[str, tuple[str, datetime]]:
    """The newest error per provider among recent failed, unknown and retrying replies (ix_replies_status_created)."""
    newest: dict[str, tuple[str, datetime]] = {}
    for status in ("failed", "unknown", "queued"):
        rows = session.execute(
            select(Reply.provider, Reply.error, Reply.updated_at)
            .where(Reply.status == status, Reply.error.is_not(None))
            .order_by(Reply.created_at.desc())
            .limit(50)
        ).all()
        for provider, error, at in rows:
            key = provider or "-"
            if key not in newest or at > newest[key][1]:
                newest[key] = (mask(error or "")[:200], at)
    return newest


def _outbound_part(session: Session, settings: Settings, now: datetime) -> list[OutboundHealth]:
    rows = counts_since(session, now - timedelta(hours=24), "outbound")
    queued_ids = select(Reply.provider).where(Reply.status == "queued").limit(COUNT_CAP).subquery()
    queued = {
        p or "-": int(n)
        for p, n in session.execute(select(queued_ids.c.provider, func.count()).group_by(queued_ids.c.provider))
    }
    errors = _last_errors(session)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    last_success: dict[str, datetime] = {}
    failures: dict[str, list[datetime]] = defaultdict(list)
    for minute, _metric, label, n in rows:
        provider, _, outcome = label.rpartition(":")
        if minute > now or n <= 0:
            continue
        totals[provider][outcome] += n
        if outcome in ("sent", "delivered"):
            last_success[provider] = max(minute, last_success.get(provider, minute))
        elif outcome == "failed":
            failures[provider].append(minute)
    names = sorted(
        {p for p in OUTBOUND_PROVIDERS if settings.provider_enabled(p)} | set(totals) | (set(queued) - {"-"})
    )
    result = []
    for provider in names:
        ok_at = last_success.get(provider)
        since_success = [m for m in failures.get(provider, []) if ok_at is None or m > ok_at]
        error = errors.get(provider)
        result.append(
            OutboundHealth(
                provider=provider,
                queued=queued.get(provider, 0),
                sent=totals[provider]["sent"],
                delivered=totals[provider]["delivered"],
                failed=totals[provider]["failed"],
                unknown=totals[provider]["unknown"],
                last_error=error[0] if error else None,
                last_error_at=error[1] if error else None,
                failing_since=min(since_success) if since_success else None,
            )
        )
    return result


def build_health(runtime: Runtime, now: datetime | None = None, *, sampled_depths: bool = False) -> HealthPicture:
    """The health picture at ``now`` (default: the wall clock). Blocking: call it in a thread.

    ``sampled_depths``: take queue depths from the newest stored samples instead of asking the
    broker, for a process whose broker is not the system's (``intake queues`` beside an embedded
    ``intake serve``, whose queue lives in that process's memory).
    """
    now = now or utcnow()
    settings = runtime.settings
    with runtime.read_sf() as session:
        actor_rows = [r for r in counts_since(session, now - timedelta(hours=SERIES_HOURS), "actor") if r[0] <= now]
        queues, actors, queue_error = _queue_part(runtime, session, actor_rows, now, sampled_depths)
        stuck, stuck_oldest = _stuck_part(session, settings, now)
        return HealthPicture(
            at=now,
            queues=queues,
            queue_error=queue_error,
            actors=actors,
            series=_series(session, actor_rows, now),
            processes=_process_part(session, settings, now),
            channels=_channel_part(session, settings, now),
            pollers=_poller_part(session),
            outbound=_outbound_part(session, settings, now),
            stuck=stuck,
            stuck_oldest=stuck_oldest,
            dead_inbox=_capped_count(
                session, InboxMessage.state == "dead", InboxMessage.created_at >= now - timedelta(hours=24)
            ),
            calendar=sla.calendar_of(runtime.config.calendar),
        )
