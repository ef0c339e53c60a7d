"""EmailSender.build_message: the stored thread reference becomes threading headers."""

from __future__ import annotations

import json

from channels.base import OutboundReply
from channels.email.sender import EmailSender
from config.settings import Settings


def _sender() -> EmailSender:
    return EmailSender(Settings(_env_file=None, mail_from="pengaduan@kotabogor.go.id"))  # type: ignore[call-arg]


def _reply(thread_ref: str | None) -> OutboundReply:
    return OutboundReply(
        id="r1", channel="email", provider="email", address="warga@example.org", text="Tiket", thread_ref=thread_ref
    )


def test_thread_ref_json_threads_the_reply() -> None:
    """The JSON ingest writes gives In-Reply-To, References and a Re: subject."""
    ref = json.dumps({"message_id": "m2@warga.example", "references": ["m1@warga.example"], "subject": "Jalan rusak"})
    message = _sender().build_message(_reply(ref))
    assert message["In-Reply-To"] == "<m2@warga.example>"
    assert message["References"] == "<m1@warga.example> <m2@warga.example>"
    assert "Jalan rusak" in message["Subject"]


def test_bare_message_id_thread_ref_still_threads() -> None:
    """An older row's thread_ref, a bare Message-ID, is still the reply's In-Reply-To."""
    message = _sender().build_message(_reply("m2@warga.example"))
    assert message["In-Reply-To"] == "<m2@warga.example>"


def test_malformed_thread_fields_are_dropped_not_split() -> None:
    """A string 'references' is not split into one reference per character; a non-string subject is ignored."""
    ref = json.dumps({"message_id": "m2@warga.example", "references": "m1@warga.example", "subject": 42})
    message = _sender().build_message(_reply(ref))
    assert message["References"] == "<m2@warga.example>"
    assert "42" not in message["Subject"]
