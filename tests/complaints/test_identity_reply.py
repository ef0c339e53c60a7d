"""The return message for an incomplete identity: what was read (masked), what is missing, how to reply."""

from __future__ import annotations

import itertools

import pytest

from complaints.identity_reply import identity_missing_reply, masked_identity
from normalizer.envelope import Identity
from normalizer.identity import parse_identity_text
from normalizer.text import is_gsm7, sms_segments
from tests.support.city import shipped_city

REPLIES = shipped_city().replies
TICKET = "BGR-7KQ2XMP"
NIK = "3271014508900003"
FULL = Identity(
    nik=NIK,
    name="Siti Aminah Rahmawati",
    address="Jl. Pajajaran No. 10, RT 02/RW 03, Bogor Tengah",
    phone="+6281234567890",
    email="siti.aminah@example.org",
)
PROBLEMS = [("nik", "region"), ("name", "missing"), ("address", "missing"), ("phone", "invalid"), ("email", "format")]
PII = ("3271014508900003", "Siti", "Aminah", "Pajajaran", "81234567890", "siti.aminah")


def reply(channel: str, identity: Identity, problems: list[tuple[str, str]], lang: str = "id") -> str:
    return identity_missing_reply(
        REPLIES, lang, channel=channel, ticket=TICKET, identity=identity, problems=problems, window_days=3
    )


def without(identity: Identity, fields: tuple[str, ...]) -> Identity:
    return Identity(
        **{f: None if f in fields else getattr(identity, f) for f in ("nik", "name", "address", "phone", "email")}
    )


def test_sms_says_what_was_read_masked_what_is_missing_and_how_to_reply() -> None:
    """Typical: NIK and name read, address missing; one SMS with ****0003, initials, "Balas: Alamat <...>"."""
    text = reply("sms", without(FULL, ("address", "email")), [("address", "missing")])
    assert text == (
        "BGR-7KQ2XMP dikembalikan. Terbaca: NIK ****0003, Nama S.A.R., No. Telp ****7890. "
        "Kurang: Alamat. Balas: Alamat <alamat lengkap>"
    )
    assert sms_segments(text) == 1 and is_gsm7(text)


def test_english_long_form_names_the_window_and_the_same_ticket() -> None:
    """Off SMS the message is the long form: the reply window in days and that the ticket stays."""
    text = reply("email", without(FULL, ("nik",)), [("nik", "missing")], lang="en")
    assert "We have read: Name S.A.R., Address, Phone ****7890, Email s***@example.org." in text
    assert "Still needed: NIK." in text and "within 3 days" in text and "NIK <16 digits>" in text
    assert text.count(TICKET) == 2


def test_a_wrong_value_is_named_with_its_reason_and_not_shown_as_read() -> None:
    """A NIK with an unknown district is "missing" with its reason; its digits are not echoed as understood."""
    text = reply("email", FULL, [("nik", "region")])
    assert "NIK (kode wilayah salah)" in text
    assert "****0003" not in text and "Nama S.A.R." in text


def test_nothing_read_leaves_out_the_understood_part() -> None:
    """A message with no identity at all: no empty "Terbaca:", just what is missing and how to reply."""
    text = reply(
        "sms", Identity(phone="+6281234567890"), [("nik", "missing"), ("name", "missing"), ("address", "missing")]
    )
    assert "Kurang: NIK, Nama, Alamat." in text
    assert "Balas: NIK <16 angka> Nama <nama lengkap> Alamat <alamat lengkap>" in text
    assert sms_segments(text) == 1


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize(
    "problems",
    [list(c) for n in range(1, len(PROBLEMS) + 1) for c in itertools.combinations(PROBLEMS, n)],
    ids=lambda p: "+".join(f for f, _ in p),
)
def test_every_sms_fits_one_message_and_shows_no_personal_data(lang: str, problems: list[tuple[str, str]]) -> None:
    """Every combination of problems, with the longest values read for the rest: one GSM-7 SMS, no PII."""
    missing = tuple(f for f, code in problems if code == "missing")
    text = reply("sms", without(FULL, missing), problems, lang)
    assert is_gsm7(text) and sms_segments(text) == 1, text
    assert TICKET in text
    for value in PII:
        assert value not in text
    # The wrong fields are always named, even when the SMS had to drop the "read" part.
    labels = REPLIES.of(lang).fields
    for field, _ in problems:
        assert labels[field] in text


def test_how_to_reply_is_what_the_reader_understands() -> None:
    """The "Balas:" example, filled in as a citizen would, is read back as exactly those fields."""
    hints = REPLIES.of("id").reply_with
    label = {field: hint.split("<")[0] for field, hint in hints.items()}
    written = f"{label['nik']}{NIK} {label['name']}Siti Aminah {label['address']}Jl. Pajajaran 10"
    identity, rest = parse_identity_text(written)
    assert (identity.nik, identity.name, identity.address) == (NIK, "Siti Aminah", "Jl. Pajajaran 10")
    assert rest == ""


def test_masked_identity_keeps_only_what_tells_values_apart() -> None:
    """NIK and phone: last four digits; name: initials; e-mail: first letter and domain; address: nothing."""
    assert masked_identity(FULL) == [
        ("nik", "****0003"),
        ("name", "S.A.R."),
        ("address", None),
        ("phone", "****7890"),
        ("email", "s***@example.org"),
    ]
    assert masked_identity(FULL, skip=("nik", "email")) == [
        ("name", "S.A.R."),
        ("address", None),
        ("phone", "****7890"),
    ]
