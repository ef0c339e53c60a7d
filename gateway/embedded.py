"""Starting the pieces of the system inside one process (``intake serve``) or one role each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import structlog
from aiohttp import web

from config.settings import Settings
from gateway.accept import GroupCommitAcceptor
from gateway.app import create_app
from gateway.keys import ACCEPTOR, ADAPTERS
from gateway.pollers import PollerSet, start_pollers
from workers.outbound import OutboundSender
from workers.runtime import Runtime
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
    runtime.outbound = OutboundSender(runtime.settings, sf=runtime.sf, read_sf=runtime.read_sf)
    worker = dramatiq.Worker(
        runtime.broker, worker_threads=threads or runtime.settings.worker_threads, worker_timeout=250
    )
    worker.start()
    sweeper = Sweeper(runtime)
    sweeper.start()
    return WorkerPool(runtime=runtime, worker=worker, sweeper=sweeper)


@dataclass
class MailIntake:
    """The e-mail intake of one process: IMAP poller and/or SMTP server, as configured."""

    poller: Any = None
    """channels.email.imap_poller.ImapPoller when IMAP is configured."""
    smtp: asyncio.AbstractServer | None = None

    async def stop(self) -> None:
        """Stop listening and polling (the poller finishes its current step)."""
        if self.smtp is not None:
            self.smtp.close()
            await self.smtp.wait_closed()
        if self.poller is not None:
            self.poller.stop()
            await asyncio.to_thread(self.poller.join, 30)


async def start_mail_intake(settings: Settings, runtime: Runtime, acceptor: GroupCommitAcceptor) -> MailIntake:
    """Start the IMAP poller and the SMTP server when their settings are present."""
    enabled = set(settings.check_providers())
    intake = MailIntake()
    # Imported here: processes without mail settings never load imapclient or aiosmtpd.
    from channels.email.imap_poller import ImapPoller, acceptor_bridge
    from channels.email.smtp_server import start_smtp_server

    if "imap" in enabled:
        intake.poller = ImapPoller(settings, runtime, acceptor_bridge(acceptor, asyncio.get_running_loop()))
        intake.poller.start()
    if "smtp_intake" in enabled:
        intake.smtp = await start_smtp_server(settings, runtime, acceptor)
    return intake


@dataclass
class EmbeddedSystem:
    """Web app, workers and sweeper running in this process (the embedded default)."""

    settings: Settings
    runtime: Runtime
    runner: web.AppRunner
    workers: WorkerPool | None
    mail: MailIntake = field(default_factory=MailIntake)
    pollers: PollerSet = field(default_factory=PollerSet)
    urls: list[str] = field(default_factory=list)

    async def stop(self) -> None:
        """Stop accepting, then stop the workers, then close connections."""
        await self.pollers.stop()
        await self.mail.stop()
        await self.runner.cleanup()
        if self.workers is not None:
            self.workers.stop()
        self.runtime.close()


async def start_system(settings: Settings, *, with_workers: bool = True, with_mail: bool = True) -> EmbeddedSystem:
    """Migrate, start workers and the pollers (IMAP, SMTP, X, Telegram; optional) and serve HTTP."""
    runtime = build_runtime(settings)
    workers = start_workers(runtime) if with_workers else None
    app = create_app(settings, runtime)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    port = settings.port
    if port == 0:  # the OS picked one: report the real port
        port = runner.addresses[0][1]
    mail = await start_mail_intake(settings, runtime, app[ACCEPTOR]) if with_mail else MailIntake()
    pollers = start_pollers(app[ADAPTERS], app[ACCEPTOR]) if with_mail else PollerSet()
    system = EmbeddedSystem(
        settings=settings, runtime=runtime, runner=runner, workers=workers, mail=mail, pollers=pollers
    )
    system.urls = [f"http://{settings.host}:{port}"]
    return system
