"""Reply rendering: templates per language, SMS variants that fit one GSM-7 SMS, field labels."""

from __future__ import annotations

import pytest

from complaints.replies import field_labels, render_reply
from normalizer.text import is_gsm7, sms_segments
from tests.support.city import shipped_city

CITY = shipped_city()
REPLIES = CITY.replies
TICKET = "BGR-7KQ2XMP"


def sms_cases():
    """Every SMS rendering the tests check: ack for every OPD, status for every status label (with
    the longest OPD name); identity_missing has its own builder (tests/complaints/test_identity_reply.py)."""
    opds = [opd.short_name for opd in CITY.opds.values()]
    longest_opd = max(opds, key=len)
    sop = CITY.sop
    for lang in ("id", "en"):
        for opd in opds:
            yield lang, "ack", {"ticket": TICKET, "opd": opd}
            yield lang, "disposed", {"ticket": TICKET, "opd": opd}  # an operator's disposition (part-actions)
        yield lang, "ack_triage", {"ticket": TICKET}
        for status in sop.statuses:
            yield lang, "status", {"ticket": TICKET, "status_label": sop.label(status, lang), "opd": longest_opd}
        yield lang, "status_unknown", {"ticket": TICKET}
        yield lang, "empty_complaint", {}


def full_sms_text(key: str, lang: str, params: dict) -> str:
    """The SMS form before any shortening."""
    template = REPLIES.languages[lang].templates[key]
    return template.get("sms", template["text"]).format(**params)


def assert_whole_words(short: str, full: str) -> None:
    """`short` is `full`, or a prefix of it cut between words and marked with "..."."""
    if short == full:
        return
    assert short.endswith("...")
    head = short.removesuffix("...")
    assert full.startswith(head)
    assert not full[len(head)].isalnum(), f"cut mid-word: {head[-10:]!r}|{full[len(head) :][:10]!r}"


@pytest.mark.parametrize("case", list(sms_cases()), ids=lambda c: f"{c[0]}-{c[1]}")
def test_sms_replies_fit_one_sms_and_end_on_a_whole_word(case):
    """Each SMS reply with ticket BGR-7KQ2XMP is one GSM-7 SMS and never ends mid-word."""
    lang, key, params = case
    text = render_reply(REPLIES, key, lang, channel="sms", **params)
    assert is_gsm7(text)
    assert len(text) <= 160 and sms_segments(text) == 1
    assert_whole_words(text, full_sms_text(key, lang, params))


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("id", "Pengaduan diterima. Tiket BGR-7KQ2XMP, diteruskan ke DLH. Cek status: kirim CEK BGR-7KQ2XMP"),
        ("en", "Complaint received. Ticket BGR-7KQ2XMP, forwarded to DLH. Check status: send CEK BGR-7KQ2XMP"),
    ],
)
def test_ack_sms(lang, expected):
    """The SMS acknowledgement names the ticket, the OPD and the CEK command."""
    assert render_reply(REPLIES, "ack", lang, channel="sms", ticket=TICKET, opd="DLH") == expected


def test_long_form_is_used_off_sms():
    """Email and other roomy channels get the long text, unshortened."""
    text = render_reply(REPLIES, "ack", "id", channel="email", ticket=TICKET, opd="Dinas Lingkungan Hidup")
    assert text.startswith("Terima kasih, pengaduan Anda sudah kami terima")
    assert "CEK BGR-7KQ2XMP" in text and "Dinas Lingkungan Hidup" in text


@pytest.mark.parametrize("lang", ["jv", "en-US", "", "../../etc"])
def test_language_falls_back_or_matches_base(lang):
    """Unknown languages get Indonesian; a regional tag uses its base language."""
    text = render_reply(REPLIES, "status_unknown", lang, channel="telegram", ticket=TICKET)
    expected = "Ticket" if lang == "en-US" else "Tiket"
    assert text.startswith(f"{expected} {TICKET}")


def test_answer_sms_is_gsm7_and_can_use_more_segments():
    """OPD answers lose typographic characters GSM-7 lacks; long answers may span segments."""
    answer = "Sudah “ditindaklanjuti” – lubang ditambal hari ini… " + "Terima kasih atas laporannya. " * 8
    one = render_reply(REPLIES, "answer", "id", channel="sms", ticket=TICKET, answer=answer)
    three = render_reply(REPLIES, "answer", "id", channel="sms", ticket=TICKET, answer=answer, sms_segments=3)
    assert one.startswith('BGR-7KQ2XMP: Sudah "ditindaklanjuti" - lubang ditambal hari ini...')
    assert is_gsm7(one) and sms_segments(one) == 1 and one.endswith("...")
    assert is_gsm7(three) and sms_segments(three) <= 3 and len(three) > 160


def test_missing_parameter_names_it():
    """Forgetting a placeholder's value fails loudly, naming the parameter."""
    with pytest.raises(KeyError, match="ticket"):
        render_reply(REPLIES, "ack", "id", channel="sms", opd="DLH")


def test_unknown_key():
    """An unknown template key is a KeyError."""
    with pytest.raises(KeyError, match="no reply template"):
        render_reply(REPLIES, "nope", "id", channel="sms")


@pytest.mark.parametrize(
    ("fields", "lang", "expected"),
    [
        ([("nik", "missing"), ("phone", "invalid")], "id", "NIK (belum diisi), No. Telp (tidak valid)"),
        ([("nik", "missing"), ("phone", "invalid")], "en", "NIK (missing), Phone (invalid)"),
        ([("nik", "birthdate")], "id", "NIK (tanggal lahir salah)"),
        ([("nik", "region")], "en", "NIK (unknown region code)"),
        ([("fax", "odd")], "id", "fax (odd)"),
        ([], "id", ""),
    ],
)
def test_field_labels(fields, lang, expected):
    """Identity problems read as labelled text in the reporter's language."""
    assert field_labels(REPLIES, fields, lang) == expected
