"""RawRequest.url is the exact URL the provider called: what URL-signing providers (Twilio) sign."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from yarl import URL

from complaints.models import InboxMessage
from gateway.app import create_app
from gateway.http import raw_request
from tests.conftest import base_settings
from workers.runtime import Runtime
from workers.setup import build_runtime

PUBLIC = "https://lapor.kotabogor.example"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "raw-url-twilio-token"
KANNEL_TOKEN = "raw-url-kannel-token"
# Percent-escapes that decoding would change: %2B is "+" (a literal plus, not a space), %20 a
# space, %C3%A9 "é" (non-ASCII), %26 an "&" inside a value.
ENCODED_QUERY = "reply=rep%2B1%20x&note=caf%C3%A9%26more"


def test_url_keeps_the_query_exactly_as_sent() -> None:
    """The percent-encoding of the path and query reaches the adapter byte for byte."""
    request = make_mocked_request("POST", "/channels/sms/twilio?" + ENCODED_QUERY)
    raw = raw_request(request, b"", PUBLIC + "/")
    assert raw.url == f"{PUBLIC}/channels/sms/twilio?{ENCODED_QUERY}"
    assert raw.query_string == ENCODED_QUERY
    assert raw.query == {"reply": "rep+1 x", "note": "café&more"}


def test_url_without_query_has_no_question_mark() -> None:
    """A request without a query gives the bare public URL."""
    raw = raw_request(make_mocked_request("GET", "/channels/x"), b"", PUBLIC)
    assert raw.url == f"{PUBLIC}/channels/x" and raw.query_string == ""


@pytest_asyncio.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Runtime]]:
    """The gateway with Twilio and Kannel on SQLite (no workers), its public URL unlike the local one."""
    settings = base_settings(
        tmp_path,
        public_base_url=PUBLIC,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from="+15005550006",
        kannel_sendsms_url="http://127.0.0.1:9/cgi-bin/sendsms",
        kannel_username="u",
        kannel_password="p",
        kannel_inbound_token=KANNEL_TOKEN,
    )
    runtime = build_runtime(settings)
    try:
        async with TestClient(TestServer(create_app(settings, runtime), access_log=None)) as client:
            yield client, runtime
    finally:
        runtime.close()


def _inbox(runtime: Runtime) -> list[InboxMessage]:
    with runtime.read_sf() as session:
        return list(session.scalars(select(InboxMessage)))


async def test_twilio_signature_over_a_percent_encoded_url_verifies(gateway: tuple[Any, Runtime]) -> None:
    """Twilio signs the URL as it called it; %2B, %20 and non-ASCII escapes in the query still verify."""
    client, runtime = gateway
    fields = {
        "MessageSid": "SM" + "1" * 32,
        "AccountSid": TWILIO_SID,
        "From": "+6281234567890",
        "To": "+15005550006",
        "Body": "Lampu jalan mati di Jl. Pajajaran",
        "SmsStatus": "received",
    }
    target = "/channels/sms/twilio?" + ENCODED_QUERY
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + target, fields)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    # The client must send the target as written: yarl would otherwise re-encode it.
    resp = await client.session.post(
        client.make_url("/").join(_encoded(target)), headers=headers, data=urlencode(fields)
    )
    assert resp.status == 200, await resp.text()
    [row] = _inbox(runtime)
    assert row.external_id == "twilio:SM" + "1" * 32


async def test_twilio_signature_over_the_decoded_url_is_refused(gateway: tuple[Any, Runtime]) -> None:
    """A signature computed over the decoded URL is not Twilio's: refused, nothing stored."""
    client, runtime = gateway
    fields = {"MessageSid": "SM" + "2" * 32, "AccountSid": TWILIO_SID, "From": "+6281234567890", "Body": "x"}
    target = "/channels/sms/twilio?" + ENCODED_QUERY
    decoded = PUBLIC + "/channels/sms/twilio?reply=rep+1 x&note=café&more"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(decoded, fields)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    resp = await client.session.post(
        client.make_url("/").join(_encoded(target)), headers=headers, data=urlencode(fields)
    )
    assert resp.status == 401
    assert _inbox(runtime) == []


async def test_kannel_percent_b_text_keeps_its_bytes(gateway: tuple[Any, Runtime]) -> None:
    """Kannel's %b text (latin-1 bytes, '+' as %2B) is read from the raw query, not the decoded one."""
    client, runtime = gateway
    target = (
        f"/channels/sms/kannel?token={KANNEL_TOKEN}&from=%2B6281234567890&id=raw-1&coding=0&charset=ISO-8859-1"
        "&text=Jalan+rusak+%2B+banjir+di+Caf%E9+Taman"
    )
    resp = await client.session.get(client.make_url("/").join(_encoded(target)))
    assert resp.status == 200, await resp.text()
    [row] = _inbox(runtime)
    assert row.envelope["text"] == "Jalan rusak + banjir di Café Taman"


def _encoded(target: str) -> URL:
    """A yarl URL that keeps ``target``'s percent-encoding as written."""
    return URL(target, encoded=True)
