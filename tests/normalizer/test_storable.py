"""Text no database can store is cleaned by the normalizer, for every channel (issue 12)."""

from __future__ import annotations

import json

from normalizer.envelope import Identity, Intake, ReplyRoute
from normalizer.normalize import build_envelope
from normalizer.text import storable


def test_lone_surrogates_become_replacement_characters_and_nul_is_dropped() -> None:
    """Strings at any depth, dict keys included, are made storable; clean values are returned as they are."""
    dirty = {"a\ud800": ["x\x00y", ("\udfff",)], "n": 1}
    assert storable(dirty) == {"a\ufffd": ["xy", ("\ufffd",)], "n": 1}
    clean = {"a": ["b", ("c",)], "n": None}
    assert storable(clean) is clean


def test_every_field_of_the_envelope_is_storable() -> None:
    """Text, identity, subject and the raw record of an intake with lone surrogates all encode as UTF-8."""
    intake = Intake(
        channel="sms",
        provider="android",
        external_id="id-\ud83d",
        sender="+6281234567890",
        text="Lampu \ud83d mati",
        subject="judul \udc00",
        reply_route=ReplyRoute(channel="sms", address="+6281234567890"),
        identity=Identity(name="Siti\ud83d"),
        raw={"message": "Lampu \ud83d mati"},
    )
    envelope = build_envelope(intake)
    json.dumps(envelope.to_dict(), ensure_ascii=False).encode("utf-8")  # raises if anything is left
    assert envelope.text == "Lampu \ufffd mati"
    assert envelope.identity.name == "Siti\ufffd"
