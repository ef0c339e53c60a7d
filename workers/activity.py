"""Counts what one process does, per minute, for the health page and for Prometheus.

Code that accepts, processes or sends calls the recorder (``runtime.activity``); the recorder
keeps the counts in memory (a lock and a dict: cheap enough for the accept path) and the
process's monitor thread (:mod:`workers.monitor`) adds them to ``activity_counts`` every
``MONITOR_INTERVAL_SECONDS``. Listeners (the Prometheus exporter, :mod:`gateway.metrics`) see
every event as it happens.

Labels never hold personal data: channel, provider, actor and outcome names only.

- :meth:`Activity.inbound`: metric ``inbound``, label ``<channel>:<outcome>``; outcomes accepted,
  duplicate, refused (signature/auth), malformed, too_large, unreadable.
- :meth:`Activity.actor`: metric ``actor``, label ``<actor>:<outcome>``; processed, failed (one
  attempt), dead (retries spent).
- :meth:`Activity.outbound`: metric ``outbound``, label ``<provider>:<result>``; sent, failed,
  unknown, delivered.
- :meth:`Activity.accept_latency`: listeners only (a histogram of seconds from request to answer).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from complaints.monitoring import minute_of
from normalizer.envelope import utcnow

INBOUND_OUTCOMES = ("accepted", "duplicate", "refused", "malformed", "too_large", "unreadable")
ACTOR_OUTCOMES = ("processed", "failed", "dead")
OUTBOUND_RESULTS = ("sent", "failed", "unknown", "delivered")

Listener = Callable[[str, dict[str, str], float], None]
"""``listener(event, labels, value)``: event is inbound|actor|outbound (value = count) or accept_latency (seconds)."""


class Activity:
    """Per-minute counters of one process, drained by the monitor thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[datetime, str, str]] = Counter()
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` on every event from now on (exceptions in it are the listener's problem)."""
        self._listeners.append(listener)

    def _count(self, metric: str, label: str, labels: dict[str, str], n: int) -> None:
        key = (minute_of(utcnow()), metric, label)
        with self._lock:
            self._counts[key] += n
        for listener in self._listeners:
            listener(metric, labels, n)

    def inbound(self, channel: str, outcome: str, n: int = 1) -> None:
        """A message reached a channel's endpoint or poller and was ``outcome`` (see module table)."""
        self._count("inbound", f"{channel}:{outcome}", {"channel": channel, "outcome": outcome}, n)

    def actor(self, actor: str, outcome: str, n: int = 1) -> None:
        """A queue message for ``actor`` was processed, failed an attempt, or died."""
        self._count("actor", f"{actor}:{outcome}", {"actor": actor, "outcome": outcome}, n)

    def outbound(self, provider: str, result: str, n: int = 1) -> None:
        """A reply through ``provider`` was sent, failed, ended unknown, or was reported delivered."""
        self._count("outbound", f"{provider}:{result}", {"provider": provider, "result": result}, n)

    def accept_latency(self, channel: str, seconds: float) -> None:
        """How long accepting one request took (listeners only: a histogram, not a counter)."""
        for listener in self._listeners:
            listener("accept_latency", {"channel": channel}, seconds)

    def drain(self) -> dict[tuple[datetime, str, str], int]:
        """Take the counts gathered since the last drain (the caller stores them)."""
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
        return counts

    def restore(self, counts: dict[tuple[datetime, str, str], int]) -> None:
        """Put back counts whose write failed, so the next drain carries them (nothing is lost)."""
        with self._lock:
            self._counts.update(counts)
