"""The RAHASIA / ANONIM keywords at the start of an SMS, chat or e-mail text (issue 14)."""

from __future__ import annotations

import pytest

from normalizer.confidential import read_keywords
from normalizer.envelope import Intake, ReplyRoute
from normalizer.normalize import build_envelope


@pytest.mark.parametrize(
    ("text", "rahasia", "anonim", "rest"),
    [
        ("RAHASIA Lampu jalan mati", True, False, "Lampu jalan mati"),
        ("anonim: pungli di kelurahan", False, True, "pungli di kelurahan"),
        ("ANONIM RAHASIA\nPungli di pasar", True, True, "Pungli di pasar"),
        ("Rahasia, anonim. Atasan saya memeras", True, True, "Atasan saya memeras"),
        ("RAHASIA#LAPOR#3271010101900001#Siti", True, False, "LAPOR#3271010101900001#Siti"),
        # Only at the start, and only the whole word.
        ("Lampu mati, ini bukan rahasia", False, False, "Lampu mati, ini bukan rahasia"),
        ("RAHASIAKAN nama saya", False, False, "RAHASIAKAN nama saya"),
        ("Anonimus menulis", False, False, "Anonimus menulis"),
    ],
)
def test_keywords_are_read_at_the_start_and_stripped(text: str, rahasia: bool, anonim: bool, rest: str) -> None:
    """Each leading keyword sets its flag and leaves the text; elsewhere the word is text."""
    found = read_keywords(text)
    assert (found.rahasia, found.anonim, found.text) == (rahasia, anonim, rest)


def _sms(text: str) -> Intake:
    return Intake(
        channel="sms",
        provider="kannel",
        external_id="k-1",
        sender="+6281298765432",
        text=text,
        reply_route=ReplyRoute(channel="sms", address="+6281298765432"),
    )


def test_an_sms_with_both_keywords_becomes_a_protected_complaint_without_them() -> None:
    """Through the normalizer: the envelope carries both flags; the text and identity are read after the keywords."""
    envelope = build_envelope(
        _sms("RAHASIA ANONIM LAPOR#3271010101900001#Siti Rahmawati#Jl. Sukasari 3#Pungli di pasar")
    )
    assert envelope.kind == "complaint" and envelope.rahasia and envelope.anonim
    assert envelope.identity.nik == "3271010101900001" and envelope.identity.name == "Siti Rahmawati"
    assert "RAHASIA" not in envelope.text and "ANONIM" not in envelope.text and "Pungli di pasar" in envelope.text
    again = type(envelope).from_dict(envelope.to_dict())
    assert again.rahasia and again.anonim  # the flags cross the queue


def test_a_plain_sms_is_neither() -> None:
    """No keyword: no flag, the text untouched."""
    envelope = build_envelope(_sms("Lampu jalan mati di Jl. Sukasari sejak seminggu"))
    assert not envelope.rahasia and not envelope.anonim
    assert envelope.text == "Lampu jalan mati di Jl. Sukasari sejak seminggu"
