"""WhatsApp adapter: handshake, signature, notification parsing (fixtures), sending against a fake Graph API."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.base import BadRequest, DeliveryUpdate, Forbidden, OutboundReply, RawRequest, SendError, Unauthorized
from channels.registry import build_adapters
from channels.whatsapp import GRAPH_ERRORS, IGNORED_TYPES, SIGNATURE_HEADER, WhatsAppChannel, split_text
from config.settings import ConfigurationError, Settings
from normalizer.envelope import ChatTurn, Intake, RemoteFile
from normalizer.normalize import build_envelope
from tests.support.city import shipped_texts
from tests.support.fake_whatsapp import FakeWhatsApp, sign

FIXTURES = Path(__file__).parent / "whatsapp" / "fixtures"
TOKEN = "EAAJB3example-system-user-token"
PHONE_NUMBER_ID = "106540352242922"  # the docs' example business number
APP_SECRET = "bogor-app-secret-0123456789abcdef"
VERIFY_TOKEN = "bogor-verify-2026"
PATH = "/channels/whatsapp"
CITIZEN = "16505551234"
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="


def make_settings(**overrides: object) -> Settings:
    """Settings with WhatsApp enabled and nothing read from a .env file."""
    values: dict[str, object] = {
        "whatsapp_access_token": TOKEN,
        "whatsapp_phone_number_id": PHONE_NUMBER_ID,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "send_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def channel(**overrides: object) -> WhatsAppChannel:
    return WhatsAppChannel(make_settings(**overrides))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def post(body: bytes, signature: str | None = "sign") -> RawRequest:
    """A notification as Meta POSTs it, signed with the app secret unless told otherwise."""
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = sign(body, APP_SECRET)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return RawRequest(method="POST", path=PATH, query={}, headers=headers, body=body, url=f"http://127.0.0.1{PATH}")


def handshake(**query: str) -> RawRequest:
    """Meta's GET that verifies the callback URL."""
    return RawRequest(method="GET", path=PATH, query=query, headers={}, body=b"", url=f"http://127.0.0.1{PATH}")


def message(kind: str, **content: Any) -> bytes:
    """The text fixture with its message turned into ``kind`` carrying ``content``."""
    data = json.loads(fixture("message_text.json"))
    msg = data["entry"][0]["changes"][0]["value"]["messages"][0]
    del msg["text"]
    msg.update(type=kind, **content)
    return json.dumps(data).encode()


def raw(intake: Intake) -> dict[str, Any]:
    """The intake's raw facts (every WhatsApp turn has them)."""
    assert intake.raw is not None
    return intake.raw


def reply(text: str = "Pengaduan diterima.", thread_ref: str | None = WAMID) -> OutboundReply:
    return OutboundReply(
        id="r1", channel="whatsapp", provider="whatsapp", address=CITIZEN, text=text, thread_ref=thread_ref
    )


# -- configuration ---------------------------------------------------------------------------


def test_registry_builds_the_channel_when_configured() -> None:
    """All four required settings switch WhatsApp on through the registry, with its webhook path."""
    adapters = build_adapters(make_settings(), texts=shipped_texts())
    whatsapp = adapters.named("whatsapp", WhatsAppChannel)
    assert whatsapp.path == PATH and whatsapp.methods == ("GET", "POST")
    assert adapters.webhooks["whatsapp"] is adapters.outbound["whatsapp"] is whatsapp
    assert "whatsapp" not in build_adapters(Settings(_env_file=None), texts=shipped_texts())  # type: ignore[call-arg]


def test_half_configured_stops_start_up() -> None:
    """Without the app secret nobody could check signatures: start-up names what is missing."""
    with pytest.raises(ConfigurationError, match="whatsapp: set WHATSAPP_APP_SECRET"):
        make_settings(whatsapp_app_secret=None).check_providers()


def test_malformed_api_version_is_refused() -> None:
    """WHATSAPP_API_VERSION goes into every request path, so a typo stops start-up."""
    with pytest.raises(ConfigurationError, match="WHATSAPP_API_VERSION"):
        channel(whatsapp_api_version="21")


# -- handshake and signature -----------------------------------------------------------------


def test_handshake_echoes_the_challenge() -> None:
    """hub.mode=subscribe with our verify token is answered with hub.challenge as plain text."""
    adapter = channel()
    request = handshake(**{"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    adapter.verify(request)
    result = adapter.parse(request)
    assert result.intakes == [] and result.ignored == "webhook verification handshake"
    assert adapter.answer(request, []) == (200, "text/plain", b"1158201444")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {},
    ],
)
def test_handshake_with_wrong_token_or_mode_is_forbidden(query: dict[str, str]) -> None:
    """A wrong or missing verify token, or another mode, gets 403 and no challenge."""
    with pytest.raises(Forbidden) as info:
        channel().verify(handshake(**query))
    assert info.value.status == 403


def test_right_signature_passes() -> None:
    """The HMAC-SHA256 of the raw body keyed with the app secret is accepted (hex in either case)."""
    body = fixture("message_text.json")
    channel().verify(post(body))
    channel().verify(post(body, sign(body, APP_SECRET).upper().replace("SHA256=", "sha256=")))


@pytest.mark.parametrize("case", ["missing", "empty", "zeros", "other body", "other secret", "sha1"])
def test_missing_or_wrong_signature_is_unauthorized(case: str) -> None:
    """A missing signature, or one over other bytes, with another secret or algorithm, is refused before parsing."""
    body = fixture("message_text.json")
    signature = {
        "missing": None,
        "empty": "",
        "zeros": "sha256=" + "0" * 64,
        "other body": sign(b"another body", APP_SECRET),
        "other secret": sign(body, "another secret"),
        "sha1": "sha1=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest(),
    }[case]
    with pytest.raises(Unauthorized):
        channel().verify(post(body, signature))


# -- parse -----------------------------------------------------------------------------------


def test_text_message_is_a_conversation_turn() -> None:
    """A text message becomes a turn answered to the sender's number, quoting the wamid."""
    result = channel().parse(post(fixture("message_text.json")))
    (intake,) = result.intakes
    assert (intake.channel, intake.provider, intake.kind) == ("whatsapp", "whatsapp", "conversation")
    assert intake.external_id == f"whatsapp:{WAMID}"
    assert intake.sender == CITIZEN and intake.text == "Does it come in another color?"
    route = intake.reply_route
    assert (route.channel, route.address, route.thread_ref, route.provider) == ("whatsapp", CITIZEN, WAMID, "whatsapp")
    assert intake.received_at == datetime.fromtimestamp(1739321024, UTC)
    assert intake.turn == ChatTurn(content="text", message_id=WAMID)
    assert intake.raw == {"content": "text"}
    # The WhatsApp profile name is not an identity: it is never offered as the reporter's name.
    assert intake.identity.name is None and "Sheena" not in json.dumps(intake.raw)


def test_image_keeps_the_media_id_and_the_caption() -> None:
    """An image is not downloaded while parsing: its media id, type and hash are kept, the caption is the text."""
    (intake,) = channel().parse(post(fixture("message_image.json"))).intakes
    assert intake.text == "Jalan berlubang di depan Kebun Raya" and intake.turn.content == "photo"
    assert intake.attachments_to_fetch == (RemoteFile("whatsapp", "1003383421387256", "image/jpeg"),)
    assert raw(intake)["photo"]["sha256"].startswith("SfInY0")


def test_image_sent_as_document_is_a_photo() -> None:
    """A photo sent as a document (full resolution) counts as a photo; a PDF does not."""
    doc = {"id": "9001", "mime_type": "image/png", "sha256": "abc", "filename": "lubang.png"}
    (intake,) = channel().parse(post(message("document", document=doc))).intakes
    assert intake.turn.content == "photo" and intake.attachments_to_fetch[0].ref == "9001"
    pdf = {"id": "9002", "mime_type": "application/pdf", "sha256": "abc", "filename": "surat.pdf"}
    (intake,) = channel().parse(post(message("document", document=pdf))).intakes
    assert intake.turn.content == "other" and raw(intake)["content"] == "unsupported:document"
    assert intake.attachments_to_fetch == ()


def test_location() -> None:
    """A shared location arrives as (latitude, longitude)."""
    (intake,) = channel().parse(post(fixture("message_location.json"))).intakes
    assert intake.location == (-6.597629, 106.799568)
    assert intake.turn.content == "location" and intake.text == ""


def test_unsupported_message_is_still_a_turn() -> None:
    """WhatsApp's own "unsupported" type (a poll here) gets a polite answer instead of silence."""
    (intake,) = channel().parse(post(fixture("message_unsupported.json"))).intakes
    assert intake.turn.content == "other" and intake.text == ""
    assert raw(intake)["content"] == "unsupported:unsupported"


def test_reaction_is_ignored_with_its_reason() -> None:
    """A reaction is no turn: answered 200 with the listed reason."""
    result = channel().parse(post(fixture("message_reaction.json")))
    assert result.intakes == [] and result.ignored == f"reaction: {IGNORED_TYPES['reaction']}"


@pytest.mark.parametrize("kind", sorted(IGNORED_TYPES))
def test_every_ignored_type_says_why(kind: str) -> None:
    """Each deliberately ignored message type is dropped with its written reason."""
    result = channel().parse(post(message(kind, **{kind: {}})))
    assert result.intakes == [] and result.ignored == f"{kind}: {IGNORED_TYPES[kind]}"


def test_one_malformed_message_does_not_refuse_the_good_ones_beside_it() -> None:
    """A batch with a good text and a message without a sender keeps the good one and names the skipped one."""
    data = json.loads(fixture("message_text.json"))
    value = data["entry"][0]["changes"][0]["value"]
    broken = dict(value["messages"][0], id="wamid.BROKEN")
    del broken["from"]
    value["messages"].append(broken)
    result = channel().parse(post(json.dumps(data).encode()))
    assert [i.external_id for i in result.intakes] == [f"whatsapp:{WAMID}"]
    assert "message skipped" in (result.ignored or "")
    value["messages"] = [broken]
    with pytest.raises(BadRequest):  # nothing readable at all: still a malformed request
        channel().parse(post(json.dumps(data).encode()))


def test_unknown_type_is_ignored() -> None:
    """A message type newer than this code is ignored (200), not refused."""
    result = channel().parse(post(message("hologram", hologram={})))
    assert result.intakes == [] and "not known to this version" in (result.ignored or "")


def test_delivered_status_updates_the_reply_by_wamid() -> None:
    """A delivered status names our reply by its wamid."""
    result = channel().parse(post(fixture("status_delivered.json")))
    assert result.intakes == []
    assert result.delivery_updates == [
        DeliveryUpdate(
            status="delivered",
            provider_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA",
            detail="delivered",
        )
    ]


def test_failed_status_carries_the_reason() -> None:
    """A failed status marks the reply failed with the error code and what it means."""
    (update,) = channel().parse(post(fixture("status_failed.json"))).delivery_updates
    assert update.status == "failed" and update.detail == f"error 131047: {GRAPH_ERRORS[131047][1]}"


@pytest.mark.parametrize(("status", "mapped"), [("sent", "sent"), ("read", "delivered")])
def test_sent_and_read_statuses(status: str, mapped: str) -> None:
    """Sent and read statuses fold into the outbox's states (read implies delivered)."""
    data = json.loads(fixture("status_delivered.json"))
    data["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = status
    (update,) = channel().parse(post(json.dumps(data).encode())).delivery_updates
    assert update.status == mapped


def test_another_phone_number_is_not_ours() -> None:
    """A message to another number of the same Meta app is ignored, not answered from ours."""
    result = channel(whatsapp_phone_number_id="999999999").parse(post(fixture("message_text.json")))
    assert result.intakes == [] and "another phone number" in (result.ignored or "")


def test_other_fields_are_ignored() -> None:
    """Subscriptions other than messages (template status, account updates) are ignored with a reason."""
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {}}]}],
        }
    ).encode()
    result = channel().parse(post(body))
    assert result.intakes == [] and "'account_update'" in (result.ignored or "")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "whatsapp_business_account"}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": "x"}]}',
        message("text", text={"body": ""}),
        message("text", text={"body": "hi"}, timestamp="yesterday"),
        message("location", location={"latitude": "north", "longitude": 1}),
        message("location", location={"latitude": 91, "longitude": 1}),
        message("text", text={"body": "hi"}, **{"from": "+62 812"}),
    ],
)
def test_malformed_notifications_are_bad_requests(body: bytes) -> None:
    """Wrong shapes are refused (400) with a reason instead of being half read."""
    with pytest.raises(BadRequest):
        channel().parse(post(body))


def test_turn_normalises_into_an_envelope() -> None:
    """The intake passes the normaliser unchanged in kind, route, turn and files to fetch."""
    (intake,) = channel().parse(post(fixture("message_image.json"))).intakes
    envelope = build_envelope(intake)
    assert envelope.kind == "conversation" and envelope.reply_route.address == CITIZEN
    assert envelope.turn is not None and envelope.turn.content == "photo"
    assert [f.ref for f in envelope.attachments_to_fetch] == ["1003383421387256"]


# -- send ------------------------------------------------------------------------------------


async def test_send_posts_a_text_message_quoting_the_citizen() -> None:
    """The Graph API gets the documented JSON with the bearer token; the wamid comes back."""
    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        adapter = channel(whatsapp_api_base=wa.url)
        try:
            result = await adapter.send(reply())
        finally:
            await adapter.close()
    (sent,) = wa.messages
    assert result.provider_message_id == sent.id and sent.id.startswith("wamid.")
    assert sent.payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CITIZEN,
        "type": "text",
        "text": {"body": "Pengaduan diterima.", "preview_url": False},
        "context": {"message_id": WAMID},
    }


async def test_send_without_a_wamid_does_not_quote() -> None:
    """A reply not tied to a WhatsApp message (an OPD answer days later) carries no context."""
    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        adapter = channel(whatsapp_api_base=wa.url)
        try:
            await adapter.send(reply(thread_ref=None))
            await adapter.send(reply(thread_ref="BGR-2222222"))
        finally:
            await adapter.close()
    assert [m.context_message_id for m in wa.messages] == [None, None]


async def test_long_text_goes_as_several_messages() -> None:
    """A text over 4096 characters is split at spaces; only the first part quotes."""
    text = " ".join(["kata"] * 2000)  # 9999 characters
    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        adapter = channel(whatsapp_api_base=wa.url)
        try:
            result = await adapter.send(reply(text))
        finally:
            await adapter.close()
    assert len(wa.messages) == 3 and all(len(m.body) <= 4096 for m in wa.messages)
    assert " ".join(m.body for m in wa.messages) == text
    assert [m.context_message_id for m in wa.messages] == [WAMID, None, None]
    assert result.provider_message_id == wa.messages[0].id


async def test_long_answer_cut_short_resumes_without_repeating() -> None:
    """Part 2 hits a rate limit; a retry by another worker (parts_sent from the outbox row) sends parts 2 and 3."""
    text = " ".join(["kata"] * 2000)
    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        adapter = channel(whatsapp_api_base=wa.url)
        other_worker = channel(whatsapp_api_base=wa.url)
        wa.fail_next(130429, "Rate limit hit", after=1)
        try:
            with pytest.raises(SendError, match="part 2 of 3 not sent") as info:
                await adapter.send(reply(text))
            assert info.value.retryable and info.value.parts_sent == 1
            assert info.value.provider_message_id == wa.messages[0].id
            await other_worker.send(dataclasses.replace(reply(text), parts_sent=info.value.parts_sent))
        finally:
            await adapter.close()
            await other_worker.close()
    assert len(wa.messages) == 3 and " ".join(m.body for m in wa.messages) == text


async def test_time_out_after_the_message_left_is_an_unknown_outcome() -> None:
    """Graph took the message but never answered: the error says it may have arrived (no idempotency key)."""
    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        wa.hang_after_receiving = 1
        adapter = channel(whatsapp_api_base=wa.url, send_timeout_seconds=1.0)
        try:
            with pytest.raises(SendError) as info:
                await adapter.send(reply())
        finally:
            await adapter.close()
        assert len(wa.messages) == 1
    assert info.value.retryable and info.value.outcome_unknown


@pytest.mark.parametrize(
    ("code", "status", "retryable", "reason"),
    [
        (131047, 400, False, "more than 24 hours"),
        (131026, 400, False, "undeliverable"),
        (190, 401, False, "renew WHATSAPP_ACCESS_TOKEN"),
        (130429, 400, True, "rate limit hit"),
        (131056, 400, True, "pair rate limit"),
        (131000, 500, True, "something went wrong"),
        (999999, 503, True, "Service Unavailable"),
        (999999, 400, False, "Strange thing"),
    ],
)
async def test_graph_errors_say_whether_a_retry_helps(code: int, status: int, retryable: bool, reason: str) -> None:
    """Each Graph API error code maps to retryable or permanent with a reason; unknown codes follow the HTTP status."""
    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        adapter = channel(whatsapp_api_base=wa.url)
        details = "Strange thing" if status == 400 else "Service Unavailable"
        wa.fail_next(code, "Some title", status=status, details=details)
        try:
            with pytest.raises(SendError) as info:
                await adapter.send(reply())
        finally:
            await adapter.close()
    assert info.value.retryable is retryable
    assert f"error {code}" in str(info.value) and reason in str(info.value)
    assert TOKEN not in str(info.value)


async def test_wrong_token_is_a_permanent_failure() -> None:
    """The fake refuses another bearer token with error 190, which no retry fixes."""
    async with FakeWhatsApp("another-token", PHONE_NUMBER_ID) as wa:
        adapter = channel(whatsapp_api_base=wa.url)
        try:
            with pytest.raises(SendError, match="error 190") as info:
                await adapter.send(reply())
        finally:
            await adapter.close()
    assert not info.value.retryable and wa.messages == []


async def test_unreachable_api_is_retryable() -> None:
    """A Graph API that cannot be reached is a retryable failure."""
    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        url = wa.url
    adapter = channel(whatsapp_api_base=url)
    try:
        with pytest.raises(SendError) as info:
            await adapter.send(reply())
    finally:
        await adapter.close()
    assert info.value.retryable


@pytest.mark.parametrize(("address", "text"), [(CITIZEN, "  "), ("+62 812 3456", "halo"), ("siti@example.id", "x")])
async def test_unsendable_replies_fail_without_calling_the_api(address: str, text: str) -> None:
    """An empty text or an address that is no WhatsApp number fails for good, before any request."""
    adapter = channel(whatsapp_api_base="http://127.0.0.1:9")
    bad = OutboundReply(id="r2", channel="whatsapp", provider="whatsapp", address=address, text=text)
    with pytest.raises(SendError) as info:
        await adapter.send(bad)
    assert not info.value.retryable


def test_split_prefers_line_breaks_and_keeps_every_word() -> None:
    """Splitting cuts at a line break or space and loses nothing but the whitespace at the cut."""
    text = ("a" * 3000) + "\n" + ("b" * 3000)
    assert split_text(text) == ["a" * 3000, "b" * 3000]
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]
    assert split_text("short") == ["short"]


async def test_error_texts_name_no_phone_number() -> None:
    """A provider error that quotes the citizen's number is stored and logged without it."""
    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        adapter = channel(whatsapp_api_base=wa.url)
        wa.fail_next(131030, "Recipient phone number not in allowed list", details=f"+{CITIZEN} is not allowed")
        try:
            with pytest.raises(SendError) as info:
                await adapter.send(reply())
        finally:
            await adapter.close()
    assert CITIZEN not in str(info.value) and "<number> is not allowed" in str(info.value)
    assert "error 131030" in str(info.value) and not info.value.retryable
