"""Fault injection (issue 12, section 1): mixed complaints into the distributed set-up while it is hurt.

    python scripts/chaos.py [--complaints N] [--window SECONDS]     (make chaos / make chaos-quick)

On loopback it starts its own PostgreSQL cluster and Redis server (free ports, a fresh database),
a real Kannel with its fake SMSC (smsbox retrying our get-url), Dovecot, an SMTP sink for replies,
the fake Telegram Bot API, and the Procfile's processes: the gateway, two workers, two pollers.
Complaints arrive as SMS through Kannel, web-form posts (a browser's cookie and CSRF token,
re-posted on failure as a citizen would), mails into the IMAP mailbox and Telegram updates, each
from a sender of its own. Meanwhile it SIGKILLs and restarts the gateway, SIGKILLs a worker,
restarts Redis empty, stops PostgreSQL for 10 s and SIGKILLs the active poller. Then it counts per
sender: complaints stored (one each), acknowledgements received (one each), prints the table and
exits 1 on any loss, duplicate or missing/extra acknowledgement.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from complaints.db import upgrade  # noqa: E402
from complaints.models import Complaint, InboxMessage, Reply  # noqa: E402
from scripts.chaos_load import Load, Sender  # noqa: E402
from scripts.chaos_services import PgCluster, Processes, RedisServer, http_ok, wait_until  # noqa: E402
from tests.support.dovecot import running_dovecot  # noqa: E402
from tests.support.fake_telegram import FakeTelegram  # noqa: E402
from tests.support.kannel import running_kannel  # noqa: E402
from tests.support.processes import mailbox_env  # noqa: E402
from tests.support.smtp_sink import SmtpSink  # noqa: E402
from tests.support.system import free_port  # noqa: E402

TOKEN = "chaos-kannel-token"
BOT_TOKEN = "7000000001:chaos-bot-token"
SHORT_CODE = "1708"


class Telegram:
    """The fake Bot API on a loop of its own (the pollers long-poll it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.fake = FakeTelegram(token=BOT_TOKEN)
        asyncio.run_coroutine_threadsafe(self.fake.__aenter__(), self.loop).result(10)

    def push(self, update: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.fake.push_update, update)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.__aexit__(None, None, None), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def settings_env(base: Path, pg: PgCluster, redis: RedisServer, port: int, **extra: str) -> dict[str, str]:
    """What every intake process gets: our own services, short timers, no per-sender abuse limits."""
    import os

    return {
        **os.environ,
        "DATA_DIR": str(base / "var"),
        "DATABASE_URL": pg.url,
        "REDIS_URL": redis.url,
        "REDIS_NAMESPACE": "chaos",
        "SECRET_KEY": "chaos-run-secret-key-0123456789abcdefghijkl",
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_FORMAT": "json",
        "RATE_LIMITS_ENABLED": "false",  # one load generator on 127.0.0.1 is not an abuser
        "MAIL_AUTO_REPLIES_PER_HOUR": "1000",
        "SWEEP_INTERVAL_SECONDS": "2",
        "SWEEP_AFTER_SECONDS": "10",
        "WORKER_HEARTBEAT_TIMEOUT_SECONDS": "10",
        "POLLER_LEASE_SECONDS": "10",
        "RETRY_MIN_BACKOFF_MS": "500",
        "RETRY_MAX_BACKOFF_MS": "5000",
        "SEND_TIMEOUT_SECONDS": "5",
        "MONITOR_INTERVAL_SECONDS": "5",
        **extra,
    }


class Chaos:
    """The faults, each at its moment of the load window, with how long recovery took."""

    def __init__(self, procs: Processes, pg: PgCluster, redis: RedisServer, port: int, engine: Any) -> None:
        self.procs, self.pg, self.redis, self.port, self.engine = procs, pg, redis, port, engine
        self.recovery: dict[str, float | None] = {}
        self.threads: list[threading.Thread] = []

    def backlog(self) -> set[str]:
        """Inbox rows accepted and not yet processed, and replies not yet handed to their provider."""
        with self.engine.connect() as conn:
            inbox = set(conn.scalars(select(InboxMessage.id).where(InboxMessage.state == "accepted")))
            replies = set(conn.scalars(select(Reply.id).where(Reply.status.in_(("queued", "sending")))))
        return inbox | replies

    def _measure(self, name: str, condition: Callable[[], bool], timeout: float = 600) -> None:
        def run() -> None:
            self.recovery[name] = wait_until(lambda: _safe(condition), timeout, step=0.5)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _backlog_cleared(self, name: str) -> None:
        """Recovery: until every message and reply waiting at the fault has been processed or sent."""
        waiting = _safe(self.backlog) or set()
        self._measure(name, lambda: not (waiting & self.backlog()))

    def gateway(self) -> None:
        self.procs.kill("gateway")
        self.procs.restart("gateway")
        self._measure("gateway kill -9: /readyz again", lambda: http_ok(f"http://127.0.0.1:{self.port}/readyz"))

    def worker(self) -> None:
        # Mid-task: when there is work in flight (a few seconds at most to wait for some).
        wait_until(lambda: bool(_safe(self.backlog)), 5, step=0.05)
        self.procs.kill("worker-1")
        self._backlog_cleared("worker kill -9: work waiting then done")
        time.sleep(2)
        self.procs.restart("worker-1")

    def redis_restart(self) -> None:
        self.redis.stop()
        self.redis.start()
        self._backlog_cleared("redis restart (queue lost): work waiting then done")

    def postgres(self) -> None:
        self.pg.stop()
        time.sleep(10)
        self.pg.start()
        self._measure("postgresql 10 s stop: /readyz again", lambda: http_ok(f"http://127.0.0.1:{self.port}/readyz"))
        self._backlog_cleared("postgresql 10 s stop: work waiting then done")

    def poller(self) -> None:
        """SIGKILL the poller holding the mailbox's lease; the other one (or its restart) takes it over."""
        with self.engine.connect() as conn:
            holder = conn.scalar(text("SELECT holder FROM scheduler_leases WHERE name = 'poller:imap'")) or ""
        pid = holder.split(":")[1] if holder.count(":") >= 2 else ""
        pollers = [n for n in self.procs.procs if n.startswith("poller")]
        active = next((n for n in pollers if str(self.procs.procs[n].pid) == pid), pollers[0])
        logs = [self.procs.logs / f"{name}.log" for name in pollers]
        taken_before = _mailbox_takeovers(logs)
        self.procs.kill(active)
        self._measure("poller kill -9: a poller has the mailbox", lambda: _mailbox_takeovers(logs) > taken_before)
        self.procs.restart(active)


def _mailbox_takeovers(logs: list[Path]) -> int:
    """How often the pollers' logs say one took the mailbox's lease."""
    lines = (line for log in logs for line in log.read_text().splitlines())
    return sum(1 for line in lines if "poller_lease_taken" in line and "poller:imap" in line)


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - the database may be the thing that is down
        return None


def count(engine: Any, load: Load) -> dict[str, Any]:
    """Complaints stored and acknowledgements received per sender."""
    with engine.connect() as conn:
        rows = conn.execute(select(Complaint.reply_address, func.count()).group_by(Complaint.reply_address)).all()
        # The web form's acknowledgement is the receipt page (the reply row of channel web, shown there).
        receipts = conn.execute(
            select(Reply.address, func.count())
            .where(Reply.channel == "web", Reply.status.in_(("sent", "delivered")))
            .group_by(Reply.address)
        ).all()
    return tally(load.senders, rows, load.acknowledgements(), receipts)


def tally(
    senders: list[Sender],
    stored_rows: Sequence[tuple[str, int]],
    acks: Counter[str],
    receipts: Sequence[tuple[str, int]] = (),
) -> dict[str, Any]:
    """The verdict per sender that sent: ``stored_rows`` (reply address, cases), ``acks`` by sender key."""
    stored = Counter({_key(address): n for address, n in stored_rows})
    acks = acks + Counter({_key(address): n for address, n in receipts})
    sent = [s for s in senders if s.sent]
    per = {s.key: (sum(stored[k] for k in s.keys), sum(acks[k] for k in s.keys)) for s in sent}
    totals: dict[str, Any] = {
        "sent": len(sent),
        "stored": sum(1 for n, _ in per.values() if n),
        "lost": sum(1 for n, _ in per.values() if not n),
        "dup": sum(n - 1 for n, _ in per.values() if n > 1),
        "acks": sum(a for _, a in per.values()),
        "missing_acks": sum(1 for _, a in per.values() if a == 0),
        "extra_acks": sum(a - 1 for _, a in per.values() if a > 1),
        "by_channel": Counter(s.channel for s in sent),
        "web_reposts": sum(s.attempts - 1 for s in sent if s.channel == "web"),
        "lost_by_channel": Counter(s.channel for s in sent if not per[s.key][0]),
        "unacked_by_channel": Counter(s.channel for s in sent if not per[s.key][1]),
    }
    totals["failed"] = bool(totals["lost"] or totals["dup"] or totals["missing_acks"] or totals["extra_acks"])
    return totals


def _key(address: str) -> str:
    """A sender as the load generator names it: digits of a phone, an e-mail or chat id as is."""
    return address.lower() if "@" in address else re.sub(r"\D", "", address)


def report(totals: dict[str, Any], drain: float | None, recovery: dict[str, float | None], took: float) -> None:
    def seconds(value: float | None) -> str:
        return "not within the wait" if value is None else f"{value:.1f} s"

    rows = [
        ("complaints sent", str(totals["sent"])),
        *((f"  of them {ch}", str(n)) for ch, n in sorted(totals["by_channel"].items())),
        ("  web-form posts repeated after a failure", str(totals["web_reposts"])),
        ("stored (one case each)", str(totals["stored"])),
        ("lost", f"{totals['lost']} {dict(totals['lost_by_channel']) or ''}".strip()),
        ("duplicated", str(totals["dup"])),
        ("acknowledgements", str(totals["acks"])),
        ("  complaints without one", f"{totals['missing_acks']} {dict(totals['unacked_by_channel']) or ''}".strip()),
        ("  extra ones", str(totals["extra_acks"])),
        ("time to drain after the last send", seconds(drain)),
        *((f"recovery: {name}", seconds(value)) for name, value in recovery.items()),
        ("whole run", f"{took:.0f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    print(
        f"chaos: {totals['sent']} sent, {totals['stored']} stored, {totals['lost']} lost, "
        f"{totals['dup']} duplicated, {totals['acks']} acknowledgements",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="intake-chaos-"))
    base.chmod(0o755)  # PostgreSQL runs as its own user below it
    print(f"chaos: working in {base} (logs under {base}/logs)", flush=True)
    (base / "logs").mkdir()
    pg, redis = PgCluster(base / "pg", free_port()), RedisServer(base / "redis", free_port())
    port = free_port()
    get_url = (
        f"http://127.0.0.1:{port}/channels/sms/kannel?token={TOKEN}"
        "&from=%p&to=%P&text=%b&id=%I&ts=%T&smsc=%i&coding=%c&charset=%C"
    )
    pg.init()
    redis.start()
    telegram = Telegram()
    procs: Processes | None = None
    try:
        # Kannel's own retry of our get-url: every 2 s for a minute covers a gateway restart.
        kannel_cm = running_kannel(base / "kannel", get_url, http_request_retry=60, http_queue_delay=2)
        with kannel_cm as kannel, running_dovecot(base / "dovecot") as mailbox, SmtpSink() as sink:
            env = settings_env(
                base,
                pg,
                redis,
                port,
                KANNEL_SENDSMS_URL=kannel.sendsms_url,
                KANNEL_USERNAME=kannel.username,
                KANNEL_PASSWORD=kannel.password,
                KANNEL_FROM=SHORT_CODE,
                KANNEL_INBOUND_TOKEN=TOKEN,
                **mailbox_env(mailbox),
                SMTP_HOST=sink.host,
                SMTP_PORT=str(sink.port),
                SMTP_STARTTLS="false",
                MAIL_FROM="lapor@bogorkota.go.id",
                TELEGRAM_BOT_TOKEN=BOT_TOKEN,
                TELEGRAM_MODE="poll",
                TELEGRAM_API_BASE=telegram.fake.url,
            )
            engine = create_engine(pg.url, pool_pre_ping=True)
            upgrade(engine)
            procs = Processes(env, base / "logs")
            procs.start("gateway", "gateway")
            for name in ("worker-1", "worker-2"):
                procs.start(name, "worker", "--threads", "4")
            procs.start("poller-1", "poller")
            if wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), 60) is None:
                raise SystemExit("chaos: the gateway did not become ready; see the logs")
            procs.start("poller-2", "poller")
            load = Load(args.complaints, f"http://127.0.0.1:{port}", kannel, mailbox, sink, telegram)
            chaos = Chaos(procs, pg, redis, port, engine)
            faults = [(0.15, chaos.gateway), (0.3, chaos.worker), (0.45, chaos.redis_restart)]
            faults += [(0.6, chaos.postgres), (0.8, chaos.poller)]
            load.run(args.window, faults)
            last_send = time.monotonic()
            print(f"chaos: all sent; waiting up to {args.drain:.0f} s for the system to drain", flush=True)
            drain = wait_until(lambda: _drained(engine, load), args.drain, step=1.0)
            drain = None if drain is None else time.monotonic() - last_send
            time.sleep(3)  # an extra acknowledgement would show up now
            for thread in chaos.threads:
                thread.join(30)
            totals = count(engine, load)
            load.done.set()
            report(totals, drain, chaos.recovery, time.monotonic() - started)
            engine.dispose()
            return 1 if totals["failed"] else 0
    finally:
        if procs is not None:
            procs.stop_all()
        telegram.close()
        redis.stop()
        _safe(pg.stop)
        shutil.rmtree(pg.root / "data", ignore_errors=True)  # the logs stay; the database's files need not


def _drained(engine: Any, load: Load) -> bool:
    """Every sent complaint stored and acknowledged, and nothing waiting in the inbox."""
    totals = _safe(lambda: count(engine, load))
    return bool(totals) and totals["lost"] == 0 and totals["missing_acks"] == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=2000, help="how many complaints to send (default 2000)")
    parser.add_argument("--window", type=float, default=240.0, help="seconds to spread them over (default 240)")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the system to drain")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
