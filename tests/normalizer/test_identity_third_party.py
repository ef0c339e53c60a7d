"""Issue 13 review: other people's data never becomes the reporter's, and stays in the complaint."""

from __future__ import annotations

import pytest

from normalizer.envelope import Identity, Intake, ReplyRoute
from normalizer.identity import parse_identity_text
from normalizer.normalize import build_envelope


@pytest.mark.parametrize(
    "text",
    [
        "NIK ibu saya 3271014505600003 tidak terdaftar bansos",
        "Nomor KK 3271012003150007 kami belum diperbarui di Disdukcapil",
        "No BPJS 3271010101900011 ditolak di puskesmas",
        "Tagihan PBB nomor 3271011506800004 salah nama pemilik",
        "Sertifikat tanah no 3271014107750012 belum jadi",
        "Tetangga saya NIK 3271015208700005 dapat bansos dobel",
        "NIK suami saya 3271011203850009 diblokir",
        "Pak RT nomor HP 081299988877 tidak mau tanda tangan",
        "Saya sudah kirim ke pengaduan@kotabogor.go.id tapi belum ada balasan",
    ],
)
def test_third_party_numbers_are_not_the_reporters_and_stay_in_the_text(text: str) -> None:
    """A relative's NIK, a KK/BPJS/PBB/certificate number, Pak RT's phone, the city's address: nothing read."""
    assert parse_identity_text(text) == (Identity(), text)


@pytest.mark.parametrize(
    "text",
    [
        "Saya Kecewa dengan pelayanan RSUD",
        "Atas nama keadilan, tolong tindak pungli",
        "Saya ingin tanya nama program bantuan",
        "papan nama hilang di taman",
        "Identitas pelapor dirahasiakan",
        "Jalan rusak.\nHormat saya,\nTTD",
        "Lampu mati.\nSalam,\nTolong segera ya",
        "Saya Mahasiswa IPB, mau tanya beasiswa",
        "Saya Warga Bogor",
        "Rumah di alamat Jl Sudirman 5 jadi sarang narkoba",
        "Tinggal di Bogor makin macet",
    ],
)
def test_ordinary_sentences_give_no_name_or_address(text: str) -> None:
    """Sentences that only look like "nama ...", "Saya X", a signature or "tinggal di" invent nothing."""
    assert parse_identity_text(text) == (Identity(), text)


def test_the_writers_own_labelled_nik_is_read_next_to_a_relatives() -> None:
    """The writer's "NIK saya" is read and removed; the wife's NIK stays in the complaint."""
    identity, rest = parse_identity_text("Saya Dedi, NIK saya 3271011203850009. NIK istri saya 3271015208700005 hilang")
    assert (identity.name, identity.nik) == ("Dedi", "3271011203850009")
    assert "3271015208700005" in rest and "3271011203850009" not in rest


def _email(text: str) -> Intake:
    return Intake(
        channel="email",
        provider="imap",
        external_id="<m1@example.com>",
        sender="siti@example.com",
        text=text,
        reply_route=ReplyRoute(channel="email", address="siti@example.com", provider="smtp"),
        identity=Identity(email="siti@example.com", name="Siti Rahma"),
    )


def test_an_address_in_the_text_does_not_replace_the_senders_email() -> None:
    """E-mail from siti@example.com naming the city's address: the reporter stays Siti, the text keeps the address."""
    env = build_envelope(_email("Saya sudah kirim ke pengaduan@kotabogor.go.id, belum dibalas.\n\nSalam,\nBudi"))
    assert (env.identity.email, env.identity.name) == ("siti@example.com", "Siti Rahma")
    assert "pengaduan@kotabogor.go.id" in env.text


def test_a_labelled_value_still_wins_over_the_provider() -> None:
    """What the writer labels as their own ("Nama: ...", "Email: ...") is taken over the sender's details."""
    env = build_envelope(_email("Nama: Siti Aminah\nEmail: siti.aminah@example.org\nIsi: got mampet"))
    assert (env.identity.name, env.identity.email) == ("Siti Aminah", "siti.aminah@example.org")
    assert env.text == "got mampet"


def test_sms_sender_number_is_kept_over_a_number_in_a_signature() -> None:
    """An SMS signed with another number: the sender's number stays the reporter's, the other stays in the text."""
    env = build_envelope(
        Intake(
            channel="sms",
            provider="kannel",
            external_id="k-1",
            sender="+6281234567890",
            text="Got mampet di Gg. Mawar.\nSalam,\n0857-7788-9900",
            reply_route=ReplyRoute(channel="sms", address="+6281234567890", provider="kannel"),
        )
    )
    assert env.identity.phone == "+6281234567890"
    assert "0857-7788-9900" in env.text
