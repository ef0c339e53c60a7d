"""``/metrics``: the scrape token, and each intake outcome counted once on its channel."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from channels.base import RawRequest
from channels.sms.kannel import KannelSms
from gateway.embedded import EmbeddedSystem, start_system
from tests.conftest import base_settings
from tests.support.system import free_port

TOKEN = "kannel-secret-token"
METRICS_TOKEN = "scrape-secret-9"
LAPOR = "LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#Lampu PJU mati di depan rumah"


async def _system(tmp_path: Path, **overrides: Any) -> EmbeddedSystem:
    port = free_port()
    settings = base_settings(
        tmp_path,
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        kannel_sendsms_url="http://127.0.0.1:9/cgi-bin/sendsms",
        kannel_username="u",
        kannel_password="p",
        kannel_inbound_token=TOKEN,
        max_body_bytes=4096,
        **overrides,
    )
    return await start_system(settings, with_workers=False, with_pollers=False)


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[EmbeddedSystem]:
    """A gateway whose /metrics needs METRICS_TOKEN."""
    system = await _system(tmp_path, metrics_token=METRICS_TOKEN)
    yield system
    await system.stop()


@pytest.fixture
async def open_metrics(tmp_path: Path) -> AsyncIterator[EmbeddedSystem]:
    """A gateway without METRICS_TOKEN (no workers: only the intake side counts)."""
    system = await _system(tmp_path)
    yield system
    await system.stop()


async def _raw_get(url: str, header_line: bytes) -> bytes:
    """GET /metrics with a header line sent byte for byte (clients refuse to send non-ASCII ones)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + header_line + b"\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Basic c2NyYXBlOnNlY3JldA==", "Bearer ", f"Bearer {METRICS_TOKEN}x"],
)
async def test_metrics_without_the_token_is_401_with_a_reason(guarded: EmbeddedSystem, header: str | None) -> None:
    """With METRICS_TOKEN set, a scrape without that bearer token is refused with 401 and says why."""
    headers = {"Authorization": header} if header is not None else {}
    async with aiohttp.ClientSession() as http, http.get(f"{guarded.urls[0]}/metrics", headers=headers) as answer:
        text = await answer.text()
        assert answer.status == 401
        assert "METRICS_TOKEN" in text and "intake_" not in text
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


async def test_metrics_header_with_non_ascii_bytes_is_401_not_500(guarded: EmbeddedSystem) -> None:
    """Undecodable bytes in the Authorization header are a refused scrape, not a server error."""
    for line in (b"Authorization: Bearer \xff\xfe\x80token", "Authorization: Bearer tökén".encode()):
        answer = await _raw_get(guarded.urls[0], line)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


async def test_metrics_with_the_token_parses(guarded: EmbeddedSystem) -> None:
    """With the right token /metrics is Prometheus text that prometheus_client's parser reads."""
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with aiohttp.ClientSession() as http, http.get(f"{guarded.urls[0]}/metrics", headers=headers) as answer:
        assert answer.status == 200
        text = await answer.text()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"intake_inbound_messages", "intake_queue_messages", "intake_metrics_source_up"} <= names
    # Known series start at zero, so rate() and alerts work before the first message
    assert 'intake_inbound_messages_total{channel="sms",outcome="refused"} 0.0' in text
    assert 'intake_actor_messages_total{actor="verify_intake",outcome="dead"} 0.0' in text
    assert 'intake_outbound_replies_total{provider="kannel",result="failed"} 0.0' in text


async def _scrape(system: EmbeddedSystem, http: aiohttp.ClientSession) -> dict[tuple[str, str], float]:
    async with http.get(f"{system.urls[0]}/metrics") as answer:
        assert answer.status == 200
        text = await answer.text()
    return {
        (sample.labels["channel"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "intake_inbound_messages"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.value
    }


async def test_each_intake_outcome_is_counted_once_on_its_channel(
    open_metrics: EmbeddedSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accepted, duplicate, refused, malformed, too large and unreadable requests each count once, by channel."""
    url = open_metrics.urls[0]
    kannel = f"{url}/channels/sms/kannel"
    sms = {"token": TOKEN, "from": "+6281234567890", "text": LAPOR, "id": "kannel-msg-1"}
    # An unsafe jar keeps cookies of 127.0.0.1 (the web form's CSRF cookie).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # Given one SMS and Kannel's retry of it
        for _ in range(2):
            async with http.get(kannel, params=sms) as answer:
                assert answer.status == 200
        # And a forged one, one without a sender, one too large
        async with http.get(kannel, params={**sms, "token": "wrong"}) as answer:
            assert answer.status == 401
        async with http.get(kannel, params={"token": TOKEN, "text": LAPOR}) as answer:
            assert answer.status == 400
        async with http.post(kannel, params={"token": TOKEN}, data=b"x" * 5000) as answer:
            assert answer.status == 413
        # And a web form with nothing filled in, and an app without its device token
        async with http.get(f"{url}/lapor") as form:  # the form's CSRF token (cookie + field)
            token = re.search(r'name="csrf_token" value="([^"]+)"', await form.text())
        assert token is not None
        async with http.post(f"{url}/lapor", data={"isi": "", "csrf_token": token.group(1)}) as answer:
            assert answer.status == 422
        async with http.post(f"{url}/api/v1/complaints", json={}) as answer:
            assert answer.status == 401

        # And one the adapter cannot read (a bug): kept, answered 500
        def broken_parse(self: KannelSms, request: RawRequest) -> object:
            raise RuntimeError("bug")

        monkeypatch.setattr(KannelSms, "parse", broken_parse)
        async with http.get(kannel, params={**sms, "id": "kannel-msg-2"}) as answer:
            assert answer.status == 500
        # When Prometheus scrapes
        counts = await _scrape(open_metrics, http)
    # Then each outcome was counted exactly once on its channel
    assert counts == {
        ("sms", "accepted"): 1,
        ("sms", "duplicate"): 1,
        ("sms", "refused"): 1,
        ("sms", "malformed"): 1,
        ("sms", "too_large"): 1,
        ("sms", "unreadable"): 1,
        ("web", "malformed"): 1,
        ("app", "refused"): 1,
    }


def test_overdue_query_reads_only_the_deadline_index(tmp_path: Path) -> None:
    """The overdue gauge's query is answered from its covering index, not a scan of every complaint."""
    from sqlalchemy import text

    from complaints.db import make_engine, upgrade
    from gateway.metrics import overdue_steps_query
    from normalizer.envelope import utcnow

    engine = make_engine(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    upgrade(engine)
    query = overdue_steps_query(utcnow()).compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {query}")))
    engine.dispose()
    assert "COVERING INDEX ix_complaints_deadline_step_opd" in plan, plan


async def test_an_unreachable_queue_is_reported_and_the_rest_still_answered(tmp_path: Path) -> None:
    """With Redis down, /metrics still answers 200: queues marked unreadable, the database's gauges still there."""
    system = await _system(tmp_path, redis_url="redis://127.0.0.1:9/0")  # nothing listens on port 9
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{system.urls[0]}/metrics") as answer:
            assert answer.status == 200
            text = await answer.text()
    finally:
        await system.stop()
    up = {
        sample.labels["source"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "intake_metrics_source_up"
        for sample in family.samples
    }
    assert up == {"queues": 0, "overdue": 1, "pollers": 1}
    assert "intake_queue_messages{" not in text
