"""The typed, versioned envelope: JSON round trip, chat commands, and version-1 rows still readable."""

from __future__ import annotations

import json

import pytest

from normalizer.chat import parse_command
from normalizer.envelope import (
    ENVELOPE_VERSION,
    Bounce,
    ChatTurn,
    ComplaintEnvelope,
    Identity,
    Intake,
    RemoteFile,
    ReplyRoute,
    Thread,
)
from normalizer.normalize import build_envelope

# A version-1 e-mail envelope as the accept path stored it: the thread and RFC 3834 facts in raw.
V1_BOUNCE = {
    "id": "a" * 32,
    "channel": "email",
    "provider": "imap",
    "external_id": "email:abc",
    "received_at": "2026-11-30T08:00:00+00:00",
    "sender": "mailer-daemon@example.net",
    "reply_route": {
        "channel": "email",
        "address": "mailer-daemon@example.net",
        "thread_ref": None,
        "provider": "email",
    },
    "identity": {"nik": None, "name": None, "address": None, "phone": None, "email": "mailer-daemon@example.net"},
    "text": "Delivery failed",
    "kind": "complaint",
    "query_ticket": None,
    "subject": "Undelivered Mail Returned to Sender",
    "attachments": [],
    "location": None,
    "language": "id",
    "raw": {
        "subject": "Undelivered Mail Returned to Sender",
        "message_id": "dsn-1@example.net",
        "in_reply_to": ["ack-1@pengaduan.example.go.id"],
        "references": ["c-1@example.com", "ack-1@pengaduan.example.go.id"],
        "auto": "bounce",
        "dsn": {
            "original_message_id": "ack-1@pengaduan.example.go.id",
            "original_envelope_id": None,
            "action": "failed",
            "status": "5.1.1",
            "diagnostic": "550 5.1.1 User unknown",
            "recipient": "warga@example.com",
        },
        "raw_sha256": "f" * 64,
    },
    "version": 1,
}


def _v1_telegram(**raw: object) -> dict[str, object]:
    """A version-1 Telegram turn whose raw carries the chat facts."""
    return {
        **V1_BOUNCE,
        "channel": "telegram",
        "provider": "telegram",
        "external_id": "telegram:1:2:3",
        "sender": "1111111",
        "reply_route": {"channel": "telegram", "address": "1111111", "thread_ref": "1365", "provider": "telegram"},
        "identity": {"nik": None, "name": "Siti", "address": None, "phone": None, "email": None},
        "kind": "conversation",
        "subject": None,
        "text": str(raw.pop("text", "")),
        "raw": {"update_id": 1, "message_id": 1365, "edited": False, **raw},
    }


def test_v1_mail_envelope_reads_into_typed_fields() -> None:
    """A version-1 bounce still in an inbox row gives its thread, automatic reason and bounce as typed fields."""
    env = ComplaintEnvelope.from_dict(json.loads(json.dumps(V1_BOUNCE)))
    assert env.version == ENVELOPE_VERSION == 2
    assert env.thread == Thread(
        message_id="dsn-1@example.net",
        in_reply_to=("ack-1@pengaduan.example.go.id",),
        references=("c-1@example.com", "ack-1@pengaduan.example.go.id"),
    )
    assert env.automatic == "bounce"
    assert env.bounce == Bounce("ack-1@pengaduan.example.go.id", "failed", "5.1.1", "550 5.1.1 User unknown")
    assert env.turn is None and env.attachments_to_fetch == ()
    assert env.raw == V1_BOUNCE["raw"]  # the record is kept as it was


def test_v1_app_follow_up_reads_its_case_ticket() -> None:
    """A version-1 app message naming its case in raw["case_ticket"] keeps that link."""
    data = {**V1_BOUNCE, "channel": "app", "provider": "app", "raw": {"case_ticket": "BGR-7KQ2XMP"}}
    env = ComplaintEnvelope.from_dict(data)
    assert env.thread == Thread(case_ticket="BGR-7KQ2XMP") and env.automatic is None and env.bounce is None


@pytest.mark.parametrize(
    ("raw", "turn"),
    [
        ({"content": "text", "text": "jalan rusak"}, ChatTurn("text", "1365")),
        (
            {"content": "text", "text": "/cek BGR-7KQ2XMP"},
            ChatTurn("command", "1365", command="cek", args="BGR-7KQ2XMP"),
        ),
        (
            {"content": "contact", "contact_phone": "+6281234567890"},
            ChatTurn("contact", "1365", contact_phone="+6281234567890"),
        ),
        ({"content": "unsupported:sticker"}, ChatTurn("other", "1365")),
        ({"content": "text", "text": "Isi baru", "edited": True}, ChatTurn("text", "1365", edited=True)),
    ],
)
def test_v1_telegram_turn_reads_into_a_chat_turn(raw: dict[str, object], turn: ChatTurn) -> None:
    """Each version-1 Telegram content kind becomes the same ChatTurn a version-2 adapter gives."""
    env = ComplaintEnvelope.from_dict(_v1_telegram(**raw))
    assert env.turn == turn and env.thread.message_id is None


def test_v1_telegram_photo_becomes_a_file_to_fetch() -> None:
    """A version-1 photo's file_id becomes a typed reference to fetch from the provider."""
    photo = {"file_id": "large-id", "file_unique_id": "l", "width": 1280, "height": 960, "file_size": 88416}
    env = ComplaintEnvelope.from_dict(_v1_telegram(content="photo", photo=photo, text="Jalan berlubang"))
    assert env.turn == ChatTurn("photo", "1365")
    assert env.attachments_to_fetch == (RemoteFile("telegram", "large-id", "image/jpeg", 88416),)


def test_v2_round_trips_through_json() -> None:
    """Every typed field survives to_dict → JSON → from_dict unchanged."""
    intake = Intake(
        channel="chat-demo",
        provider="demo",
        external_id="demo:1",
        sender="u1",
        text="/lapor@KotaBogorBot Lampu jalan mati",
        reply_route=ReplyRoute(channel="chat-demo", address="u1", thread_ref="m1"),
        kind="conversation",
        turn=ChatTurn(message_id="m1"),
        thread=Thread(message_id="m1", in_reply_to=("m0",), references=("m-1", "m0"), case_ticket="BGR-7KQ2XMP"),
        automatic="auto_reply",
        bounce=Bounce("ack-1", "failed"),
        attachments_to_fetch=(RemoteFile("demo", "f1", "image/png", 10),),
        raw={"anything": ["kept"]},
    )
    env = build_envelope(intake)
    assert env.turn == ChatTurn("command", "m1", command="lapor", args="Lampu jalan mati")
    data = json.loads(json.dumps(env.to_dict()))
    assert data["version"] == 2 and data["thread"]["references"] == ["m-1", "m0"]
    assert ComplaintEnvelope.from_dict(data) == env


def test_newer_version_is_refused() -> None:
    """An envelope written by newer code is refused rather than misread."""
    with pytest.raises(ValueError, match="newer"):
        ComplaintEnvelope.from_dict({**V1_BOUNCE, "version": ENVELOPE_VERSION + 1})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/lapor", ("lapor", "")),
        ("/CEK@KotaBogorBot  BGR-7KQ2XMP ", ("cek", "BGR-7KQ2XMP")),
        ("/lapor\nJalan rusak\ndi Tajur", ("lapor", "Jalan rusak\ndi Tajur")),
        ("/", ("", "")),
        ("lapor /cek", None),
        ("", None),
    ],
)
def test_chat_commands(text: str, expected: tuple[str, str] | None) -> None:
    """A leading slash makes a command word (no @bot suffix, any case) and its arguments."""
    assert parse_command(text) == expected


def test_identity_sources_round_trip_and_name_no_values() -> None:
    """Where each field was read (issue 13) survives JSON; rows stored before it read as None."""
    intake = Intake(
        channel="email",
        provider="imap",
        external_id="email:src",
        sender="siti@example.org",
        text="NIK : 3271014508900003 almt Jl Pajajaran 10 Bogor, got mampet\n\nSalam,\nSiti Aminah",
        reply_route=ReplyRoute(channel="email", address="siti@example.org"),
        identity=Identity(name="Bu Siti", email="siti@example.org"),
    )
    env = build_envelope(intake)
    assert env.identity_sources == {
        "nik": "label:NIK",
        "address": "label:almt",
        "name": "channel:email",
        "email": "sender",
    }
    assert env.identity.name == "Bu Siti"  # an unlabelled signature name does not override the provider's
    data = json.loads(json.dumps(env.to_dict()))
    assert ComplaintEnvelope.from_dict(data) == env
    for value in ("3271014508900003", "Pajajaran", "Siti"):
        assert value not in json.dumps(data["identity_sources"])
    del data["identity_sources"]
    assert ComplaintEnvelope.from_dict(data).identity_sources is None
