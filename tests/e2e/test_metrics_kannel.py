"""``/metrics`` after known work through a real Kannel: the counters equal what was done.

Runs on both ways to run the system: SQLite + in-process queue, and PostgreSQL + Redis.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from complaints.models import Complaint, PollerState, Reply
from normalizer.envelope import utcnow
from tests.conftest import base_settings
from tests.support.kannel import KannelHarness, running_kannel
from tests.support.system import SystemThread, free_port, running_system

PHONES = ["+6281234567801", "+6281234567802", "+6281234567803"]
SHORT_CODE = "1708"
TOKEN = "kannel-inbound-secret"
METRICS_TOKEN = "scrape-secret-9"
NIK = "3271014505900002"
TICKET = re.compile(r"BGR-[2-9A-HJ-NP-Z]{7}")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def sms_system(tmp_path: Path, backend: dict[str, Any]) -> Iterator[tuple[KannelHarness, SystemThread]]:
    """A real Kannel wired to a running gateway (web + workers) whose /metrics needs a token."""
    port = free_port()
    get_url = (
        f"http://127.0.0.1:{port}/channels/sms/kannel?token={TOKEN}"
        "&from=%p&to=%P&text=%b&id=%I&ts=%T&smsc=%i&coding=%c&charset=%C"
    )
    with running_kannel(tmp_path / "kannel", get_url) as kannel:
        settings = base_settings(
            tmp_path,
            port=port,
            public_base_url=f"http://127.0.0.1:{port}",
            kannel_sendsms_url=kannel.sendsms_url,
            kannel_username=kannel.username,
            kannel_password=kannel.password,
            kannel_from=SHORT_CODE,
            kannel_inbound_token=TOKEN,
            metrics_token=METRICS_TOKEN,
            **backend,
        )
        with running_system(settings) as system:
            yield kannel, system


def scrape(system: SystemThread, token: str = METRICS_TOKEN) -> Samples:
    """GET /metrics with the token and parse it with prometheus_client's own parser."""
    request = urllib.request.Request(f"{system.url}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_counters_match_the_work_done(sms_system: tuple[KannelHarness, SystemThread]) -> None:
    """3 SMS, 1 refused for a bad token, 3 acknowledgements sent and delivered: /metrics counts exactly that."""
    kannel, system = sms_system
    # Given three citizens each sending a complaint by SMS, one after the other
    for phone in PHONES:
        kannel.inject(phone, SHORT_CODE, f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran 5#Jalan berlubang di depan pasar")
        assert TICKET.search(kannel.wait_for_mt(phone, timeout=20).text)
    # and someone calling the webhook without our token
    forged = f"{system.url}/channels/sms/kannel?token=wrong&from=%2B6281111111111&to=1708&text=LAPOR&id=x1"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=10)
    assert refused.value.code == 401
    # When every acknowledgement has been reported delivered by Kannel
    system.wait_for(lambda s: s.scalar(select(func.count()).where(Reply.status == "delivered")) == 3)
    samples = scrape(system)
    # Then the intake counters say 3 accepted and 1 refused on the SMS channel, nothing else
    assert value(samples, "intake_inbound_messages_total", channel="sms", outcome="accepted") == 3
    assert value(samples, "intake_inbound_messages_total", channel="sms", outcome="refused") == 1
    assert value(samples, "intake_inbound_messages_total", channel="sms", outcome="duplicate") == 0
    assert value(samples, "intake_accept_latency_seconds_count", channel="sms") == 3
    # And each stage processed each complaint once, with no failure
    for actor in ("verify_intake", "route_to_opd", "send_reply"):
        assert value(samples, "intake_actor_messages_total", actor=actor, outcome="processed") == 3, actor
        assert value(samples, "intake_actor_messages_total", actor=actor, outcome="failed") == 0, actor
    # And three replies went out through Kannel and were reported delivered
    assert value(samples, "intake_outbound_replies_total", provider="kannel", result="sent") == 3
    assert value(samples, "intake_outbound_replies_total", provider="kannel", result="delivered") == 3
    assert value(samples, "intake_outbound_replies_total", provider="kannel", result="failed") == 0
    # And the gauges read the queue (empty now), with every source readable
    assert value(samples, "intake_queue_messages", queue="intake", state="ready") == 0
    assert value(samples, "intake_queue_dead_letters", queue="intake") == 0
    for source in ("queues", "overdue", "pollers"):
        assert value(samples, "intake_metrics_source_up", source=source) == 1, source


def test_metrics_gauges_show_overdue_steps_and_pollers(sms_system: tuple[KannelHarness, SystemThread]) -> None:
    """A case past its step's deadline shows under its step and OPD; a poller's state shows by name."""
    kannel, system = sms_system
    kannel.inject(PHONES[0], SHORT_CODE, f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran 5#Jalan berlubang di depan pasar")
    kannel.wait_for_mt(PHONES[0], timeout=20)
    assert system.system is not None
    runtime = system.system.runtime
    # Given the routed case's deadline has passed, and an IMAP poller in error
    with runtime.sf.begin() as session:
        session.execute(update(Complaint).values(step_deadline_at=utcnow() - timedelta(hours=1)))
        session.add(
            PollerState(
                id="imap:aduan@example.org/INBOX",
                provider="imap",
                status="error",
                last_error="authentication failed",
                last_error_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    samples = scrape(system)
    # Then the overdue gauge counts it under step 4 (disposisi) at PUPR
    assert value(samples, "intake_overdue_steps", step="4", opd="pupr") == 1
    # And the poller is shown disconnected, with when its error happened
    poller = {"poller": "imap:aduan@example.org/INBOX", "provider": "imap"}
    assert value(samples, "intake_poller_connected", **poller) == 0
    assert value(samples, "intake_poller_last_error_timestamp_seconds", **poller) > 0
    assert value(samples, "intake_poller_last_poll_timestamp_seconds", **poller) == 0
