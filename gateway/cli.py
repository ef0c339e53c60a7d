"""The ``intake`` command: ``serve`` (all in one), ``gateway``, ``worker``, ``poller``, ``smtp``, ``db upgrade``,
``telegram set-webhook``, ``config check`` / ``config init``, ``user add`` / ``user passwd`` / ``user list``,
``sla recompute``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog

from config.logging import configure_logging
from config.settings import ConfigurationError, Settings, load_settings
from gateway.cli_config import add_config_commands
from gateway.cli_dlq import add_dlq_commands  # part-dlq
from gateway.cli_queues import add_queues_command  # part-health
from gateway.cli_sla import add_sla_commands
from gateway.cli_users import add_user_commands

if TYPE_CHECKING:
    from gateway.pollers import PollerSet

log = structlog.get_logger("intake")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["port"] = args.port
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    settings.check_providers()
    return settings


def _stop_on_signal() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (installed at once, so a signal during start-up stops cleanly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _wait_for_signal() -> None:
    await _stop_on_signal().wait()


def public_url_warnings(settings: Settings, enabled: Container[str]) -> list[str]:
    """What goes wrong when PUBLIC_BASE_URL still points at this machine while a channel needs
    the world to reach it (X's public replies link to the tracking page; providers call back)."""
    host = (urlsplit(settings.public_base_url).hostname or "").lower()
    if host not in {"127.0.0.1", "localhost", "::1"}:
        return []
    warnings = []
    if "x" in enabled:
        warnings.append(
            f"X is on but PUBLIC_BASE_URL is {settings.public_base_url}: public replies on X would link"
            " citizens to this machine; set PUBLIC_BASE_URL to the city's https address"
        )
    if "twilio" in enabled:
        warnings.append(
            f"Twilio is on but PUBLIC_BASE_URL is {settings.public_base_url}: Twilio signs its webhooks over"
            " the public URL, so none will verify until PUBLIC_BASE_URL is the address Twilio calls"
        )
    return warnings


async def _serve_until_signal(settings: Settings, *, with_workers: bool) -> None:
    from gateway.cli_users import first_admin_lines
    from gateway.embedded import start_system
    from gateway.keys import ADAPTERS

    stop = _stop_on_signal()
    # The Procfile runs the pollers and the SMTP server as their own processes; `serve` runs everything.
    system = await start_system(settings, with_workers=with_workers, with_pollers=with_workers)
    mode = "embedded queue" if not settings.redis_url else "Redis queue"
    db = settings.resolved_database_url.split("://", 1)[0]
    print(f"intake: serving on {system.urls[0]} ({db}, {mode}, workers {'on' if with_workers else 'off'})", flush=True)
    print(f"  config {settings.config_dir}: {system.runtime.config.summary()}", flush=True)
    for path, what in (
        ("/lapor", "web form (?lang=en for English)"),
        ("/lacak", "public tracking page"),
        ("/api/v1/complaints/{ticket}", "public status JSON"),
        ("/ops/login", "staff console"),
        ("/healthz", "liveness"),
        ("/readyz", "readiness"),
    ):
        print(f"  {system.urls[0]}{path}  {what}", flush=True)
    adapters = system.runner.app[ADAPTERS]
    for name, adapter in adapters.webhooks.items():
        print(f"  {system.urls[0]}{adapter.path}  ({name} webhook)", flush=True)
    for warning in public_url_warnings(settings, adapters):
        print(f"  warning: {warning}", flush=True)
    _print_intake(system.pollers)
    # Printed here and nowhere else (not logged): the only copy of the first admin's password.
    for line in await asyncio.to_thread(first_admin_lines, system.runtime):
        print(line, flush=True)
    await stop.wait()
    print("intake: stopping", flush=True)
    await system.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    """Everything in one process: web, workers and sweeper."""
    from gateway.secret_key import resolve_secret_key

    settings = _settings(args)
    # The staff sessions' key: made once into DATA_DIR here, before anything listens.
    resolve_secret_key(settings, distributed=False)
    asyncio.run(_serve_until_signal(settings, with_workers=True))
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    """Only the web process (webhooks, pages, API); workers run elsewhere."""
    settings = _settings(args)
    if not settings.redis_url:
        print(
            "intake gateway: REDIS_URL is not set, so no separate worker could see the queue;"
            " use `intake serve` for the embedded mode",
            file=sys.stderr,
        )
        return 2
    from gateway.secret_key import resolve_secret_key

    # Several gateway processes must share one session key: refuse to start without SECRET_KEY.
    resolve_secret_key(settings, distributed=True)
    asyncio.run(_serve_until_signal(settings, with_workers=False))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Only the queue workers (and the sweeper)."""
    from gateway.embedded import start_monitor, start_workers
    from workers.setup import build_runtime

    settings = _settings(args)
    if not settings.redis_url:
        print("intake worker: REDIS_URL is not set; the embedded queue lives inside `intake serve`", file=sys.stderr)
        return 2
    runtime = build_runtime(settings)
    pool = start_workers(runtime, threads=args.threads)
    # part-instrument: with a shared PROMETHEUS_MULTIPROC_DIR the gateway's /metrics adds up this worker's counts.
    from gateway.metrics import install_activity_metrics, multiprocess_mode

    if multiprocess_mode():
        install_activity_metrics(runtime.activity)
    monitor = start_monitor(runtime, "worker", args.threads or settings.worker_threads)  # part-monitor
    print(f"intake worker: {args.threads or settings.worker_threads} threads on {settings.redis_namespace}", flush=True)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stopping.wait()
    pool.stop()
    monitor.stop()  # part-monitor: after the workers, so their last counts are stored
    runtime.close()
    return 0


# part-escalation: the scheduler as its own process (Procfile `scheduler`).
def cmd_scheduler(args: argparse.Namespace) -> int:
    """Only the scheduler: escalation of overdue steps and the OPDs' morning digest (one acts at a time)."""
    from gateway.embedded import start_monitor  # part-monitor
    from workers.scheduler import Scheduler, check_scheduler_settings
    from workers.setup import build_runtime

    settings = _settings(args)
    check_scheduler_settings(settings)  # a wrong DIGEST_TIMEZONE stops here, before any connection
    if not settings.redis_url:
        print(
            "intake scheduler: REDIS_URL is not set, so no worker would send its mail;"
            " `intake serve` runs the scheduler itself in the embedded mode",
            file=sys.stderr,
        )
        return 2
    runtime = build_runtime(settings)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    scheduler = Scheduler(runtime)
    scheduler.start()
    monitor = start_monitor(runtime, "scheduler", 0)  # part-monitor
    print(f"intake scheduler: running every {settings.scheduler_interval_seconds:g} s", flush=True)
    stopping.wait()
    print("intake scheduler: stopping", flush=True)
    scheduler.stop()
    monitor.stop()  # part-monitor
    runtime.close()
    return 0


def _print_intake(running: PollerSet) -> None:
    """Say which pollers run and where the servers listen (no secrets)."""
    for task in running.tasks:
        print(f"  poller: {task.get_name().removeprefix('poller-')}", flush=True)
    for name, where in running.listening.items():
        print(f"  {name}: listening on {where}", flush=True)


async def _intake_until_signal(settings: Settings, role: str) -> int:
    from channels.registry import build_adapters
    from complaints.replies import reply_renderer
    from config.loader import load_city_config
    from gateway.accept import GroupCommitAcceptor
    from gateway.embedded import start_monitor
    from gateway.pollers import start_intake
    from workers.setup import build_runtime

    # Loaded once here: the adapters' texts come from it, and the runtime gets the same one.
    config = load_city_config(settings.config_dir, home_region=settings.region_code)
    adapters = build_adapters(settings, texts=reply_renderer(config.replies))
    if role == "smtp" and not adapters.servers:
        print("intake smtp: set SMTP_INTAKE_PORT and SMTP_INTAKE_DOMAINS", file=sys.stderr)
        return 2
    if role == "poller" and not adapters.pollers:
        print(
            "intake poller: nothing to poll; set IMAP_* (mailbox), X_* (X_POLL_SECONDS > 0)"
            " or TELEGRAM_* with TELEGRAM_MODE=poll",
            file=sys.stderr,
        )
        return 2
    runtime = build_runtime(settings, config=config)
    # part-instrument: with a shared PROMETHEUS_MULTIPROC_DIR the gateway's /metrics adds up this process's counts.
    from gateway.metrics import install_activity_metrics, multiprocess_mode

    if multiprocess_mode():
        install_activity_metrics(runtime.activity)
    acceptor = GroupCommitAcceptor(runtime)
    acceptor.start()
    # Only this role's part: the poller process polls (IMAP, X, Telegram), the smtp process listens.
    if role == "poller":
        running = await start_intake(acceptor, pollers=adapters.pollers)
    else:
        running = await start_intake(acceptor, servers=adapters.servers)
    monitor = start_monitor(runtime, role, 0)  # part-monitor
    print(f"intake {role}: running", flush=True)
    _print_intake(running)
    await _wait_for_signal()
    await running.stop()
    await acceptor.stop()
    await asyncio.to_thread(monitor.stop)  # part-monitor
    runtime.close()
    return 0


def cmd_poller(args: argparse.Namespace) -> int:
    """Only the pollers: the IMAP mailbox, X mentions and DMs, Telegram's long poll (whichever are set)."""
    return asyncio.run(_intake_until_signal(_settings(args), "poller"))


def cmd_smtp(args: argparse.Namespace) -> int:
    """Only the SMTP intake server."""
    return asyncio.run(_intake_until_signal(_settings(args), "smtp"))


def cmd_telegram_set_webhook(args: argparse.Namespace) -> int:
    """Point the Telegram bot at our webhook (``setWebhook`` with TELEGRAM_WEBHOOK_SECRET)."""
    from telegram.error import TelegramError

    from channels.telegram import TelegramChannel

    settings = _settings(args)
    if not settings.telegram_bot_token:
        print("intake telegram set-webhook: set TELEGRAM_BOT_TOKEN", file=sys.stderr)
        return 2
    if settings.telegram_mode != "webhook":
        print(
            "intake telegram set-webhook: TELEGRAM_MODE is not webhook; the long poll removes any webhook",
            file=sys.stderr,
        )
        return 2
    url = args.url or f"{settings.public_base_url.rstrip('/')}/channels/telegram"
    if not args.url and not url.startswith("https://"):
        print(
            f"intake telegram set-webhook: Telegram calls HTTPS URLs only; PUBLIC_BASE_URL gives {url}", file=sys.stderr
        )
        return 2
    channel = TelegramChannel(settings)
    try:
        asyncio.run(channel.set_webhook(url))
    except TelegramError as exc:
        print(f"intake telegram set-webhook: Telegram refused: {exc.message}", file=sys.stderr)
        return 1
    print(f"intake telegram: webhook set to {url}", flush=True)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Create or migrate the database schema."""
    from complaints.db import make_engine, upgrade

    settings = _settings(args)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine, args.revision)
    print(f"intake db: {engine.url.render_as_string(hide_password=True)} is at {args.revision}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every sub-command has --help)."""
    parser = argparse.ArgumentParser(
        prog="intake",
        description="Complaint intake gateway: settings come from the environment and ./.env (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, helptext in (
        ("serve", cmd_serve, "run everything in one process (embedded default: SQLite + in-process queue)"),
        ("gateway", cmd_gateway, "run the web process only (needs REDIS_URL)"),
    ):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("--host", help="address to listen on (HOST, default 127.0.0.1)")
        p.add_argument("--port", type=int, help="port to listen on (PORT, default 8080)")
        p.set_defaults(func=func)
    for name, func, helptext in (
        ("poller", cmd_poller, "run the pollers only: IMAP (IMAP_*), X mentions/DMs, Telegram long poll"),
        ("smtp", cmd_smtp, "run the SMTP intake server only (SMTP_INTAKE_* settings)"),
    ):
        sub.add_parser(name, help=helptext, description=helptext).set_defaults(func=func)
    tg = sub.add_parser("telegram", help="Telegram bot set-up", description="Telegram bot set-up commands")
    tgsub = tg.add_subparsers(dest="telegram_command", required=True)
    hook = tgsub.add_parser(
        "set-webhook",
        help="point the bot at our webhook (setWebhook with TELEGRAM_WEBHOOK_SECRET)",
        description="point the bot at our webhook (setWebhook with TELEGRAM_WEBHOOK_SECRET)",
    )
    hook.add_argument("url", nargs="?", help="webhook URL (default PUBLIC_BASE_URL/channels/telegram)")
    hook.set_defaults(func=cmd_telegram_set_webhook)
    p = sub.add_parser("worker", help="run queue workers only (needs REDIS_URL)", description="run queue workers only")
    p.add_argument("--threads", type=int, help="worker threads (WORKER_THREADS, default 4)")
    p.set_defaults(func=cmd_worker)
    # part-escalation
    helptext = "run the scheduler only: escalations of overdue steps, morning digest (needs REDIS_URL)"
    sub.add_parser("scheduler", help=helptext, description=helptext).set_defaults(func=cmd_scheduler)
    db = sub.add_parser("db", help="database schema", description="database schema commands")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="migrate the schema to the latest revision", description="migrate the schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    add_config_commands(sub)
    add_user_commands(sub)
    add_queues_command(sub)  # part-health: intake queues [--watch]
    add_dlq_commands(sub)  # part-dlq: intake dlq list|show|requeue|purge
    add_sla_commands(sub)  # intake sla recompute
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``intake`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"intake: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
