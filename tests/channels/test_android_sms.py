"""SMS Gateway for Android adapter: signed webhooks, events, and sending via a fake gateway API."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.base import BadRequest, OutboundReply, RawRequest, SendError, Unauthorized
from channels.sms.android_gateway import IGNORED_EVENTS, AndroidSmsGateway
from config.settings import Settings
from tests.support.fake_android_gateway import FakeAndroidGateway

FIXTURES = Path(__file__).parent / "android_sms" / "fixtures"
KEY = "s3cr3t-signing-key"
NOW = 1_719_046_000.0  # a fixed clock for the adapter under test
PATH = AndroidSmsGateway.path
USER, PASSWORD = "gateway-user", "gateway-pass"


def make_settings(**overrides: object) -> Settings:
    """Settings with the Android gateway enabled and nothing read from a .env file."""
    values: dict[str, object] = {
        "android_sms_gateway_url": "http://127.0.0.1:9/3rdparty/v1",
        "android_sms_gateway_username": USER,
        "android_sms_gateway_password": PASSWORD,
        "android_sms_gateway_signing_key": KEY,
        "send_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def adapter(**overrides: object) -> AndroidSmsGateway:
    return AndroidSmsGateway(make_settings(**overrides), now=lambda: NOW)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signature(body: bytes, timestamp: str, key: str = KEY) -> str:
    """The app's signature, computed here with hmac (hex HMAC-SHA256 of body + timestamp)."""
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def request(body: bytes, headers: dict[str, str] | None = None) -> RawRequest:
    base = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "me.capcom.smsgateway/1.40.0"}
    return RawRequest(method="POST", path=PATH, query={}, headers=base | (headers or {}), body=body)


def signed(body: bytes, *, at: float = NOW, key: str = KEY) -> RawRequest:
    timestamp = str(int(at))
    return request(body, {"X-Signature": signature(body, timestamp, key), "X-Timestamp": timestamp})


RECEIVED = fixture("sms_received.json")


# -- verify -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "sms_received.json",
        "sms_received_sender_recipient.json",
        "sms_delivered.json",
        "sms_failed.json",
        "system_ping.json",
    ],
)
def test_good_signature_passes(name: str) -> None:
    """A body signed with the key and a current timestamp passes verify."""
    adapter().verify(signed(fixture(name)))


def test_uppercase_hex_signature_passes() -> None:
    """Hex case does not matter for the signature comparison."""
    timestamp = str(int(NOW))
    adapter().verify(
        request(RECEIVED, {"X-Signature": signature(RECEIVED, timestamp).upper(), "X-Timestamp": timestamp})
    )


STAMP = str(int(NOW))


@pytest.mark.parametrize(
    ("label", "headers", "reason"),
    [
        ("no headers", {}, "missing"),
        ("no timestamp", {"X-Signature": signature(RECEIVED, STAMP)}, "missing"),
        ("no signature", {"X-Timestamp": STAMP}, "missing"),
        ("other key", {"X-Signature": signature(RECEIVED, STAMP, "other-key"), "X-Timestamp": STAMP}, "does not match"),
        ("body only, no timestamp", {"X-Signature": signature(RECEIVED, ""), "X-Timestamp": STAMP}, "does not match"),
        (
            "timestamp changed",
            {"X-Signature": signature(RECEIVED, STAMP), "X-Timestamp": str(int(NOW) - 1)},
            "does not match",
        ),
        ("not hex", {"X-Signature": "zz" * 32, "X-Timestamp": STAMP}, "does not match"),
        ("non-ASCII", {"X-Signature": "é" * 64, "X-Timestamp": STAMP}, "does not match"),
    ],
)
def test_bad_signature_is_unauthorized(label: str, headers: dict[str, str], reason: str) -> None:
    """A missing or wrong X-Signature/X-Timestamp is refused with Unauthorized."""
    with pytest.raises(Unauthorized, match=reason):
        adapter().verify(request(RECEIVED, headers))


def test_body_changed_after_signing_is_unauthorized() -> None:
    """Changing a single byte of the body after signing fails verification."""
    good = signed(RECEIVED)
    tampered = RECEIVED.replace(b"sweet", b"sour!")
    with pytest.raises(Unauthorized):
        adapter().verify(request(tampered, dict(good.headers)))


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_stale_or_future_timestamp_is_unauthorized(offset: int) -> None:
    """A correctly signed request stamped more than 5 minutes from now is refused (replay)."""
    with pytest.raises(Unauthorized, match="timestamp outside the 5-minute window"):
        adapter().verify(signed(RECEIVED, at=NOW + offset))


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamp_inside_window_passes(offset: int) -> None:
    """Timestamps up to exactly 5 minutes away (either side, for clock skew) are accepted."""
    adapter().verify(signed(RECEIVED, at=NOW + offset))


def test_non_numeric_timestamp_is_unauthorized() -> None:
    """A signed but non-numeric X-Timestamp is refused."""
    with pytest.raises(Unauthorized, match="unix seconds"):
        adapter().verify(request(RECEIVED, {"X-Signature": signature(RECEIVED, "soon"), "X-Timestamp": "soon"}))


def test_without_signing_key_requests_are_not_checked() -> None:
    """With no signing key configured, verify accepts unsigned requests (documented opt-in)."""
    adapter(android_sms_gateway_signing_key=None).verify(request(RECEIVED))


# -- parse: sms:received ------------------------------------------------------------------------


def test_sms_received_becomes_intake() -> None:
    """sms:received yields an sms Intake keyed by the event id, sender from phoneNumber, time in UTC."""
    result = adapter().parse(signed(RECEIVED))
    assert result.delivery_updates == [] and result.ignored is None
    [intake] = result.intakes
    assert intake.channel == "sms" and intake.provider == "android_sms"
    assert intake.external_id == "android_sms:Ey6ECgOkVVFjz3CL48B8C"
    assert intake.sender == "6505551212"
    assert intake.text == "Android is always a sweet treat!"
    assert intake.received_at == datetime(2024, 6, 22, 8, 46, 11, tzinfo=UTC)
    assert (intake.reply_route.channel, intake.reply_route.address, intake.reply_route.provider) == (
        "sms",
        "6505551212",
        "android_sms",
    )
    assert intake.raw is not None
    assert intake.raw["device_id"] == "ffffffffceb0b1db0000018e937c815b"
    assert intake.raw["message_id"] == "abc123"
    assert intake.raw["sim_number"] == 1


def test_sender_field_is_preferred() -> None:
    """The newer payload's sender is the citizen; recipient (our SIM's number) goes to raw."""
    [intake] = adapter().parse(signed(fixture("sms_received_sender_recipient.json"))).intakes
    assert intake.sender == "6505551212"
    assert intake.raw is not None and intake.raw["recipient"] == "+1234567890"


def test_replayed_event_gives_same_external_id() -> None:
    """The app's retry of an event (same event id) yields the same external id, so it is stored once."""
    first = adapter().parse(signed(RECEIVED)).intakes[0]
    retried = adapter().parse(signed(RECEIVED, at=NOW + 40)).intakes[0]
    assert first.external_id == retried.external_id


def test_same_text_twice_is_two_intakes() -> None:
    """Two SMS with the same text share a content-based messageId but not the event id: both are kept."""
    event = json.loads(RECEIVED)
    event["id"] = "second-event-id"
    second = json.dumps(event).encode()
    first_id = adapter().parse(signed(RECEIVED)).intakes[0].external_id
    second_id = adapter().parse(signed(second)).intakes[0].external_id
    assert first_id != second_id


def _received_with(**payload_changes: object) -> bytes:
    event = json.loads(RECEIVED)
    event["payload"].update(payload_changes)
    for key, value in list(event["payload"].items()):
        if value is None:
            del event["payload"][key]
    return json.dumps(event).encode()


def _event_with(**changes: object) -> bytes:
    event = json.loads(RECEIVED)
    event.update(changes)
    for key, value in list(event.items()):
        if value is None:
            del event[key]
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    ("label", "body", "reason"),
    [
        ("not JSON", b"event=sms:received", "not JSON"),
        ("not UTF-8", b"\xff\xfe", "not JSON"),
        ("JSON array", b"[]", "not a JSON object"),
        ("no event", _event_with(event=None), "'event'"),
        ("event not a string", _event_with(event=7), "'event'"),
        ("no event id", _event_with(id=None), "'id'"),
        ("no payload", _event_with(payload=None), "payload"),
        ("payload not an object", _event_with(payload="hi"), "payload"),
        ("no message", _received_with(message=None), "payload.message"),
        ("message not a string", _received_with(message=["a"]), "payload.message"),
        ("no sender", _received_with(phoneNumber=None), "sender"),
        ("delivered without messageId", json.dumps({"event": "sms:delivered", "payload": {}}).encode(), "messageId"),
    ],
)
def test_malformed_body_is_bad_request(label: str, body: bytes, reason: str) -> None:
    """Invalid JSON, wrong shapes and missing fields raise BadRequest with the reason."""
    with pytest.raises(BadRequest, match=reason):
        adapter().parse(request(body))


def test_unreadable_received_at_is_left_to_the_normalizer() -> None:
    """A receivedAt that is not ISO 8601 does not lose the complaint; received_at stays unset."""
    [intake] = adapter().parse(request(_received_with(receivedAt="yesterday"))).intakes
    assert intake.received_at is None


# -- parse: delivery events and ignored events --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (fixture("sms_delivered.json"), "delivered", "sms:delivered"),
        (fixture("sms_failed.json"), "failed", "Invalid number"),
        (
            json.dumps({"event": "sms:sent", "id": "e1", "payload": {"messageId": "zXDYfTmTVf3iMd16zzdBj"}}).encode(),
            "sent",
            "sms:sent",
        ),
    ],
)
def test_delivery_events_become_delivery_updates(body: bytes, status: str, detail: str) -> None:
    """sms:sent/delivered/failed name our reply by messageId and map to sent/delivered/failed."""
    result = adapter().parse(signed(body))
    assert result.intakes == []
    [update] = result.delivery_updates
    assert update.status == status
    assert update.provider_message_id == "zXDYfTmTVf3iMd16zzdBj"
    assert update.reply_id == "zXDYfTmTVf3iMd16zzdBj"
    assert update.detail == detail


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (fixture("system_ping.json"), f"event system:ping is not handled: {IGNORED_EVENTS['system:ping']}"),
        (
            json.dumps({"event": "mms:received", "id": "e2", "payload": {}}).encode(),
            "event mms:received is not handled: ",
        ),
        (
            json.dumps({"event": "sms:batch:received", "id": "e3", "payload": {}}).encode(),
            "register the sms:received webhook",
        ),
        (json.dumps({"event": "call:missed", "id": "e4"}).encode(), "event call:missed is not handled"),
    ],
)
def test_other_events_are_ignored_with_reason(body: bytes, expected: str) -> None:
    """Events we do not act on are acknowledged with the reason, not silently dropped."""
    result = adapter().parse(signed(body))
    assert result.intakes == [] and result.delivery_updates == []
    assert result.ignored is not None and expected in result.ignored


def test_answer_is_json_ok() -> None:
    """The webhook answer is 200 application/json {"ok": true}."""
    status, content_type, body = adapter().answer(signed(RECEIVED), ["T-1"])
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"ok": True}


# -- outbound -----------------------------------------------------------------------------------

REPLY = OutboundReply(
    id="6f1d0c2e9a8b4c7d8e9f0a1b2c3d4e5f",
    channel="sms",
    provider="android_sms",
    address="+6281234567890",
    text="Pengaduan Anda diterima: tiket BGR-0001",
)


@pytest.mark.asyncio
@pytest.mark.parametrize("prefix", ["/3rdparty/v1", ""])
async def test_send_posts_text_message_with_our_id(prefix: str) -> None:
    """send() POSTs {base}/messages with basic auth, textMessage, phoneNumbers and id = reply id."""
    async with FakeAndroidGateway(USER, PASSWORD, prefix=prefix) as gateway:
        sender = adapter(android_sms_gateway_url=gateway.url + "/")
        try:
            result = await sender.send(REPLY)
        finally:
            await sender.close()
    [sent] = gateway.requests
    assert sent.path == f"{prefix}/messages"
    assert sent.auth == (USER, PASSWORD)
    assert sent.headers["Content-Type"].startswith("application/json")
    assert sent.json == {
        "id": REPLY.id,
        "textMessage": {"text": REPLY.text},
        "phoneNumbers": ["+6281234567890"],
        "withDeliveryReport": True,
    }
    assert "message" not in sent.json
    assert result.provider_message_id == REPLY.id
    assert gateway.messages[REPLY.id]["state"]["state"] == "Pending"


@pytest.mark.asyncio
async def test_resend_after_lost_answer_is_success() -> None:
    """Sending the same reply again gets 409 (id exists) and counts as sent: one SMS, no error."""
    async with FakeAndroidGateway(USER, PASSWORD) as gateway:
        sender = adapter(android_sms_gateway_url=gateway.url)
        try:
            first = await sender.send(REPLY)
            second = await sender.send(REPLY)
        finally:
            await sender.close()
    assert first.provider_message_id == second.provider_message_id == REPLY.id
    assert len(gateway.requests) == 2 and list(gateway.messages) == [REPLY.id]


@pytest.mark.asyncio
async def test_accepted_without_readable_body_falls_back_to_reply_id() -> None:
    """A 202 whose body is not JSON still succeeds, naming the message by our reply id."""
    async with FakeAndroidGateway(USER, PASSWORD) as gateway:
        gateway.respond_next(202, b"accepted")
        sender = adapter(android_sms_gateway_url=gateway.url)
        try:
            result = await sender.send(REPLY)
        finally:
            await sender.close()
    assert result.provider_message_id == REPLY.id


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "message", "retryable"),
    [
        (400, "phoneNumbers: invalid phone number", False),
        (403, "Forbidden", False),
        (404, "Not Found", False),
        (429, "Too Many Requests", True),
        (500, "Can't select devices. Please contact support", True),
        (502, "Bad Gateway", True),
        (503, "Service Unavailable", True),
    ],
)
async def test_error_answers_map_to_retryable_or_permanent(status: int, message: str, retryable: bool) -> None:
    """4xx (but 429) are permanent, 429 and 5xx retryable; the gateway's message is kept."""
    async with FakeAndroidGateway(USER, PASSWORD) as gateway:
        gateway.fail_next(status, message)
        sender = adapter(android_sms_gateway_url=gateway.url)
        try:
            with pytest.raises(SendError) as caught:
                await sender.send(REPLY)
        finally:
            await sender.close()
    assert caught.value.retryable is retryable
    assert message in str(caught.value) and str(status) in str(caught.value)


@pytest.mark.asyncio
async def test_wrong_password_is_permanent() -> None:
    """Wrong basic-auth credentials are refused (401) and not retried."""
    async with FakeAndroidGateway(USER, PASSWORD) as gateway:
        sender = adapter(android_sms_gateway_url=gateway.url, android_sms_gateway_password="nope")
        try:
            with pytest.raises(SendError) as caught:
                await sender.send(REPLY)
        finally:
            await sender.close()
    assert caught.value.retryable is False
    assert gateway.messages == {}


@pytest.mark.asyncio
async def test_unreachable_phone_is_retryable() -> None:
    """A phone that does not answer (connection refused) is a retryable SendError."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sender = adapter(android_sms_gateway_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(SendError) as caught:
            await sender.send(REPLY)
    finally:
        await sender.close()
    assert caught.value.retryable is True


@pytest.mark.asyncio
async def test_missing_url_is_permanent() -> None:
    """Without ANDROID_SMS_GATEWAY_URL nothing can be sent, and retrying will not help."""
    sender = adapter(android_sms_gateway_url=None)
    with pytest.raises(SendError) as caught:
        await sender.send(REPLY)
    assert caught.value.retryable is False
