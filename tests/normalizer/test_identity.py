"""Identity extraction and checks: NIK, phone, email, LAPOR# SMS and labelled free text."""

from __future__ import annotations

from datetime import date

import pytest

from normalizer.envelope import Identity
from normalizer.identity import (
    Problem,
    check_identity,
    merge_identity,
    nik_birth_date,
    normalize_email,
    normalize_phone,
    parse_identity_text,
    validate_nik,
)
from tests.support.city import shipped_city

REGIONS = shipped_city().regions

TODAY = date(2025, 6, 1)


def make_nik(district: str, day: int, month: int, yy: int, serial: int = 1, *, female: bool = False) -> str:
    """Build a NIK: PPKKDD + DDMMYY (women: DD + 40) + 4-digit serial."""
    dd = day + 40 if female else day
    return f"{district}{dd:02d}{month:02d}{yy:02d}{serial:04d}"


MAN = make_nik("327101", 15, 8, 90)  # Bogor Selatan, 15 Aug 1990
WOMAN = make_nik("327106", 17, 8, 85, 23, female=True)  # Tanah Sareal, 17 Aug 1985


# --------------------------------------------------------------------------- regions


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("32", "Jawa Barat"),
        ("32.71", "Kota Bogor"),
        ("3271", "Kota Bogor"),
        ("32.01", "Kabupaten Bogor"),
        ("32.71.01", "Bogor Selatan"),
        ("32.71.02", "Bogor Timur"),
        ("32.71.03", "Bogor Tengah"),
        ("32.71.04", "Bogor Barat"),
        ("32.71.05", "Bogor Utara"),
        ("327106", "Tanah Sareal"),
        ("32.71.99", None),
        ("bogor", None),
    ],
)
def test_region_name(code, name):
    """Kemendagri codes resolve to names in dotted or undotted form; unknown codes give None."""
    assert REGIONS.name(code) == name


@pytest.mark.parametrize(
    ("code", "known"),
    [("327101", True), ("32.71.06", True), ("320101", True), ("327199", False), ("3271", False), ("32.71", False)],
)
def test_is_known_district(code, known):
    """Only six-digit kecamatan codes in the list count as districts."""
    assert REGIONS.is_known_district(code) is known


# --------------------------------------------------------------------------- NIK


@pytest.mark.parametrize(
    ("nik", "expected"),
    [
        pytest.param(MAN, None, id="man-kota-bogor"),
        pytest.param(WOMAN, None, id="woman-dd-plus-40"),
        pytest.param("3271 0115 0890 0001", None, id="spaces-stripped"),
        pytest.param("32.71.01-150890-0001", None, id="dots-dashes-stripped"),
        pytest.param(make_nik("320101", 1, 1, 70), None, id="kabupaten-bogor-cibinong"),
        pytest.param(make_nik("317101", 1, 1, 70), None, id="other-province-jakarta"),
        pytest.param(make_nik("327199", 15, 8, 90), "region", id="unknown-district-32.71.99"),
        pytest.param(make_nik("329901", 15, 8, 90), "region", id="unknown-regency"),
        pytest.param("3271013102900001", "birthdate", id="31-february"),
        pytest.param(make_nik("327101", 0, 8, 90), "birthdate", id="day-zero"),
        pytest.param(make_nik("327101", 35, 8, 90), "birthdate", id="day-35"),
        pytest.param(make_nik("327101", 1, 13, 90), "birthdate", id="month-13"),
        pytest.param(make_nik("327101", 15, 12, 25), "birthdate", id="future-date"),
        pytest.param(MAN[:15], "format", id="15-digits"),
        pytest.param(MAN + "1", "format", id="17-digits"),
        pytest.param("32710115089000AB", "format", id="letters"),
        pytest.param(make_nik("327101", 15, 8, 90, serial=0), "format", id="serial-0000"),
        pytest.param("", "format", id="empty"),
    ],
)
def test_validate_nik(nik, expected):
    """validate_nik returns None for valid NIKs and the right error code otherwise."""
    assert validate_nik(nik, regions=REGIONS, today=TODAY) == expected


@pytest.mark.parametrize(
    ("nik", "born"),
    [
        pytest.param(make_nik("327101", 15, 8, 5), date(2005, 8, 15), id="yy05-2005"),
        pytest.param(make_nik("327101", 15, 8, 90), date(1990, 8, 15), id="yy90-1990"),
        pytest.param(make_nik("327101", 1, 1, 25), date(2025, 1, 1), id="yy-this-year-2000s"),
        pytest.param(make_nik("327101", 1, 1, 26), date(1926, 1, 1), id="yy-next-year-1900s"),
        pytest.param(make_nik("327101", 29, 2, 0, female=True), date(2000, 2, 29), id="woman-leap-day"),
        pytest.param("3271013102900001", None, id="impossible-date"),
        pytest.param("123", None, id="too-short"),
    ],
)
def test_nik_birth_date_century(nik, born):
    """Century: YY above today's two-digit year is 19YY, otherwise 20YY."""
    assert nik_birth_date(nik, today=TODAY) == born


def test_validate_nik_too_old():
    """A birth date more than 120 years ago is rejected as "birthdate"."""
    assert validate_nik(make_nik("327101", 1, 1, 1), regions=REGIONS, today=date(2125, 6, 1)) == "birthdate"


# --------------------------------------------------------------------------- phone, email


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("81234567890", "+6281234567890"),
        ("(0251) 8321075", "+622518321075"),
        ("+1 650 253 0000", "+16502530000"),
        ("12345", None),
        ("bukan nomor", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_phone(raw, e164):
    """Indonesian spellings become E.164; anything invalid gives None."""
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("budi@example.id", "budi@example.id"),
        ("  Budi@Example.CO.ID ", "Budi@example.co.id"),
        ("mailto:a@b.id", "a@b.id"),
        ("budi@", None),
        ("budi at example.id", None),
        ("a b@c.id", None),
        (None, None),
    ],
)
def test_normalize_email(raw, normalized):
    """Valid addresses come back with a lower-cased domain; invalid ones give None."""
    assert normalize_email(raw) == normalized


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "identity", "rest"),
    [
        pytest.param(
            f"LAPOR#{MAN}#Budi Santoso#Jl. Pajajaran No. 5#Jalan rusak",
            Identity(nik=MAN, name="Budi Santoso", address="Jl. Pajajaran No. 5"),
            "Jalan rusak",
            id="basic",
        ),
        pytest.param(
            f"lapor # {MAN} # Budi Santoso # Jl. Pajajaran No. 5, Bogor # jalan rusak #darurat # tolong",
            Identity(nik=MAN, name="Budi Santoso", address="Jl. Pajajaran No. 5, Bogor"),
            "jalan rusak #darurat # tolong",
            id="spaces-lowercase-hash-in-isi",
        ),
        pytest.param(
            f"LAPOR#{MAN}#Budi#Jl X#budi@Mail.COM#lampu mati",
            Identity(nik=MAN, name="Budi", address="Jl X", email="budi@mail.com"),
            "lampu mati",
            id="with-email",
        ),
        pytest.param(
            "LAPOR#3271 0115 0890 0001#Budi#Jl X#sampah",
            Identity(nik=MAN, name="Budi", address="Jl X"),
            "sampah",
            id="nik-with-spaces",
        ),
        pytest.param(
            f"LAPOR#{MAN}#sampah menumpuk",
            Identity(nik=MAN),
            "sampah menumpuk",
            id="short-form-keeps-text",
        ),
    ],
)
def test_parse_lapor_sms(text, identity, rest):
    """Structured LAPOR#NIK#nama#alamat#[email#]isi SMS is split into identity and text."""
    assert parse_identity_text(text) == (identity, rest)


@pytest.mark.parametrize(
    ("text", "identity", "rest"),
    [
        pytest.param(
            f"NIK: {MAN}, Nama: Budi Santoso, Alamat: Jl. Pajajaran No. 5, RT 02/RW 03, Bogor Tengah, "
            "Telp: 0812-3456-7890, Email: budi@Mail.ID, Isi: jalan rusak di depan rumah",
            Identity(
                MAN, "Budi Santoso", "Jl. Pajajaran No. 5, RT 02/RW 03, Bogor Tengah", "+6281234567890", "budi@mail.id"
            ),
            "jalan rusak di depan rumah",
            id="one-line-address-with-commas",
        ),
        pytest.param(
            "Nama : Siti Aminah\nNo KTP: 3271 0657 0885 0023\nAlamat: Kp. Sawah RT 01/02, Tanah Sareal\n"
            "No. HP: 0857 1234 5678\nPengaduan: lampu PJU mati sejak seminggu,\nmohon diperbaiki",
            Identity(WOMAN, "Siti Aminah", "Kp. Sawah RT 01/02, Tanah Sareal", "+6285712345678"),
            "lampu PJU mati sejak seminggu,\nmohon diperbaiki",
            id="newlines-no-ktp-no-hp",
        ),
        pytest.param(
            "Isi: saya sudah kirim laporan, email: tidak dibalas\nNama: Budi",
            Identity(name="Budi"),
            "saya sudah kirim laporan, email: tidak dibalas",
            id="isi-keeps-label-words-mid-line",
        ),
        pytest.param(
            "Name: John Doe\nAddress: 5 Main St, Bogor\nPhone: +62 812 3456 7890\nE-mail: john@x.org\n"
            "The road is broken, please fix.",
            Identity(name="John Doe", address="5 Main St, Bogor", phone="+6281234567890", email="john@x.org"),
            "The road is broken, please fix.",
            id="english-labels-unlabelled-rest",
        ),
        pytest.param(
            "Mohon sampah diangkut.\nNama: Budi; WA: 0812 3456 7890",
            Identity(name="Budi", phone="+6281234567890"),
            "Mohon sampah diangkut.",
            id="text-before-labels",
        ),
        pytest.param(
            "NIK: 32710115089O0001, Telp: 12345, Keluhan: parkir liar",
            Identity(nik="32710115089O0001", phone="12345"),
            "parkir liar",
            id="bad-values-kept-raw",
        ),
    ],
)
def test_parse_labelled_text(text, identity, rest):
    """Labelled fields are extracted; an address value runs past commas to the next label."""
    assert parse_identity_text(text) == (identity, rest)


@pytest.mark.parametrize(
    "text",
    [
        "Jalan rusak di depan rumah saya, nama jalan Pajajaran.",
        "Tolong cek alamat rumah saya di Bogor Tengah",
        "",
    ],
)
def test_parse_no_labels(text):
    """Text without labels or LAPOR# gives an empty Identity and the text unchanged."""
    assert parse_identity_text(text) == (Identity(), text)


# --------------------------------------------------------------------------- checking


@pytest.mark.parametrize(
    ("identity", "problems"),
    [
        pytest.param(
            Identity(MAN, "Budi Santoso", "Jl. Pajajaran 5", "+6281234567890"),
            [],
            id="complete",
        ),
        pytest.param(
            Identity(),
            [
                Problem("nik", "missing"),
                Problem("name", "missing"),
                Problem("address", "missing"),
                Problem("phone", "missing"),
            ],
            id="all-missing-in-order",
        ),
        pytest.param(
            Identity(nik=MAN, name="  ", phone="0812-3456-7890"),
            [Problem("name", "missing"), Problem("address", "missing")],
            id="blank-is-missing",
        ),
        pytest.param(
            Identity("3271013102900001", "B", "Jl X", "12345", "budi@"),
            [
                Problem("nik", "birthdate"),
                Problem("name", "invalid"),
                Problem("phone", "invalid"),
                Problem("email", "invalid"),
            ],
            id="invalid-values",
        ),
        pytest.param(
            Identity(make_nik("327199", 1, 1, 80), "Budi 2", "Jl X", "0812-3456-7890"),
            [Problem("nik", "region"), Problem("name", "invalid")],
            id="region-and-digit-in-name",
        ),
        pytest.param(
            Identity(MAN[:15], "Budi", "Jl X", "0812-3456-7890", "budi@example.id"),
            [Problem("nik", "format")],
            id="nik-format",
        ),
    ],
)
def test_check_identity(identity, problems):
    """check_identity lists problems in the order nik, name, address, phone, email."""
    assert check_identity(identity, regions=REGIONS, today=TODAY) == problems


def test_check_identity_custom_required():
    """Only the fields named in ``required`` are reported as missing."""
    assert check_identity(Identity(name="Budi"), regions=REGIONS, required=("name", "email"), today=TODAY) == [
        Problem("email", "missing")
    ]


def test_merge_identity_fills_only_missing():
    """merge_identity takes the sender's phone without overwriting what the text gave."""
    parsed = Identity(nik=MAN, name="Budi", phone=None, email="")
    sender = Identity(name="Other", phone="+6281234567890", email="x@y.id")
    assert merge_identity(parsed, sender) == Identity(nik=MAN, name="Budi", phone="+6281234567890", email="x@y.id")
