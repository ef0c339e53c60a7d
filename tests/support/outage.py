"""A running system with its real outside parts, an outage of three of them, and the recovery (issue 9).

:func:`outage_rig` starts, on loopback: a real Dovecot (the city's mailbox), a real Kannel
(bearerbox + smsbox + fake SMSC) and the whole gateway in this process (web, workers, IMAP
poller, sweeper, monitor), embedded or on PostgreSQL + Redis, with an operator logged in to the
console. :class:`OutageRig` then breaks things the way they break in production and puts them
right again, while :meth:`OperatorBrowser.health_problems` reads what ``/ops/health`` says.
``scripts/outage_demo.py`` (``make outage-demo``) narrates it; ``tests/e2e/test_outage.py``
asserts it.

The health thresholds that count minutes (``HEALTH_OUTBOUND_FAILING_MINUTES``,
``HEALTH_POLLER_ERROR_MINUTES``) are 0 here, so a problem shows as soon as it is true; retries
are short (one retry, 0.2-0.5 s apart), so a message no worker can run is dead in about a second.
"""

from __future__ import annotations

import contextlib
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from complaints.models import PollerState, Reply
from config.settings import Settings
from tests.conftest import base_settings
from tests.support.console_session import OperatorBrowser, add_operator
from tests.support.dovecot import DovecotHarness, running_dovecot
from tests.support.kannel import KannelHarness, running_kannel
from tests.support.system import SystemThread, free_port, running_system
from workers.queue_inspect import dead_letters, discard_dead
from workers.runtime import Runtime

SHORT_CODE = "1708"
TOKEN = "outage-kannel-token"
OPERATOR = ("ops@kotabogor.go.id", "kebun raya bogor 1817")
WRONG_PASSWORD = "not-the-mailbox-password-any-more"
POISON_ID = "poison-from-a-newer-release"
COMPLAINT = "LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#Jalan berlubang di depan pasar"
PHONES = ("+6281234567801", "+6281234567802", "+6281234567803")
AFTER_PHONE = "+6281234567809"
OUTAGE_CODES = frozenset({"outbound_failing", "poller_error", "dead_letters"})
"""The problems the outage raises: Kannel refusing, the IMAP poller's login refused, dead letters."""

Problems = list[tuple[str, str]]


def outage_settings(tmp: Path, port: int, kannel: KannelHarness, mailbox: DovecotHarness, **extra: Any) -> Settings:
    """The gateway's settings: Kannel and the mailbox wired in, thresholds at 0, retries short."""
    values: dict[str, Any] = {
        "port": port,
        "public_base_url": f"http://127.0.0.1:{port}",
        "kannel_sendsms_url": kannel.sendsms_url,
        "kannel_username": kannel.username,
        "kannel_password": kannel.password,
        "kannel_from": SHORT_CODE,
        "kannel_inbound_token": TOKEN,
        **mailbox.poller_settings(),
        "health_outbound_failing_minutes": 0,
        "health_poller_error_minutes": 0,
        "reply_max_retries": 1,
        "retry_min_backoff_ms": 200,
        "retry_max_backoff_ms": 500,
        "sweep_after_seconds": 600,  # the sweeper must not re-send what the outage holds back
    }
    values.update(extra)
    return base_settings(tmp, **values)


@dataclass
class OutageRig:
    """The running system, its Kannel and mailbox, and an operator's view of ``/ops/health``."""

    system: SystemThread
    kannel: KannelHarness
    mailbox: DovecotHarness
    operator: OperatorBrowser
    mailbox_password: str

    @property
    def runtime(self) -> Runtime:
        """The running system's runtime (database, broker, actors)."""
        assert self.system.system is not None
        return self.system.system.runtime

    # -- the outage ---------------------------------------------------------------------
    def stop_kannel(self) -> None:
        """Kannel goes down: smsbox and bearerbox stop, sendsms refuses connections."""
        self.kannel.stop_boxes()

    def break_imap_password(self) -> None:
        """Someone changes the mailbox password on the mail server; the poller's session is dropped."""
        self.mailbox.set_password(WRONG_PASSWORD)
        self.mailbox.kick()

    def send_poison(self) -> None:
        """A queue message no worker can run (a keyword this release's actor does not take): it
        fails on every attempt and ends in the dead-letter queue."""
        verify = self.runtime.actors["verify_intake"]
        verify.send_with_options(args=([POISON_ID],), kwargs={"priority": "high"})

    def send_complaints(self, phones: tuple[str, ...] = PHONES) -> None:
        """SMS complaints reach the gateway's Kannel webhook as smsbox delivers them (GET get-url);
        their receipts must go out through Kannel's sendsms, which is down."""
        for n, phone in enumerate(phones):
            query = {"token": TOKEN, "from": phone, "to": SHORT_CODE, "text": COMPLAINT, "id": f"outage-{n}-{phone}"}
            url = f"{self.system.url}/channels/sms/kannel?{urllib.parse.urlencode(query)}"
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert answer.status in (200, 202), answer.status

    # -- the recovery -------------------------------------------------------------------
    def restore(self) -> int:
        """Kannel back, the right password back, the poison discarded (as an operator does on the
        dead-letter page, with a reason); returns how many dead letters were discarded."""
        self.kannel.start_boxes()
        self.mailbox.set_password(self.mailbox_password)
        letters, _ = dead_letters(self.runtime, limit=500)
        poison = [d.message_id for d in letters if POISON_ID in d.ids]
        reason = "no worker can run it (outage demo)"
        return len(discard_dead(self.runtime, poison, reason, actor="outage-demo").done)

    def failed_receipts(self) -> int:
        """Replies given up after their retries (the receipts Kannel refused during the outage)."""
        failed = select(func.count()).select_from(Reply).where(Reply.status == "failed")
        return int(self.system.db(lambda s: s.scalar(failed)) or 0)

    def sms_round_trip(self, phone: str = AFTER_PHONE, timeout: float = 30) -> str:
        """A citizen's SMS through the real Kannel after the recovery: the receipt's text as the phone gets it."""
        self.kannel.inject(phone, SHORT_CODE, COMPLAINT)
        return self.kannel.wait_for_mt(phone, timeout=timeout).text

    # -- watching -----------------------------------------------------------------------
    def wait_for_page(self, done: Callable[[Problems], bool], timeout: float = 60) -> Problems:
        """Reload ``/ops/health`` until ``done(problems)``; the last list read, or AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.operator.health_problems()
            if done(found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"/ops/health did not get there within {timeout:g} s; it shows {found}")
            time.sleep(0.5)

    def wait_until_polling(self, timeout: float = 30) -> None:
        """Until the IMAP poller has logged in (so a later failure reads "disconnected for")."""
        polling = select(PollerState).where(PollerState.provider == "imap", PollerState.status == "connected")
        self.system.wait_for(lambda s: s.scalar(polling), timeout=timeout)


def codes(found: Problems) -> set[str]:
    """The problem codes in a list read off the page."""
    return {code for code, _ in found}


@contextlib.contextmanager
def outage_rig(tmp: Path, **backend: Any) -> Iterator[OutageRig]:
    """Start Dovecot, Kannel and the system (``backend``: settings for PostgreSQL + Redis, or none)."""
    port = free_port()
    get_url = (
        f"http://127.0.0.1:{port}/channels/sms/kannel?token={TOKEN}"
        "&from=%p&to=%P&text=%b&id=%I&ts=%T&smsc=%i&coding=%c&charset=%C"
    )
    with running_dovecot(tmp / "dovecot") as mailbox, running_kannel(tmp / "kannel", get_url) as kannel:
        settings = outage_settings(tmp, port, kannel, mailbox, **backend)
        with running_system(settings) as system:
            assert system.system is not None
            add_operator(system.system.runtime, *OPERATOR)
            operator = OperatorBrowser(system.url).log_in(*OPERATOR)
            rig = OutageRig(system, kannel, mailbox, operator, mailbox.password)
            rig.wait_until_polling()
            yield rig
