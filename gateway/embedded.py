"""Starting the pieces of the system inside one process (``intake serve``) or one role each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import dramatiq
import structlog
from aiohttp import web

from complaints.replies import reply_renderer
from config.settings import Settings
from gateway.app import create_app
from gateway.keys import ACCEPTOR, ADAPTERS
from gateway.limits import server_options  # part-hostile
from gateway.pollers import PollerSet, start_intake
from workers.dramatiq_prometheus import export_dramatiq_metrics
from workers.monitor import Monitor
from workers.outbound import OutboundSender
from workers.runtime import Runtime
from workers.scheduler import Scheduler  # part-escalation
from workers.setup import build_runtime
from workers.sweeper import Sweeper

log = structlog.get_logger(__name__)


@dataclass
class WorkerPool:
    """Dramatiq worker threads plus the sweeper and the outbound sender of one process."""

    runtime: Runtime
    worker: dramatiq.Worker
    sweeper: Sweeper

    def stop(self) -> None:
        """Stop consuming, let running messages finish, close the sender."""
        self.sweeper.stop()
        self.worker.stop(timeout=10_000)
        if self.runtime.outbound is not None:
            self.runtime.outbound.close()
            self.runtime.outbound = None


def start_workers(runtime: Runtime, threads: int | None = None) -> WorkerPool:
    """Start consuming the queue in this process."""
    runtime.outbound = OutboundSender(
        runtime.settings, texts=reply_renderer(runtime.config.replies), sf=runtime.sf, read_sf=runtime.read_sf
    )
    export_dramatiq_metrics(runtime.broker, runtime.settings)  # part-instrument: DRAMATIQ_PROMETHEUS_PORT
    worker = dramatiq.Worker(
        runtime.broker, worker_threads=threads or runtime.settings.worker_threads, worker_timeout=250
    )
    worker.start()
    sweeper = Sweeper(runtime)
    sweeper.start()
    return WorkerPool(runtime=runtime, worker=worker, sweeper=sweeper)


@dataclass
class EmbeddedSystem:
    """Web app, workers and sweeper running in this process (the embedded default)."""

    settings: Settings
    runtime: Runtime
    runner: web.AppRunner
    workers: WorkerPool | None
    pollers: PollerSet = field(default_factory=PollerSet)
    """Pollers (IMAP, X, Telegram long poll) and servers (SMTP intake) of this process."""
    urls: list[str] = field(default_factory=list)
    # part-escalation: the scheduler (escalations, morning digest) of `intake serve`; None in `intake gateway`.
    scheduler: Scheduler | None = None
    # part-monitor: this process's heartbeat, counters and queue samples (workers/monitor.py).
    monitor: Monitor | None = None

    async def stop(self) -> None:
        """Stop accepting, then stop the workers, then close connections."""
        await self.pollers.stop()
        await self.runner.cleanup()
        if self.scheduler is not None:  # part-escalation
            self.scheduler.stop()
        if self.workers is not None:
            self.workers.stop()
        if self.monitor is not None:  # part-monitor: after the work is done, so its last counts are stored
            await asyncio.to_thread(self.monitor.stop)
        self.runtime.close()


async def start_system(settings: Settings, *, with_workers: bool = True, with_pollers: bool = True) -> EmbeddedSystem:
    """Migrate, start workers, the pollers and servers (IMAP, SMTP, X, Telegram; optional) and serve HTTP."""
    runtime = build_runtime(settings)
    # part-escalation: `serve` runs the scheduler too (the Procfile runs it as its own process);
    # made before anything starts, so a bad DIGEST_TIMEZONE stops start-up cleanly.
    scheduler = Scheduler(runtime) if with_workers else None
    workers = start_workers(runtime) if with_workers else None
    app = create_app(settings, runtime)
    runner = web.AppRunner(app, access_log=None, **server_options(settings))  # part-hostile: header limits
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    port = settings.port
    if port == 0:  # the OS picked one: report the real port
        port = runner.addresses[0][1]
    adapters = app[ADAPTERS]
    try:
        pollers = (
            await start_intake(app[ACCEPTOR], pollers=adapters.pollers, servers=adapters.servers)
            if with_pollers
            else PollerSet()
        )
    except BaseException:
        # e.g. the SMTP port is taken: give back what was started before failing.
        await runner.cleanup()
        if workers is not None:
            workers.stop()
        runtime.close()
        raise
    system = EmbeddedSystem(settings=settings, runtime=runtime, runner=runner, workers=workers, pollers=pollers)
    if scheduler is not None:  # part-escalation
        system.scheduler = scheduler
        scheduler.start()
    system.urls = [f"http://{settings.host}:{port}"]
    # part-monitor: `intake serve` runs workers here; `intake gateway` runs none (threads 0).
    system.monitor = start_monitor(
        runtime, "serve" if with_workers else "gateway", settings.worker_threads if with_workers else 0
    )
    return system


# part-monitor
def start_monitor(runtime: Runtime, role: str, threads: int) -> Monitor:
    """Start this process's monitor thread (heartbeat, activity counters, queue samples)."""
    monitor = Monitor(runtime, role, threads)
    monitor.start()
    return monitor
