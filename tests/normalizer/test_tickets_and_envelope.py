"""Ticket numbers, status queries and the envelope's guards against odd input."""

from __future__ import annotations

import pytest

from normalizer.envelope import Identity, Intake, ReplyRoute
from normalizer.normalize import InvalidIntake, build_envelope
from normalizer.tickets import find_ticket, normalize_ticket, parse_status_query

STATUS_QUERIES = [
    ("CEK BGR-7KQ2XMP", "BGR-7KQ2XMP"),
    ("cek bgr7kq2xmp", "bgr7kq2xmp"),
    ("Status: BGR-7KQ2XMP", "BGR-7KQ2XMP"),
    ("CEK", ""),
    ("cek 12345", "12345"),
    ("Cek lampu PJU mati di Jl. Pajajaran", None),
    ("Cek, NIK: 3271014505900002 Nama: Siti", None),
    ("Jalan rusak", None),
]


@pytest.mark.parametrize(("text", "expected"), STATUS_QUERIES)
def test_status_query_only_when_the_keyword_stands_alone(text: str, expected: str | None) -> None:
    """`CEK <ticket>` is a status query; a complaint that merely starts with "Cek" is not."""
    assert parse_status_query(text) == expected


def test_ticket_normalisation_and_search() -> None:
    """Tickets are found and normalised whatever the case or dash; invalid ones are not."""
    assert normalize_ticket(" bgr-7kq2xmp ") == "BGR-7KQ2XMP"
    assert normalize_ticket("BGR-0000000") is None  # 0 is not in the alphabet
    assert find_ticket("Re: Jalan rusak [BGR-7KQ2XMP]") == "BGR-7KQ2XMP"
    assert find_ticket("no ticket here") is None


def _intake(**overrides: object) -> Intake:
    values: dict[str, object] = {
        "channel": "sms",
        "provider": "test",
        "external_id": "id-1",
        "sender": "+6281234567890",
        "text": "LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#jalan rusak",
        "reply_route": ReplyRoute(channel="sms", address="+6281234567890", provider="test"),
    }
    values.update(overrides)
    return Intake(**values)  # type: ignore[arg-type]


def test_complaint_starting_with_cek_is_a_complaint() -> None:
    """A complaint beginning with "Cek" keeps its identity and becomes a case, not a status query."""
    env = build_envelope(_intake(text="Cek lampu PJU mati di Jl. Pajajaran\nNIK: 3271014505900002, Nama: Siti Aminah"))
    assert env.kind == "complaint" and env.identity.nik == "3271014505900002"


def test_nul_bytes_and_long_ids_are_made_storable() -> None:
    """NUL bytes are removed and an over-long provider id is hashed, so the database never refuses the row."""
    env = build_envelope(
        _intake(
            external_id="x" * 300 + "\x00",
            sender="+62812\x0034567890",
            identity=Identity(name="Siti\x00 Aminah" + "a" * 300),
        )
    )
    assert "\x00" not in env.sender and len(env.external_id) <= 150
    assert env.identity.name is not None and len(env.identity.name) <= 200 and "\x00" not in env.identity.name
    again = build_envelope(_intake(external_id="x" * 300 + "\x00"))
    assert again.external_id == env.external_id  # a retry still deduplicates


def test_absurd_sender_is_refused() -> None:
    """A sender address longer than any real one is refused with a reason instead of failing the database."""
    with pytest.raises(InvalidIntake):
        build_envelope(_intake(sender="+62" + "1" * 400))
