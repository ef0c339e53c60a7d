"""What a citizen writes cannot add parameters to our SMS sends or headers and recipients to our mail.

Each SMS adapter sends a reply whose address and text carry the separators of its provider's
wire format (``&``, ``=``, ``%``, CRLF, a JSON quote) to a loopback server that records the
request as the provider would read it: every parameter arrives once, with the value we meant.
The e-mail reply to a mail whose encoded Subject and display names hide CRLF + ``Bcc:`` is sent
through a real SMTP server (aiosmtpd): one recipient, no injected header, and a body with an
SMTP end-of-data line does not smuggle in a second message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import pytest_asyncio
from aiohttp import web
from multidict import MultiDict

from channels.base import OutboundReply
from channels.email.ingest import ingest_mail
from channels.email.sender import EmailSender
from channels.registry import build_adapters
from complaints.replies import reply_renderer
from config.settings import Settings
from tests.conftest import base_settings
from tests.support.city import shipped_city
from tests.support.local_http import serve_on_loopback
from tests.support.smtp_sink import SmtpSink

FIXTURES = Path(__file__).parent / "email" / "fixtures"
# An address a provider would hand us as the sender (Kannel passes the SMSC's string through).
ADDRESS = "+6281234567890&to=+6289999999999"
TEXT = (
    'Balasan: jalan rusak"}, "phoneNumbers": ["+6289999999999"], "x": {"a": "'
    "&username=admin&password=guess&to=+6289999999999&text=spam%26more=1"
    "\r\nX-Injected: yes\r\n\r\nGET /cgi-bin/sendsms?to=+6289999999999 HTTP/1.1"
)


class Recorder:
    """A loopback server answering as each SMS provider does, keeping what it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, MultiDict[str], dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        query: MultiDict[str] = MultiDict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
        self.requests.append((request.path, query, dict(request.headers), body))
        if request.path.endswith("/sendsms"):
            return web.Response(status=202, text="0: Accepted for delivery")
        if request.path.endswith("/Messages.json"):
            return web.json_response({"sid": "SM" + "0" * 32}, status=201)
        return web.json_response({"id": "gw-1", "state": "Pending"}, status=202)


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    """The recorder on a free loopback port, and its base URL."""
    rec = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner, url = await serve_on_loopback(app)
    try:
        yield rec, url
    finally:
        await runner.cleanup()


def sms_settings(tmp_path: Path, base: str) -> Settings:
    """Kannel, Twilio and the Android gateway, all sending to the recorder."""
    return base_settings(
        tmp_path,
        kannel_sendsms_url=f"{base}/cgi-bin/sendsms",
        kannel_username="gw",
        kannel_password="kannel-pass",
        kannel_inbound_token="tok",
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token="twilio-token",
        twilio_from="+15005550006",
        twilio_api_base=base,
        android_sms_gateway_url=f"{base}/3rdparty/v1",
        android_sms_gateway_username="u",
        android_sms_gateway_password="p",
        android_sms_gateway_signing_key="k",
    )


def sent_fields(provider: str, query: MultiDict[str], body: bytes) -> tuple[MultiDict[str], str, str]:
    """(every parameter as the provider reads it, the recipient, the text) of one recorded send."""
    if provider == "kannel":
        return query, query["to"], query["text"]
    if provider == "twilio":
        form: MultiDict[str] = MultiDict(parse_qsl(body.decode(), keep_blank_values=True))
        return form, form["To"], form["Body"]
    payload: dict[str, Any] = json.loads(body)
    flat: MultiDict[str] = MultiDict((key, json.dumps(value)) for key, value in payload.items())
    assert len(payload["phoneNumbers"]) == 1
    return flat, payload["phoneNumbers"][0], payload["textMessage"]["text"]


@pytest.mark.parametrize("provider", ["kannel", "twilio", "android_sms"])
async def test_sms_send_carries_the_text_and_address_as_single_values(
    provider: str, recorder: tuple[Recorder, str], tmp_path: Path
) -> None:
    """Separators of the wire format in the address and text stay inside their own parameter."""
    rec, base = recorder
    adapters = build_adapters(sms_settings(tmp_path, base), texts=reply_renderer(shipped_city().replies))
    adapter = adapters.outbound[provider]
    reply = OutboundReply(
        id="reply-1", channel="sms", provider=provider, address=ADDRESS, text=TEXT, ticket="BGR-2345678"
    )
    try:
        await adapter.send(reply)
    finally:
        await adapter.close()
    assert len(rec.requests) == 1, "one reply is one request"
    _path, query, headers, body = rec.requests[0]
    fields, recipient, text = sent_fields(provider, query, body)
    assert recipient == ADDRESS
    assert text == TEXT
    assert all(len(fields.getall(key)) == 1 for key in fields), fields
    if provider == "kannel":
        assert fields["username"] == "gw" and fields["password"] == "kannel-pass"
    assert "X-Injected" not in headers


async def test_mail_reply_has_one_recipient_and_no_injected_header(tmp_path: Path) -> None:
    """A reply under an encoded Subject/From/Reply-To hiding CRLF + Bcc, with an SMTP end-of-data line in its text."""
    with SmtpSink() as sink:
        settings = base_settings(tmp_path, **sink.sender_settings())
        ingested = ingest_mail(
            settings,
            (FIXTURES / "crlf_injection_name.eml").read_bytes(),
            provider="smtp",
            mailbox="lapor@bogorkota.go.id",
        )
        assert ingested.envelope is not None
        route = ingested.envelope.reply_route
        smuggled = "Terima kasih.\r\n.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nHi\r\n."
        reply = OutboundReply(
            id="reply-2",
            channel="email",
            provider="email",
            address=route.address,
            text=smuggled,
            thread_ref=route.thread_ref,
            ticket="BGR-2345678",
            kind="ack",
        )
        await EmailSender(settings).send(reply)
        mail = sink.wait_for(lambda m: True, timeout=10)
        assert len(sink.messages) == 1
        assert mail.rcpt_tos == ["siti.balas@example.com"]
        message = mail.message
        assert "Bcc" not in message and "X-Injected" not in message
        assert "\n" not in str(message["Subject"]) and "victim@example.com" in str(message["Subject"])
        assert message.get_content().replace("\r\n", "\n").rstrip("\n") == smuggled.replace("\r\n", "\n")
