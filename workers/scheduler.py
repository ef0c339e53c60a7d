"""The scheduler: runs time-driven jobs every ``SCHEDULER_INTERVAL_SECONDS`` (a minute).

Jobs are plain functions of ``(runtime, now)``, so tests call them with a frozen ``now``:

- :func:`deadlines_job` recomputes deadlines of the old wall-clock rule on the working clock
  (complaints/deadlines.py), before the escalation looks at them;
- :func:`escalation_job` escalates overdue SOP steps (complaints/escalation.py);
- :func:`rating_period_job` finishes closed cases whose rating period ended (complaints/rating.py);
- :func:`digest_job` queues each OPD's morning digest once a day (complaints/digest.py).

It runs as its own process (``intake scheduler``, the Procfile's ``scheduler``) and inside
``intake serve``. With several processes exactly one acts: each pass first takes or renews the
lease row ``scheduler`` (complaints/lease.py) and does nothing without it. The lease only saves
work; each job is idempotent in the database, so running two schedulers is safe. E-mails are
queued in the outbox and handed to the ``send_reply`` workers after the job's commit.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from complaints import class_escalation, deadlines, digest, escalation, lease, rating, sla
from config.settings import ConfigurationError, Settings
from normalizer.envelope import utcnow

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

LEASE_NAME = "scheduler"
Job = Callable[["Runtime", datetime], object]


def deadlines_job(runtime: Runtime, now: datetime) -> deadlines.RecomputeOutcome:
    """Recompute legacy deadlines (none after the first passes), within half an interval."""
    outcome = deadlines.recompute_legacy_deadlines(
        runtime.sf,
        config=runtime.config,
        auto_dispose=runtime.settings.auto_dispose,
        max_seconds=runtime.settings.scheduler_interval_seconds / 2,
    )
    if outcome.recomputed:
        log.info("deadlines_recomputed", rows=outcome.recomputed, moved=outcome.moved, remaining=outcome.remaining)
    return outcome


def escalation_job(runtime: Runtime, now: datetime) -> escalation.EscalationOutcome:
    """Escalate overdue steps as of ``now`` and hand the queued e-mails to the senders."""
    outcome = escalation.escalate_overdue(runtime.sf, config=runtime.config, settings=runtime.settings, now=now)
    _send(runtime, outcome.reply_ids)
    if outcome.level1 or outcome.level2:
        log.info("escalated", level1=len(outcome.level1), level2=len(outcome.level2))
    return outcome


def class_deadline_job(runtime: Runtime, now: datetime) -> class_escalation.ClassEscalationOutcome:
    """Escalate cases past their class deadline (issue 14) and hand the queued e-mails to the senders."""
    outcome = class_escalation.escalate_class_deadlines(
        runtime.sf, config=runtime.config, settings=runtime.settings, now=now
    )
    _send(runtime, outcome.reply_ids)
    if outcome.escalated or outcome.level2:
        log.info("class_deadlines_escalated", count=len(outcome.escalated), level2=len(outcome.level2))
    return outcome


def rating_period_job(runtime: Runtime, now: datetime) -> tuple[list[str], list[str]]:
    """Finish the closed cases whose RATING_PERIOD_WORKING_DAYS ended (complaints/rating.py)."""
    with runtime.sf.begin() as session:
        unrated, rated = rating.finish_unrated(
            session,
            days=runtime.settings.rating_period_working_days,
            calendar=sla.calendar_of(runtime.config.calendar),
            now=now,
            limit=runtime.settings.escalation_max_per_pass,
        )
    if unrated or rated:
        log.info("rating_periods_ended", unrated=len(unrated), rated=len(rated))
    return unrated, rated


def digest_job(runtime: Runtime, now: datetime) -> list[str]:
    """Queue the morning digests due at ``now`` (once per OPD and day) and hand them to the senders."""
    with runtime.sf.begin() as session:
        reply_ids = digest.queue_due_digests(session, config=runtime.config, settings=runtime.settings, now=now)
    _send(runtime, reply_ids)
    if reply_ids:
        log.info("digests_queued", count=len(reply_ids))
    return reply_ids


# Deadlines first: the escalation skips rows not yet recomputed.
JOBS: tuple[tuple[str, Job], ...] = (
    ("deadlines", deadlines_job),
    ("escalation", escalation_job),
    ("class_deadlines", class_deadline_job),
    ("rating_period", rating_period_job),
    ("digest", digest_job),
)


def run_jobs(runtime: Runtime, now: datetime, jobs: tuple[tuple[str, Job], ...] = JOBS) -> dict[str, object]:
    """Run every job once at ``now``; a failing job is logged and does not stop the others."""
    results: dict[str, object] = {}
    for name, job in jobs:
        try:
            results[name] = job(runtime, now)
        except Exception as exc:  # noqa: BLE001 - one job's database hiccup must not stop the others
            log.error("scheduler_job_failed", job=name, error=f"{type(exc).__name__}: {exc}")
    return results


def check_scheduler_settings(settings: Settings) -> None:
    """Raise :class:`ConfigurationError` for settings the scheduler cannot run with."""
    try:
        ZoneInfo(settings.digest_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"DIGEST_TIMEZONE {settings.digest_timezone!r} is not a time zone") from exc
    if settings.scheduler_lease_seconds <= settings.scheduler_interval_seconds:
        raise ConfigurationError("SCHEDULER_LEASE_SECONDS must be longer than SCHEDULER_INTERVAL_SECONDS")


def _send(runtime: Runtime, reply_ids: list[str]) -> None:
    for start in range(0, len(reply_ids), 100):
        runtime.send("send_reply", reply_ids[start : start + 100])


class Scheduler(threading.Thread):
    """Background thread: every interval, take the lease and run the jobs; release it on stop."""

    def __init__(self, runtime: Runtime, *, holder: str | None = None) -> None:
        super().__init__(name="scheduler", daemon=True)
        check_scheduler_settings(runtime.settings)
        self.runtime = runtime
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}:{id(self):x}"
        self.stopping = threading.Event()

    def run(self) -> None:
        """Run passes until :meth:`stop`; the first one an interval after start (like the sweeper)."""
        while not self.stopping.wait(self.runtime.settings.scheduler_interval_seconds):
            self.tick()

    def tick(self) -> bool:
        """One pass: True when this scheduler held the lease and ran the jobs."""
        try:
            with self.runtime.sf.begin() as session:
                held = lease.acquire(
                    session,
                    LEASE_NAME,
                    self.holder,
                    now=utcnow(),
                    ttl=timedelta(seconds=self.runtime.settings.scheduler_lease_seconds),
                )
        except Exception as exc:  # noqa: BLE001 - the scheduler must outlive a database hiccup
            log.error("scheduler_lease_failed", error=f"{type(exc).__name__}: {exc}")
            return False
        if held:
            run_jobs(self.runtime, utcnow())
        return held

    def stop(self) -> None:
        """Stop after the current pass and give the lease up, so another scheduler takes over at once."""
        self.stopping.set()
        if self.is_alive():
            self.join(30)
        try:
            with self.runtime.sf.begin() as session:
                lease.release(session, LEASE_NAME, self.holder, now=utcnow())
        except Exception as exc:  # noqa: BLE001 - the lease expires on its own anyway
            log.warning("scheduler_release_failed", error=f"{type(exc).__name__}: {exc}")
