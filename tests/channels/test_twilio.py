"""Twilio SMS adapter: signature, incoming messages, status callbacks, and sending via a fake API."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from channels.base import BadRequest, Forbidden, OutboundReply, RawRequest, SendError, Unauthorized
from channels.sms.twilio import EMPTY_TWIML, TwilioSms
from config.settings import Settings
from tests.support.fake_twilio import FakeTwilio

FIXTURES = Path(__file__).parent / "twilio" / "fixtures"
ACCOUNT_SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"  # the docs' placeholder, as in the fixtures
AUTH_TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PUBLIC = "https://lapor.kotabogor.example"
PATH = TwilioSms.path


def make_settings(**overrides: object) -> Settings:
    """Settings with Twilio enabled and nothing read from a .env file."""
    values: dict[str, object] = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from": "+14155552345",
        "public_base_url": PUBLIC + "/",
        "send_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed(
    body: bytes, query_string: str = "", *, token: str = AUTH_TOKEN, signed_url: str | None = None
) -> RawRequest:
    """A request as Twilio sends it, signed by the twilio package (not by our code)."""
    public_url = f"{PUBLIC}{PATH}" + (f"?{query_string}" if query_string else "")
    params = MultiDict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    signature = RequestValidator(token).compute_signature(signed_url or public_url, params)
    return raw(body, query_string, {"X-Twilio-Signature": signature})


def raw(body: bytes, query_string: str = "", extra_headers: dict[str, str] | None = None) -> RawRequest:
    """The request as the gateway hands it over: PUBLIC_BASE_URL + the path and query as sent."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}
    headers.update(extra_headers or {})
    public_url = f"{PUBLIC}{PATH}" + (f"?{query_string}" if query_string else "")
    return RawRequest(
        method="POST",
        path=PATH,
        query=dict(parse_qsl(query_string)),
        headers=headers,
        body=body,
        url=public_url,
        query_string=query_string,
    )


# -- inbound: signature -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["incoming_sms.body", "mms_two_images.body", "status_delivered.body", "status_undelivered.body"]
)
def test_valid_signature_passes(name: str) -> None:
    """A request signed over the public URL passes verify, although the local URL differs."""
    TwilioSms(make_settings()).verify(signed(fixture(name)))


def test_signature_covers_the_reply_query() -> None:
    """A status callback URL with ?reply=<id> is part of what Twilio signs and what we check."""
    TwilioSms(make_settings()).verify(signed(fixture("status_delivered.body"), "reply=r123"))


def test_signature_covers_repeated_parameters() -> None:
    """Every value of a repeated form key is signed; verify must not drop any of them."""
    body = fixture("incoming_sms.body") + b"&Tag=a&Tag=b"
    TwilioSms(make_settings()).verify(signed(body))


BODY = fixture("incoming_sms.body")


@pytest.mark.parametrize(
    ("label", "request_"),
    [
        ("missing signature", raw(BODY)),
        ("empty signature", raw(BODY, extra_headers={"X-Twilio-Signature": ""})),
        ("signed with another token", signed(BODY, token="not-the-token")),
        ("signed over the local URL", signed(BODY, signed_url=f"http://127.0.0.1:8080{PATH}")),
        ("body changed after signing", raw(BODY.replace(b"Hello", b"Hallo"), extra_headers=dict(signed(BODY).headers))),
        ("reply id changed after signing", raw(BODY, "reply=other", dict(signed(BODY, "reply=r1").headers))),
        ("garbage signature", raw(BODY, extra_headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})),
        ("body is not form data", raw(b"\xff\xfe{", extra_headers={"X-Twilio-Signature": "x"})),
    ],
)
def test_bad_or_missing_signature_is_unauthorized(label: str, request_: RawRequest) -> None:
    """Any request whose X-Twilio-Signature is absent or does not match is refused."""
    with pytest.raises(Unauthorized):
        TwilioSms(make_settings()).verify(request_)


def test_shared_key_signature_without_configured_key_is_unauthorized() -> None:
    """A webhook signed with a Twilio SharedKey is refused (with a reason) when no key is set."""
    request_ = signed(BODY)
    headers = dict(request_.headers) | {"X-Twilio-Webhooks-Signature-Settings": "key=KSxx,algorithm=HMAC_SHA256"}
    with pytest.raises(Unauthorized, match="SharedKey"):
        TwilioSms(make_settings()).verify(raw(BODY, extra_headers=headers))


# -- inbound: messages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sid", "text", "media"),
    [
        ("incoming_sms.body", "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "Hello from Twilio!", []),
        (
            "mms_two_images.body",
            "MMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            "Two photos",
            [("MEXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX0", "image/jpeg"), ("MEXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX1", "image/png")],
        ),
    ],
)
def test_incoming_message_becomes_intake(name: str, sid: str, text: str, media: list[tuple[str, str]]) -> None:
    """An incoming message webhook yields one sms Intake keyed by the MessageSid, media by reference."""
    result = TwilioSms(make_settings()).parse(signed(fixture(name)))
    assert result.delivery_updates == [] and result.ignored is None
    [intake] = result.intakes
    assert intake.channel == "sms" and intake.provider == "twilio"
    assert intake.external_id == f"twilio:{sid}"
    assert intake.sender == "+14155550100"
    assert intake.text == text
    assert intake.reply_route.channel == "sms"
    assert intake.reply_route.address == "+14155550100"
    assert intake.reply_route.provider == "twilio"
    assert intake.raw is not None and intake.raw["to"] == "+14155552345"
    got = [(m["url"].rsplit("/", 1)[-1], m["content_type"]) for m in intake.raw["media"]]  # type: ignore[index, union-attr]
    assert got == media


def test_indonesian_text_survives() -> None:
    """UTF-8 text (Indonesian, emoji) arrives unchanged in the intake."""
    body = urlencode(
        {
            "MessageSid": "SM" + "1" * 32,
            "AccountSid": ACCOUNT_SID,
            "From": "+6281234567890",
            "To": "+14155552345",
            "Body": "Jalan berlubang di Jl. Pajajaran depan Kebun Raya 🚧",
            "NumMedia": "0",
        }
    ).encode()
    [intake] = TwilioSms(make_settings()).parse(signed(body)).intakes
    assert intake.text == "Jalan berlubang di Jl. Pajajaran depan Kebun Raya 🚧"
    assert intake.sender == "+6281234567890"


def test_retried_webhook_gives_same_external_id() -> None:
    """Twilio retrying the same webhook yields the same external id, so the inbox dedupes it."""
    adapter = TwilioSms(make_settings())
    first = adapter.parse(signed(BODY)).intakes[0]
    again = adapter.parse(signed(BODY)).intakes[0]
    assert first.external_id == again.external_id


def test_other_account_is_forbidden() -> None:
    """A correctly formed webhook for another Twilio account is refused with Forbidden."""
    body = BODY.replace(ACCOUNT_SID.encode(), b"AC" + b"0" * 32)
    with pytest.raises(Forbidden):
        TwilioSms(make_settings()).parse(raw(body))


def _form_without(key: str) -> bytes:
    return urlencode([(k, v) for k, v in parse_qsl(BODY.decode()) if k != key]).encode()


def _form_with(**changes: str) -> bytes:
    return urlencode(dict(parse_qsl(BODY.decode())) | changes).encode()


@pytest.mark.parametrize(
    ("label", "body", "reason"),
    [
        ("not UTF-8", b"\xff\xfe\x00", "not form data"),
        ("not form data", b'{"Body": "hi"}', "not form data"),
        ("empty body", b"", "AccountSid"),
        ("no AccountSid", _form_without("AccountSid"), "AccountSid"),
        ("no MessageSid", _form_without("MessageSid"), "MessageSid"),
        ("no From", _form_without("From"), "From"),
        ("blank From", _form_with(From=" "), "From"),
        ("no Body and no status", _form_without("Body").replace(b"SmsStatus=received&", b""), "Body"),
        ("NumMedia not a number", _form_with(NumMedia="two"), "NumMedia"),
        ("NumMedia without MediaUrl0", _form_with(NumMedia="1"), "MediaUrl0"),
    ],
)
def test_malformed_body_is_bad_request(label: str, body: bytes, reason: str) -> None:
    """Malformed or incomplete webhook bodies raise BadRequest naming the problem."""
    with pytest.raises(BadRequest, match=reason):
        TwilioSms(make_settings()).parse(raw(body))


# -- inbound: status callbacks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "detail"),
    [
        ("status_sent.body", "sent", "sent"),
        ("status_delivered.body", "delivered", "delivered"),
        ("status_undelivered.body", "failed", "undelivered; ErrorCode 30003"),
    ],
)
def test_status_callback_becomes_delivery_update(name: str, status: str, detail: str) -> None:
    """A status callback maps onto sent/delivered/failed for the reply named in ?reply=."""
    result = TwilioSms(make_settings()).parse(signed(fixture(name), "reply=0f3c9a"))
    assert result.intakes == []
    [update] = result.delivery_updates
    assert update.status == status
    assert update.reply_id == "0f3c9a"
    assert update.provider_message_id == "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert update.detail == detail


@pytest.mark.parametrize(
    ("twilio_status", "expected"),
    [
        ("queued", "sent"),
        ("accepted", "sent"),
        ("sending", "sent"),
        ("read", "delivered"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
def test_every_tracked_status_maps(twilio_status: str, expected: str) -> None:
    """Each Twilio message status we track folds into the outbox's three states."""
    body = _status_body(twilio_status)
    [update] = TwilioSms(make_settings()).parse(raw(body, "reply=r1")).delivery_updates
    assert update.status == expected


def test_status_callback_with_body_is_still_a_status_callback() -> None:
    """A status callback that echoes the Body (some channels do) is not mistaken for a new message."""
    body = fixture("status_delivered.body") + b"&Body=Tiket+diterima"
    result = TwilioSms(make_settings()).parse(raw(body, "reply=r1"))
    assert result.intakes == []
    assert [u.status for u in result.delivery_updates] == ["delivered"]


def test_untracked_status_is_ignored_with_reason() -> None:
    """A status we do not track (scheduled) is acknowledged and ignored with the reason."""
    result = TwilioSms(make_settings()).parse(raw(_status_body("scheduled"), "reply=r1"))
    assert result.intakes == [] and result.delivery_updates == []
    assert result.ignored is not None and "scheduled" in result.ignored


def _status_body(status: str) -> bytes:
    pairs = dict(parse_qsl(fixture("status_sent.body").decode()))
    pairs["MessageStatus"] = pairs["SmsStatus"] = status
    return urlencode(pairs).encode()


def test_answer_is_empty_twiml() -> None:
    """The webhook answer is 200 with empty TwiML so Twilio sends no message itself."""
    status, content_type, body = TwilioSms(make_settings()).answer(raw(BODY), ["T-1"])
    assert (status, content_type) == (200, "text/xml")
    assert body == b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>' == EMPTY_TWIML


# -- outbound -----------------------------------------------------------------------------------


REPLY = OutboundReply(
    id="rep0001", channel="sms", provider="twilio", address="+6281234567890", text="Tiket BGR-0001 diterima"
)


@pytest.mark.asyncio
async def test_send_posts_documented_fields_with_basic_auth() -> None:
    """send() creates a Message with To/From/Body/StatusCallback under basic auth and returns its sid."""
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        adapter = TwilioSms(make_settings(twilio_api_base=twilio.url))
        try:
            result = await adapter.send(REPLY)
        finally:
            await adapter.close()
    [sent] = twilio.requests
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert sent.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert sent.form == {
        "To": "+6281234567890",
        "From": "+14155552345",
        "Body": "Tiket BGR-0001 diterima",
        "StatusCallback": f"{PUBLIC}{PATH}?reply=rep0001",
    }
    assert result.provider_message_id in twilio.messages
    assert result.provider_message_id is not None and result.provider_message_id.startswith("SM")


@pytest.mark.asyncio
async def test_send_with_messaging_service_uses_messaging_service_sid() -> None:
    """A TWILIO_FROM starting with MG is sent as MessagingServiceSid, not From."""
    service = "MG" + "b" * 32
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        adapter = TwilioSms(make_settings(twilio_api_base=twilio.url, twilio_from=service))
        try:
            result = await adapter.send(REPLY)
        finally:
            await adapter.close()
    [sent] = twilio.requests
    assert sent.form["MessagingServiceSid"] == service
    assert "From" not in sent.form
    assert twilio.messages[result.provider_message_id or ""]["status"] == "accepted"


@pytest.mark.asyncio
async def test_documented_201_answer_gives_its_sid() -> None:
    """The Messages API's documented 201 body, byte for byte, yields its sid."""
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        twilio.respond_next(201, fixture("message_created.json"))
        adapter = TwilioSms(make_settings(twilio_api_base=twilio.url))
        try:
            result = await adapter.send(REPLY)
        finally:
            await adapter.close()
    assert result.provider_message_id == "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


@pytest.mark.asyncio
async def test_unreadable_201_is_still_success() -> None:
    """A 2xx whose body cannot be read is success without an id, never a retry (no double send)."""
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        twilio.respond_next(201, b"<html>proxy ate it</html>", "text/html")
        adapter = TwilioSms(make_settings(twilio_api_base=twilio.url))
        try:
            result = await adapter.send(REPLY)
        finally:
            await adapter.close()
    assert result.provider_message_id is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("label", "status", "code", "message", "retryable", "says"),
    [
        ("throttled", 429, 20429, "Too Many Requests", True, "429"),
        ("internal error", 500, 20500, "Internal Server Error", True, "500"),
        ("unavailable", 503, 20503, "Service Unavailable", True, "503"),
        ("unsubscribed (STOP)", 400, 21610, "Attempt to send to unsubscribed recipient", False, "STOP"),
        (
            "invalid To",
            400,
            21211,
            "The 'To' number 12 is not a valid phone number.",
            False,
            "not a valid phone number",
        ),
        ("other 4xx", 400, 21617, "The concatenated message body exceeds the 1600 character limit.", False, "21617"),
        ("forbidden", 403, 20003, "Permission Denied", False, "403"),
    ],
)
async def test_error_answers_map_to_retryable_or_permanent(
    label: str, status: int, code: int, message: str, retryable: bool, says: str
) -> None:
    """Twilio error JSON maps to SendError: 429/5xx retryable, other 4xx permanent, with the reason."""
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        twilio.fail_next(status, code=code, message=message)
        adapter = TwilioSms(make_settings(twilio_api_base=twilio.url))
        try:
            with pytest.raises(SendError) as caught:
                await adapter.send(REPLY)
        finally:
            await adapter.close()
    assert caught.value.retryable is retryable
    assert says in str(caught.value)


@pytest.mark.asyncio
async def test_documented_error_body_is_permanent() -> None:
    """The docs' 400/21211 error body, byte for byte, is a permanent failure."""
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        twilio.respond_next(400, fixture("error_21211.json"))
        adapter = TwilioSms(make_settings(twilio_api_base=twilio.url))
        try:
            with pytest.raises(SendError) as caught:
                await adapter.send(REPLY)
        finally:
            await adapter.close()
    assert caught.value.retryable is False
    assert "21211" in str(caught.value)


@pytest.mark.asyncio
async def test_wrong_credentials_are_permanent() -> None:
    """A wrong Auth Token is refused by the API (401/20003) and is not retried."""
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        adapter = TwilioSms(make_settings(twilio_api_base=twilio.url, twilio_auth_token="wrong"))
        try:
            with pytest.raises(SendError) as caught:
                await adapter.send(REPLY)
        finally:
            await adapter.close()
    assert caught.value.retryable is False
    assert twilio.messages == {}


@pytest.mark.asyncio
async def test_unreachable_api_is_retryable() -> None:
    """A refused connection is a retryable SendError (the outbox keeps the reply)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = TwilioSms(make_settings(twilio_api_base=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(SendError) as caught:
            await adapter.send(REPLY)
    finally:
        await adapter.close()
    assert caught.value.retryable is True


@pytest.mark.asyncio
async def test_close_releases_the_session() -> None:
    """close() closes the lazily created HTTP session and may be called twice."""
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        adapter = TwilioSms(make_settings(twilio_api_base=twilio.url))
        await adapter.send(REPLY)
        session = adapter._session
        await adapter.close()
        await adapter.close()
    assert session is not None and session.closed


def test_json_webhook_with_body_hash_passes() -> None:
    """A JSON webhook is checked through its signed bodySHA256 query parameter."""
    body = b'{"MessageSid": "SM1"}'
    query_string = "bodySHA256=" + hashlib.sha256(body).hexdigest()
    signature_ = RequestValidator(AUTH_TOKEN).compute_signature(f"{PUBLIC}{PATH}?{query_string}", {})
    TwilioSms(make_settings()).verify(raw(body, query_string, {"X-Twilio-Signature": signature_}))
