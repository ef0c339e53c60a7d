"""Every SMS provider's webhook through the running gateway: bad input, retries, replies, delivery reports."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from complaints.models import Complaint, InboxMessage, Reply
from gateway.embedded import start_system
from tests.conftest import base_settings
from tests.support.fake_android_gateway import FakeAndroidGateway
from tests.support.fake_twilio import FakeTwilio
from tests.support.system import free_port, wait_db

FIXTURES = Path(__file__).parent.parent / "channels"
NIK = "3271014505900002"
LAPOR = f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran 5#Lampu PJU mati di depan rumah sejak seminggu"
KANNEL_TOKEN = "kannel-secret-token"
TWILIO_SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
TWILIO_TOKEN = "twilio-auth-token-123"
ANDROID_KEY = "android-signing-key"


@pytest.fixture
async def gateway(tmp_path: Path, backend: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The whole system (SQLite + in-process queue, or PostgreSQL + Redis) with the three SMS providers on fakes."""
    port = free_port()
    async with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as twilio, FakeAndroidGateway("user", "pass") as android:
        settings = base_settings(
            tmp_path,
            port=port,
            public_base_url=f"http://127.0.0.1:{port}",
            kannel_sendsms_url="http://127.0.0.1:9/cgi-bin/sendsms",  # nothing listens: sends fail, retried
            kannel_username="u",
            kannel_password="p",
            kannel_inbound_token=KANNEL_TOKEN,
            twilio_account_sid=TWILIO_SID,
            twilio_auth_token=TWILIO_TOKEN,
            twilio_from="+15005550006",
            twilio_api_base=twilio.url,
            android_sms_gateway_url=android.url,
            android_sms_gateway_username="user",
            android_sms_gateway_password="pass",
            android_sms_gateway_signing_key=ANDROID_KEY,
            max_body_bytes=4096,
            **backend,
        )
        system = await start_system(settings)
        async with aiohttp.ClientSession() as http:
            yield {"system": system, "url": system.urls[0], "http": http, "twilio": twilio, "android": android}
        await system.stop()


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(InboxMessage)) or 0)


def twilio_request(url: str, fields: dict[str, str]) -> tuple[dict[str, str], str]:
    """Headers and body of a Twilio webhook, signed with the twilio package's own code."""
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, fields)
    body = urlencode(fields)
    return {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}, body


def android_request(
    event: dict[str, Any], *, key: str = ANDROID_KEY, ts: int | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a signed SMS Gateway for Android webhook."""
    body = json.dumps(event).encode()
    stamp = str(ts if ts is not None else int(time.time()))
    signature = hmac.new(key.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    return {"X-Signature": signature, "X-Timestamp": stamp, "Content-Type": "application/json"}, body


async def test_kannel_retry_creates_one_complaint(gateway: dict[str, Any]) -> None:
    """Kannel retrying the same message (same id) gets the same 200 and creates nothing new."""
    query = {
        "token": KANNEL_TOKEN,
        "from": "+6281234567890",
        "to": "1708",
        "text": LAPOR,
        "id": "0b5c-retry",
        "coding": "0",
    }
    for _ in range(3):
        async with gateway["http"].get(gateway["url"] + "/channels/sms/kannel", params=query) as resp:
            assert resp.status == 200 and await resp.read() == b""
    system = gateway["system"]
    await wait_db(system, lambda s: s.scalar(select(func.count()).select_from(Complaint)) == 1)
    assert await wait_db(system, _count) == 1


async def test_kannel_invalid_utf8_is_accepted_with_what_could_be_read(gateway: dict[str, Any]) -> None:
    """Broken UTF-8 bytes in an SMS do not lose the message: the readable text is kept."""
    raw = (
        "token={}&from=%2B6281234567890&text=LAPOR%23{}%23Siti+Aminah%23Jl+Pajajaran+5%23sampah+%FF%FE+menumpuk"
        "&id=bad-utf8&coding=0&charset=UTF-8"
    )
    async with gateway["http"].get(gateway["url"] + "/channels/sms/kannel?" + raw.format(KANNEL_TOKEN, NIK)) as resp:
        assert resp.status == 200
    case = await wait_db(gateway["system"], lambda s: s.scalar(select(Complaint)))
    assert case.text.startswith("sampah") and case.text.endswith("menumpuk")


async def test_twilio_sms_gets_reply_through_messages_api_and_status_callback(gateway: dict[str, Any]) -> None:
    """A signed Twilio webhook gets empty TwiML; the reply goes out by the Messages API; a callback marks delivery."""
    url = gateway["url"] + "/channels/sms/twilio"
    fields = {
        "MessageSid": "SM1234567890abcdef1234567890abcdef",
        "AccountSid": TWILIO_SID,
        "From": "+6281234567890",
        "To": "+15005550006",
        "Body": LAPOR,
        "NumMedia": "0",
    }
    headers, body = twilio_request(url, fields)
    for _ in range(2):  # Twilio retries on time-outs: the second delivery changes nothing
        async with gateway["http"].post(url, headers=headers, data=body) as resp:
            assert resp.status == 200
            assert "<Response></Response>" in await resp.text()
    twilio: FakeTwilio = gateway["twilio"]
    await wait_db(gateway["system"], lambda s: len(twilio.requests) >= 1)
    sent = twilio.requests[0].form
    assert sent["To"] == "+6281234567890" and "BGR-" in sent["Body"]
    assert sent["StatusCallback"].startswith(gateway["url"] + "/channels/sms/twilio?reply=")
    reply = await wait_db(gateway["system"], lambda s: s.scalar(select(Reply).where(Reply.status == "sent")))
    assert reply.provider_message_id and reply.provider_message_id.startswith("SM")
    # Twilio's status callback, signed over the callback URL
    callback = {
        "MessageSid": reply.provider_message_id,
        "MessageStatus": "delivered",
        "AccountSid": TWILIO_SID,
        "From": "+15005550006",
        "To": "+6281234567890",
    }
    headers, body = twilio_request(sent["StatusCallback"], callback)
    async with gateway["http"].post(sent["StatusCallback"], headers=headers, data=body) as resp:
        assert resp.status == 200
    await wait_db(gateway["system"], lambda s: s.get(Reply, reply.id).status == "delivered")
    assert len(twilio.requests) == 1
    assert await wait_db(gateway["system"], lambda s: s.scalar(select(func.count()).select_from(Complaint))) == 1


async def test_android_gateway_sms_gets_reply_and_delivery_report(gateway: dict[str, Any]) -> None:
    """A signed Android webhook becomes a complaint; the reply goes to its /messages API; delivery is recorded."""
    event = json.loads((FIXTURES / "android_sms" / "fixtures" / "sms_received.json").read_text())
    event["payload"]["message"] = LAPOR
    event["payload"]["phoneNumber"] = "+6281234567890"
    headers, body = android_request(event)
    for _ in range(2):  # the app retries failed webhooks with the same event id
        async with gateway["http"].post(gateway["url"] + "/channels/sms/android", headers=headers, data=body) as resp:
            assert resp.status == 200
    android: FakeAndroidGateway = gateway["android"]
    await wait_db(gateway["system"], lambda s: len(android.requests) >= 1)
    sent = android.requests[0].json
    assert sent["phoneNumbers"] == ["+6281234567890"]
    assert "BGR-" in sent["textMessage"]["text"]
    reply = await wait_db(gateway["system"], lambda s: s.scalar(select(Reply).where(Reply.status == "sent")))
    delivered = {
        "deviceId": event["deviceId"],
        "event": "sms:delivered",
        "id": "evt-delivered-1",
        "webhookId": "w",
        "payload": {
            "messageId": sent["id"],
            "phoneNumber": "+6281234567890",
            "deliveredAt": "2026-11-29T10:00:00.000+07:00",
        },
    }
    headers, body = android_request(delivered)
    async with gateway["http"].post(gateway["url"] + "/channels/sms/android", headers=headers, data=body) as resp:
        assert resp.status == 200
    await wait_db(gateway["system"], lambda s: s.get(Reply, reply.id).status == "delivered")


async def test_kannel_post_url_with_x_kannel_headers(gateway: dict[str, Any]) -> None:
    """Kannel's post-url form (text as the body, facts in X-Kannel-* headers) is accepted like get-url."""
    headers = {
        "X-Kannel-From": "+6281234567890",
        "X-Kannel-To": "1708",
        "X-Kannel-Time": "1764400000",
        "Content-Type": "text/plain; charset=UTF-8",
    }
    url = gateway["url"] + f"/channels/sms/kannel?token={KANNEL_TOKEN}&id=post-1"
    async with gateway["http"].post(url, headers=headers, data=LAPOR.encode()) as resp:
        assert resp.status == 200 and await resp.read() == b""
    case = await wait_db(
        gateway["system"], lambda s: s.scalar(select(Complaint).where(Complaint.status == "disposisi"))
    )
    assert case.phone == "+6281234567890" and case.opd_code == "disperumkim"


async def test_public_status_api_has_no_personal_data(gateway: dict[str, Any]) -> None:
    """GET /api/v1/complaints/<ticket> shows status, step, OPD, deadline and history, and no identity."""
    query = {"token": KANNEL_TOKEN, "from": "+6281234567890", "text": LAPOR, "id": "api-1"}
    async with gateway["http"].get(gateway["url"] + "/channels/sms/kannel", params=query) as resp:
        assert resp.status == 200
    case = await wait_db(
        gateway["system"], lambda s: s.scalar(select(Complaint).where(Complaint.status == "disposisi"))
    )
    async with gateway["http"].get(gateway["url"] + f"/api/v1/complaints/{case.ticket.lower()}") as resp:
        body = await resp.text()
        data = json.loads(body)
    assert resp.status == 200
    assert data["ticket"] == case.ticket and data["status"] == "disposisi" and data["step"] == 4
    assert data["opd"]["code"] == "disperumkim" and data["step_deadline_at"]
    assert [h["status"] for h in data["history"]] == ["diterima", "diverifikasi", "disposisi"]
    for secret in (NIK, "Siti", "Pajajaran", "6281234567890", "Lampu"):
        assert secret not in body
    async with gateway["http"].get(gateway["url"] + "/api/v1/complaints/BGR-2222222") as resp:
        assert resp.status == 404
    async with gateway["http"].get(gateway["url"] + "/api/v1/complaints/not-a-ticket") as resp:
        assert resp.status == 400


async def test_one_poisonous_message_does_not_fail_its_batch(gateway: dict[str, Any]) -> None:
    """Messages committed together with an unstorable one are accepted (200); only that one is refused (400)."""
    http, url = gateway["http"], gateway["url"] + "/channels/sms/kannel"

    async def send(msg_id: str) -> int:
        query = {"token": KANNEL_TOKEN, "from": "+6281234567890", "text": LAPOR, "id": msg_id}
        async with http.get(url, params=query) as resp:
            return resp.status

    ids = [f"good-{i}" for i in range(5)] + ["nul\x00id", "x" * 400]
    statuses = await asyncio.gather(*(send(i) for i in ids))
    assert statuses[:5] == [200] * 5
    assert all(s in (200, 400) for s in statuses[5:])
    await wait_db(gateway["system"], lambda s: s.scalar(select(func.count()).select_from(Complaint)) >= 5)


async def test_odd_kannel_timestamp_is_not_a_server_error(gateway: dict[str, Any]) -> None:
    """A timestamp beyond year 9999 is ignored (the message is accepted), never a 500 that Kannel would retry."""
    query = {"token": KANNEL_TOKEN, "from": "+6281234567890", "text": LAPOR, "id": "ts-1", "ts": "99999999999999999"}
    async with gateway["http"].get(gateway["url"] + "/channels/sms/kannel", params=query) as resp:
        assert resp.status == 200
