"""Two ``intake poller`` processes on one real Dovecot mailbox: kill -9 the active one, the standby
takes over within POLLER_LEASE_SECONDS and no mail is read twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from channels.email.imap_poller import parse_position
from complaints.db import upgrade
from complaints.models import ChannelCursor, Complaint, InboxMessage
from tests.support.dovecot import DovecotHarness
from tests.support.processes import distributed_env, mailbox_env, stop_processes

LEASE_SECONDS = 4.0
ROOT = Path(__file__).resolve().parents[2]


def citizen_mail(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Warga {n} <warga{n}@example.org>"
    message["To"] = "lapor@bogorkota.go.id"
    message["Subject"] = f"Jalan rusak nomor {n}"
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content(f"NIK: 3271014505900002\nNama: Warga {n}\nAlamat: Jl. Pajajaran {n}\nJalan berlubang.\n")
    return message.as_bytes()


def events(log: Path, name: str) -> list[dict[str, Any]]:
    """The JSON log lines of one process whose event is ``name``."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == name:
                found.append(record)
    return found


def wait(condition: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def inbox_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(InboxMessage)) or 0)


def test_standby_poller_takes_over_a_killed_one_without_reading_mail_twice(
    tmp_path: Path, pg_url: str, redis_namespace: tuple[str, str], mailbox: DovecotHarness
) -> None:
    env = distributed_env(
        tmp_path,
        pg_url,
        redis_namespace,
        LOG_FORMAT="json",
        **mailbox_env(mailbox),
        POLLER_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "second", "worker")}
    engine = create_engine(pg_url)
    upgrade(engine)  # before two processes race to create the schema
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(name: str, role: str) -> None:
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", role],
            env=env,
            stdout=logs[name].open("ab"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    try:
        for n in range(3):
            mailbox.deliver(citizen_mail(n))
        # Given one poller that read the mailbox, and a second one started after it
        spawn("first", "poller")
        spawn("worker", "worker")
        wait(lambda: inbox_count(engine) == 3, 60, "the first three mails")
        spawn("second", "poller")
        wait(lambda: events(logs["second"], "poller_standby"), 60, "the second poller to stand by")
        fourth = mailbox.deliver(citizen_mail(3))
        # Done with it: flagged and its position stored (a kill between accept and flag re-reads it, by design).
        wait(lambda: _position(engine) == fourth, 30, "the fourth mail")
        # Only the lease holder touched the mailbox.
        assert not events(logs["second"], "imap_imported")
        # When the active poller is killed without a chance to release its lease
        procs["first"].send_signal(signal.SIGKILL)
        procs["first"].wait(10)
        killed = time.monotonic()
        for n in range(4, 7):
            mailbox.deliver(citizen_mail(n))
        # Then the standby takes the mailbox over within the lease time and reads only the new mail
        wait(lambda: events(logs["second"], "poller_lease_taken"), LEASE_SECONDS * 3, "the takeover")
        took = time.monotonic() - killed
        assert took <= LEASE_SECONDS + 1.0, f"takeover took {took:.1f} s"
        wait(lambda: inbox_count(engine) == 7, 30, "the mails delivered after the kill")
        accepted = events(logs["first"], "accepted") + events(logs["second"], "accepted")
        assert len(accepted) == 7 and not [a for a in accepted if a.get("duplicate")], accepted
        assert sorted(a["provider"] for a in events(logs["second"], "accepted")) == ["imap"] * 3
        # Each mail is one complaint, and every one is flagged read on the server.
        wait(lambda: _complaints(engine) == 7, 60, "seven complaints")
        assert all(b"\\Seen" in mailbox.flags(uid) for uid in mailbox.list_uids())
    finally:
        stop_processes(procs.values())
        engine.dispose()


def _complaints(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Complaint)) or 0)


def _position(engine: Engine) -> int | None:
    """The last UID the pollers stored for the mailbox."""
    with engine.connect() as conn:
        values = list(conn.scalars(select(ChannelCursor.value).where(ChannelCursor.id.startswith("imap:"))))
    position = parse_position(values[0]) if values else None
    return position[1] if position else None
