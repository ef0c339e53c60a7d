"""``GET /metrics``: the gateway in Prometheus text format (prometheus-client).

Two kinds of numbers:

- **Counters**, fed by a listener on ``runtime.activity`` (:mod:`workers.activity`): intake by
  channel and outcome, the accept latency histogram, actor outcomes, outbound sends and delivery
  reports by provider and result. They count what *this* process saw since it started.
- **Gauges**, read when Prometheus scrapes (:class:`StateCollector`, run in a thread because it
  asks Redis and the database): queue depths and dead letters (``workers.queue_inspect``),
  overdue SOP steps by step and OPD (an indexed range query on ``step_deadline_at``), and each
  poller's state (``poller_state``). A source that cannot be read is reported as
  ``intake_metrics_source_up{source=...} 0`` and the rest is still answered.

Several processes: when ``PROMETHEUS_MULTIPROC_DIR`` is set (prometheus-client's multiprocess
mode) every process writes its counters to files there and ``/metrics`` adds them all up, so
any gateway process answers for all of them (see the README). Labels hold channel, provider,
actor, queue, step and OPD names only — never personal data.

``METRICS_TOKEN`` set: a scrape must send ``Authorization: Bearer <token>`` (compared in
constant time); otherwise it is answered 401 with the reason.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Select, func, select

from complaints import deadlines
from complaints.models import Complaint, PollerState
from gateway.intake_counting import INTAKE_ROUTES
from gateway.keys import ADAPTERS, RUNTIME, SETTINGS
from normalizer.envelope import utcnow
from workers.activity import ACTOR_OUTCOMES, INBOUND_OUTCOMES, OUTBOUND_RESULTS, Activity
from workers.queue_inspect import queue_depths
from workers.runtime import Runtime

log = structlog.get_logger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds from a request's arrival to its answer: the group commit keeps most under 50 ms."""


def multiprocess_mode() -> bool:
    """True when prometheus-client keeps its values in ``PROMETHEUS_MULTIPROC_DIR`` (several processes)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ActivityMetrics:
    """Prometheus counters fed by an :class:`~workers.activity.Activity` listener."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        """Create the metrics on ``registry`` (None in multiprocess mode: the files are collected instead)."""
        self.inbound = Counter(
            "intake_inbound_messages",
            "Messages that reached a channel (webhook, form, app, poller, SMTP), by what became of them.",
            ["channel", "outcome"],
            registry=registry,
        )
        self.accept_latency = Histogram(
            "intake_accept_latency_seconds",
            "Time from an intake request's arrival to its answer, for requests that stored a message.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.actor = Counter(
            "intake_actor_messages",
            "Queue messages handled per actor: processed, failed (one attempt raised), dead (retries spent).",
            ["actor", "outcome"],
            registry=registry,
        )
        self.outbound = Counter(
            "intake_outbound_replies",
            "Reply sends per provider (sent, failed, unknown) and delivery reports (delivered, failed).",
            ["provider", "result"],
            registry=registry,
        )
        self._by_event: dict[str, Counter | Histogram] = {
            "inbound": self.inbound,
            "actor": self.actor,
            "outbound": self.outbound,
            "accept_latency": self.accept_latency,
        }
        self._children: dict[tuple[str, ...], Any] = {}

    def start_at_zero(self, channels: Iterable[str], actors: Iterable[str], providers: Iterable[str]) -> None:
        """Create every known series at 0, so ``rate()`` and alerts work before the first event."""
        for channel in channels:
            self.accept_latency.labels(channel=channel)
            for outcome in INBOUND_OUTCOMES:
                self.inbound.labels(channel=channel, outcome=outcome)
        for actor in actors:
            for outcome in ACTOR_OUTCOMES:
                self.actor.labels(actor=actor, outcome=outcome)
        for provider in providers:
            for result in OUTBOUND_RESULTS:
                self.outbound.labels(provider=provider, result=result)

    def __call__(self, event: str, labels: dict[str, str], value: float) -> None:
        """The :data:`workers.activity.Listener` hook: one event as it happens.

        Runs on the accept path, so each labelled child is looked up once and kept: a dict hit
        costs far less than prometheus-client's ``labels()`` (argument checks and a lock).
        """
        key = (event, *labels.values())
        child = self._children.get(key)
        if child is None:
            metric = self._by_event.get(event)
            if metric is None:
                return
            child = self._children.setdefault(key, metric.labels(**labels))
        if event == "accept_latency":
            child.observe(value)
        else:
            child.inc(value)


def install_activity_metrics(activity: Activity, registry: CollectorRegistry | None = None) -> ActivityMetrics:
    """Feed a new :class:`ActivityMetrics` from ``activity`` (not registered anywhere in multiprocess mode)."""
    metrics = ActivityMetrics(None if multiprocess_mode() else registry)
    activity.add_listener(metrics)
    return metrics


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


def _timestamp(value: datetime | None) -> float:
    """Seconds since the epoch of a stored UTC time (naive in SQLite), 0 when never."""
    if value is None:
        return 0.0
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def overdue_steps_query(now: datetime) -> Select[int, str | None, int]:
    """Cases past their step's deadline, counted by (step, OPD): a range read of ``ix_complaints_deadline_step_opd``."""
    return (
        select(Complaint.step, Complaint.opd_code, func.count())
        .where(deadlines.overdue(now))  # late as the escalation reads it (complaints/deadlines.py)
        .group_by(Complaint.step, Complaint.opd_code)
    )


class StateCollector(Collector):
    """Gauges read at scrape time: queues, overdue SOP steps, pollers (blocking: scrape in a thread)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        """Every source's gauges, then whether each source could be read."""
        up = _gauge("intake_metrics_source_up", "1 when this source could be read for this scrape.", ["source"])
        for source, read in (("queues", self._queues), ("overdue", self._overdue), ("pollers", self._pollers)):
            try:
                families = list(read())
            except Exception as exc:  # noqa: BLE001 - one broken source (Redis down) must not hide the others
                log.warning("metrics_source_failed", source=source, error=type(exc).__name__)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def _queues(self) -> Iterable[Metric]:
        messages = _gauge("intake_queue_messages", "Messages in a Dramatiq queue by state.", ["queue", "state"])
        dead = _gauge("intake_queue_dead_letters", "Messages in a queue's dead-letter set.", ["queue"])
        oldest = _gauge(
            "intake_queue_oldest_ready_seconds", "Age of the oldest message waiting (0 when none).", ["queue"]
        )
        for depth in queue_depths(self.runtime.broker):
            messages.add_metric([depth.queue, "ready"], depth.ready)
            messages.add_metric([depth.queue, "delayed"], depth.delayed)
            messages.add_metric([depth.queue, "in_flight"], depth.in_flight)
            dead.add_metric([depth.queue], depth.dead)
            oldest.add_metric([depth.queue], depth.oldest_ready_seconds or 0.0)
        return [messages, dead, oldest]

    def _overdue(self) -> Iterable[Metric]:
        overdue = _gauge(
            "intake_overdue_steps", "Cases past their SOP step's deadline, by step and OPD.", ["step", "opd"]
        )
        with self.runtime.read_sf() as session:
            for step, opd, count in session.execute(overdue_steps_query(utcnow())).all():
                overdue.add_metric([str(step), opd or "none"], count)
        return [overdue]

    def _pollers(self) -> Iterable[Metric]:
        labels = ["poller", "provider"]
        connected = _gauge("intake_poller_connected", "1 while a poller reports itself connected.", labels)
        last_poll = _gauge(
            "intake_poller_last_poll_timestamp_seconds", "When a poller last fetched (0 = never).", labels
        )
        last_error = _gauge(
            "intake_poller_last_error_timestamp_seconds", "When a poller last reported an error (0 = never).", labels
        )
        with self.runtime.read_sf() as session:
            for row in session.scalars(select(PollerState).order_by(PollerState.id)):
                key = [row.id, row.provider]
                connected.add_metric(key, 1 if row.status == "connected" else 0)
                last_poll.add_metric(key, _timestamp(row.last_poll_at))
                last_error.add_metric(key, _timestamp(row.last_error_at))
        return [connected, last_poll, last_error]


METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


def _refusal(header: str | None, token: str) -> str | None:
    """Why a scrape is refused (None: allowed). Never raises on odd bytes in the header."""
    if header is None:
        return "send Authorization: Bearer <METRICS_TOKEN>"
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return "send Authorization: Bearer <METRICS_TOKEN>"
    try:
        # aiohttp keeps undecodable header bytes as surrogates; those can never match the token.
        given_bytes = given.strip().encode("utf-8")
    except UnicodeEncodeError:
        return "the bearer token is not the METRICS_TOKEN"
    if not hmac.compare_digest(given_bytes, token.encode("utf-8")):
        return "the bearer token is not the METRICS_TOKEN"
    return None


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text format (bearer METRICS_TOKEN when set)."""
    token = request.app[SETTINGS].metrics_token
    if token:
        reason = _refusal(request.headers.get("Authorization"), token)
        if reason is not None:
            log.info("metrics_refused")
            return web.Response(
                status=401, text=f"Unauthorized: {reason}\n", headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
            )
    body = await asyncio.to_thread(generate_latest, request.app[METRICS_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_metrics(app: web.Application) -> None:
    """Mount GET /metrics and feed its counters from the runtime's activity recorder."""
    runtime = app[RUNTIME]
    # No auto_describe: it would run the collector's queries at registration.
    registry = CollectorRegistry()
    if multiprocess_mode():
        MultiProcessCollector(registry)  # every process's counters, from the shared directory
    counters = install_activity_metrics(runtime.activity, registry)
    adapters = app[ADAPTERS]
    channels = {*app.get(INTAKE_ROUTES, {}).values()}
    channels |= {getattr(a, "channel", name) for name, a in (*adapters.pollers.items(), *adapters.servers.items())}
    counters.start_at_zero(sorted(channels), sorted(runtime.actors), sorted(adapters.outbound))
    registry.register(StateCollector(runtime))
    app[METRICS_REGISTRY] = registry
    app.router.add_get("/metrics", metrics)
