"""The identity reader on messages as citizens write them: the issue's examples, every label
spelling and separator, and the measured accuracy on the hand-written corpus."""

from __future__ import annotations

from datetime import date

import pytest

from normalizer.envelope import Identity
from normalizer.identity import parse_identity_text, read_identity, validate_nik
from tests.normalizer.corpus_score import load_corpus, score
from tests.support.city import shipped_city

REGIONS = shipped_city().regions
NIK = "3271014508900003"  # Bogor Selatan, woman born 5 August 1990
CORPUS = load_corpus()


# --------------------------------------------------------------------------- issue 13's examples


def test_issue_example_inline_lowercase_labels():
    """Labels without separators, the complaint after a comma: all three fields read."""
    identity, rest = parse_identity_text(
        "Nik 3271014508900003 nama Siti Aminah alamat Jl Pajajaran 10 Bogor, got mampet di depan rumah"
    )
    assert identity == Identity(nik=NIK, name="Siti Aminah", address="Jl Pajajaran 10 Bogor")
    assert rest == "got mampet di depan rumah"


def test_issue_example_sy_and_almt():
    """The word "Sy" names the writer, "almt" is an address; the sentence end stops the address."""
    identity, rest = parse_identity_text(
        "Sy Budi Santoso nik 3271024203920001 almt Jl Suryakencana 20 Bogor Tengah. Parkir liar di trotoar"
    )
    assert identity == Identity(nik="3271024203920001", name="Budi Santoso", address="Jl Suryakencana 20 Bogor Tengah")
    assert rest == "Parkir liar di trotoar"


def test_issue_example_colons_on_one_line():
    """The "NIK : ... Nama : ..." form on one line: the NIK no longer swallows the name and the rest."""
    identity, rest = parse_identity_text(
        "NIK : 3271014508900003 Nama : Siti Aminah Alamat : Jl. Pajajaran 10 Isi : lampu PJU mati"
    )
    assert identity == Identity(nik=NIK, name="Siti Aminah", address="Jl. Pajajaran 10")
    assert rest == "lampu PJU mati"


def test_issue_example_greeting_brackets_and_warga():
    """A NIK in brackets after the name, "warga" before the address, a greeting before all."""
    identity, rest = parse_identity_text(
        "Assalamualaikum. Saya Rahmat Hidayat (NIK 3271016907880003), warga Jl. Batutulis 8 Bogor Selatan. "
        "Mau melaporkan sampah liar di pinggir kali."
    )
    assert identity == Identity(nik="3271016907880003", name="Rahmat Hidayat", address="Jl. Batutulis 8 Bogor Selatan")
    assert "Mau melaporkan sampah liar di pinggir kali." in rest
    assert "3271" not in rest and "Batutulis" not in rest


def test_issue_example_dashed_nik_and_complaint_after_house_number():
    """A NIK written with dashes; the address ends where the complaint starts."""
    identity, rest = parse_identity_text("NIK 3271-01-450890-0003 Nama Siti Aminah Alamat Jl Pajajaran 10 lampu mati")
    assert identity == Identity(nik=NIK, name="Siti Aminah", address="Jl Pajajaran 10")
    assert rest == "lampu mati"


# --------------------------------------------------------------------------- spellings


@pytest.mark.parametrize(
    "label",
    ["nik", "NIK", "no. nik", "No NIK", "no ktp", "No. KTP", "nomor induk kependudukan", "ktp", "id number", "e-ktp"],
)
@pytest.mark.parametrize("separator", [": ", " = ", ".", " - ", "/", " "])
def test_nik_label_spellings_and_separators(label, separator):
    """Every NIK label spelling, with any separator or none, is read and ends at the NIK."""
    identity, _ = parse_identity_text(f"{label}{separator}3271 0145 0890 0003 nama Siti Aminah")
    assert (identity.nik, identity.name) == (NIK, "Siti Aminah")


@pytest.mark.parametrize(
    "label", ["nama", "Nama", "nm", "nama lengkap", "atas nama", "a.n.", "a/n", "name", "my name is", "saya", "sy"]
)
@pytest.mark.parametrize("separator", [": ", " = ", " - ", " "])
def test_name_label_spellings_and_separators(label, separator):
    """Every name label spelling is read; the name stops at the next label."""
    identity, _ = parse_identity_text(f"{label}{separator}Siti Aminah nik {NIK}")
    assert (identity.name, identity.nik) == ("Siti Aminah", NIK)


@pytest.mark.parametrize(
    "label", ["alamat", "ALAMAT", "almt", "alamat rumah", "tinggal di", "address", "beralamat di", "domisili"]
)
@pytest.mark.parametrize("separator", [": ", " = ", " - ", " "])
def test_address_label_spellings_and_separators(label, separator):
    """Every address label spelling is read; the address stops before the complaint."""
    identity, rest = parse_identity_text(f"Nama Siti Aminah {label}{separator}Jl. Pajajaran No. 10 lampu PJU mati")
    assert identity.address == "Jl. Pajajaran No. 10"
    assert rest == "lampu PJU mati"


@pytest.mark.parametrize(
    "label", ["telp", "tlp", "hp", "no hp", "No. HP", "wa", "WA", "whatsapp", "no wa", "telepon", "phone", "kontak"]
)
@pytest.mark.parametrize("separator", [": ", " = ", " - ", " "])
def test_phone_label_spellings_and_separators(label, separator):
    """Every phone label spelling is read into E.164 and stops after the number."""
    identity, _ = parse_identity_text(f"{label}{separator}0812-3456-7890 nik {NIK}")
    assert (identity.phone, identity.nik) == ("+6281234567890", NIK)


@pytest.mark.parametrize("label", ["email", "E-mail", "surel", "EMAIL"])
@pytest.mark.parametrize("separator", [": ", " = ", " "])
def test_email_label_spellings(label, separator):
    """E-mail labels in any case; the address is normalised."""
    identity, _ = parse_identity_text(f"{label}{separator}Siti@Mail.Example.ID nama Siti")
    assert (identity.email, identity.name) == ("Siti@mail.example.id", "Siti")


@pytest.mark.parametrize("label", ["Isi", "Keluhan", "Laporan", "Aduan", "Pengaduan", "Isi laporan"])
@pytest.mark.parametrize("separator", [": ", " = ", " - "])
def test_complaint_label_spellings(label, separator):
    """A complaint label is dropped from the complaint text."""
    identity, rest = parse_identity_text(f"NIK {NIK}\n{label}{separator}jalan berlubang di Jl. Juanda")
    assert identity == Identity(nik=NIK)
    assert rest == "jalan berlubang di Jl. Juanda"


# --------------------------------------------------------------------------- numbers


def test_unlabelled_nik_is_read_only_where_the_writer_speaks_of_themself():
    """An unlabelled valid NIK after "saya" is the writer's; it stays in the complaint text all the same."""
    identity, rest = parse_identity_text("saya Siti 3271.01.450890.0003, lampu mati di gang kami")
    assert identity.nik == NIK
    assert "3271.01.450890.0003" in rest


def test_unlabelled_nik_standing_in_the_complaint_is_left_alone():
    """A valid NIK in the middle of the complaint is not known to be the writer's (issue 13)."""
    text = "lampu mati di gang kami. 3271.01.450890.0003 terima kasih"
    assert parse_identity_text(text) == (Identity(), text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("transfer ke 3271994508900003 katanya", id="unknown-district"),
        pytest.param("transfer ke 3271013302900003 katanya", id="impossible-date"),
        pytest.param("no rekening 3271014508900003 milik siapa, dapat sms penipuan", id="called-something-else"),
    ],
)
def test_unlabelled_number_that_is_no_nik_is_left_alone(text):
    """An unlabelled 16-digit number with a bad region or date, or called an account, is no NIK."""
    identity, rest = parse_identity_text(text)
    assert identity == Identity()
    assert rest == text


def test_phone_and_nik_in_one_message():
    """Two numbers: the labelled phone and the NIK are each read into their own field."""
    identity, _ = parse_identity_text("wa sy 081377788899 nik 3271051006780039 nama Darto. jalan rusak")
    assert (identity.phone, identity.nik, identity.name) == ("+6281377788899", "3271051006780039", "Darto")


def test_house_number_is_not_read_as_anything():
    """A house number in the complaint is no phone and no NIK."""
    assert parse_identity_text("Pak, got di depan rumah nomor 12 meluap terus") == (
        Identity(),
        "Pak, got di depan rumah nomor 12 meluap terus",
    )


def test_signature_gives_name_and_phone():
    """Under an e-mail's closing line, the name line and a bare phone number are read."""
    identity, _ = parse_identity_text(
        "Selamat pagi,\nmohon got di Gg. Kenari dibersihkan.\n\nHormat saya,\nEuis Komariah\n0857-7788-9900"
    )
    assert (identity.name, identity.phone) == ("Euis Komariah", "+6285777889900")


# --------------------------------------------------------------------------- where it was read


def test_read_identity_says_where_each_value_stands():
    """Each field comes with its span in the text, so the console can show where it was read."""
    text = "Nik 3271014508900003 nama Siti Aminah alamat Jl Pajajaran 10 Bogor, got mampet"
    reading = read_identity(text)
    assert {name: text[read.start : read.end] for name, read in reading.fields.items()} == {
        "nik": "3271014508900003",
        "name": "Siti Aminah",
        "address": "Jl Pajajaran 10 Bogor",
    }


def test_read_identity_spans_in_lapor_format():
    """The LAPOR# form also says where each part stands."""
    text = "LAPOR # 3271014508900003 # Siti Aminah # Jl. Pajajaran 10 # lampu mati # tolong"
    reading = read_identity(text)
    assert {name: text[read.start : read.end] for name, read in reading.fields.items()} == {
        "nik": "3271014508900003",
        "name": "Siti Aminah",
        "address": "Jl. Pajajaran 10",
    }
    assert reading.complaint == "lampu mati # tolong"


# --------------------------------------------------------------------------- measured on the corpus


def test_corpus_is_large_and_keeps_a_held_out_part():
    """At least 200 messages, 50 or more of them held out, in every style the issue names."""
    held_out = [e for e in CORPUS if e.part == "heldout"]
    assert len(CORPUS) >= 200
    assert len(held_out) >= 50
    assert {"sms", "email", "tweet", "telegram", "chat", "lapor", "noid"} <= {e.style for e in CORPUS}


@pytest.mark.parametrize("example", [e for e in CORPUS if e.expected["nik"]], ids=lambda e: e.source)
def test_corpus_niks_are_valid(example):
    """Every NIK the corpus expects is a valid one (so a reader that checks NIKs can get it)."""
    assert validate_nik(example.expected["nik"], regions=REGIONS, today=date(2026, 1, 1)) is None


@pytest.mark.parametrize("part", ["tune", "heldout", None])
def test_field_accuracy_is_at_least_95_percent(part):
    """Of the fields the messages give, 95 % or more are read exactly right (each part and all)."""
    result = score(parse_identity_text, [e for e in CORPUS if part is None or e.part == part])
    assert result.total.accuracy >= 0.95, "\n".join(result.mistakes)
    for name, tally in result.by_field.items():
        assert tally.accuracy >= 0.90, f"{name}: {tally.right}/{tally.given}\n" + "\n".join(result.mistakes)


def test_nothing_is_invented_on_messages_without_identity():
    """On messages that give no identity, 99 % or more yield no field at all."""
    result = score(parse_identity_text, CORPUS)
    assert result.no_identity >= 50
    assert result.no_identity_precision >= 0.99, "\n".join(result.mistakes)


def test_values_read_are_right_at_least_99_percent():
    """Wrong reads are worse than missing ones: 99 % of the values returned are right."""
    result = score(parse_identity_text, CORPUS)
    assert result.total.precision >= 0.99, "\n".join(result.mistakes)


def test_complaint_text_survives():
    """The complaint phrase is still in the text left after the identity is taken out."""
    result = score(parse_identity_text, CORPUS)
    assert result.complaints_kept >= 0.95 * result.complaints, "\n".join(result.mistakes)
