"""E-mail MIME layer: what a citizen's mail becomes, and what our replies carry.

Fixtures are raw RFC 5322 bytes (see fixtures/README.md); each test states what a citizen or
an operator would notice.
"""

from __future__ import annotations

import email
import email.policy
import json
import time
import unicodedata
from email.message import EmailMessage
from pathlib import Path

import pytest

from channels.base import BadRequest
from channels.email.attachments import sanitize_filename
from channels.email.body import html_to_text, strip_quotes, unflow
from channels.email.mime import (
    MailParseError,
    ParsedMail,
    find_ticket,
    mail_to_intake,
    parse_mail,
    reply_headers,
)
from normalizer.envelope import Attachment, Intake
from normalizer.normalize import build_envelope

FIXTURES = Path(__file__).parent / "fixtures"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.eml"))
OUR_ACK_ID = "3e9b0f6c2a7d4f1e8c5b9a0d1e2f3a4b@bogorkota.go.id"


def parsed(name: str, **limits: int) -> ParsedMail:
    return parse_mail((FIXTURES / name).read_bytes(), **limits)  # type: ignore[arg-type]


def header_values(mail: ParsedMail) -> list[str]:
    """Every single-line value parse_mail returns (everything but the body text)."""
    values = [mail.subject, *mail.in_reply_to, *mail.references, *mail.to, *mail.problems]
    values += [v for v in (mail.message_id, mail.from_address, mail.from_name, mail.reply_to) if v]
    values += [a.filename for a in mail.attachments] + [v for pair in mail.rejected_attachments for v in pair]
    if mail.dsn:
        values += [v for v in vars_of(mail.dsn) if isinstance(v, str)]
    return values


def intake_of(mail: ParsedMail) -> Intake:
    return mail_to_intake(mail, mailbox="INBOX", provider="imap", external_id="email:x", saved=())


def vars_of(obj: object) -> list[object]:
    return [getattr(obj, f) for f in obj.__dataclass_fields__]  # type: ignore[attr-defined]


def is_single_line(value: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs") for ch in value)


# --------------------------------------------------------------------------- every fixture


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_no_header_value_has_cr_lf_or_control_chars(name: str) -> None:
    """No value read from a mail can carry CR, LF or another control character into our replies."""
    mail = parsed(name)
    bad = [v for v in header_values(mail) if not is_single_line(v)]
    assert bad == []


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_parses_quickly_and_becomes_json_safe_intake(name: str) -> None:
    """Each fixture parses in well under a second and its intake's raw info is JSON."""
    raw = (FIXTURES / name).read_bytes()
    started = time.perf_counter()
    mail = parse_mail(raw)
    assert time.perf_counter() - started < 1.0
    assert mail.raw_size == len(raw)
    json.dumps(intake_of(mail).raw)


AUTO_CASES = [
    ("plain_utf8_labelled.eml", None),
    ("gmail_reply_quoted.eml", None),
    ("outlook_html_cp1252.eml", None),
    ("latin1_quoted_printable.eml", None),
    ("base64_body.eml", None),
    ("cjk_charsets.eml", None),
    ("photo_and_zip.eml", None),
    ("malformed_mime.eml", None),
    ("header_8bit_junk.eml", None),
    ("huge_subject.eml", None),
    ("crlf_injection_name.eml", None),
    ("ooo_auto_submitted.eml", "auto_submitted"),
    ("microsoft_oof.eml", "auto_reply"),
    ("dsn_bounce.eml", "bounce"),
    ("dsn_delayed_rfc822_headers.eml", "bounce"),
    ("mailing_list.eml", "mailing_list"),
    ("noreply_sender.eml", "noreply"),
]


@pytest.mark.parametrize(("name", "auto"), AUTO_CASES)
def test_automatic_mail_is_recognised(name: str, auto: str | None) -> None:
    """Out-of-office, bounces, lists and noreply senders are flagged (RFC 3834); people are not."""
    assert parsed(name).auto == auto


def test_auto_table_covers_every_fixture() -> None:
    """Every fixture has an expected loop verdict, so a new one cannot slip past the table."""
    assert sorted(n for n, _ in AUTO_CASES) == ALL_FIXTURES


# --------------------------------------------------------------------------- complaint text

TEXT_CASES = [
    (
        "plain_utf8_labelled.eml",
        ["NIK: 3271026504930002", "Nama: Siti Aminah", "Mohon segera diperbaiki – terima kasih."],
        ["Warga Baranangsiang", "-- "],
    ),
    (
        "gmail_reply_quoted.eml",
        ["Ini NIK saya: 3271026504930002", "Alamat: Jl. Pajajaran No. 12"],
        ["menulis:", "sudah kami terima", ">"],
    ),
    (
        "outlook_html_cp1252.eml",
        ["sejak Jum\u2019at", "\u201cjalan gelap\u201d", "lihat peta (https://maps.example.com/?q=-6.6045,106.7990)"],
        ["Original Message", "From:", "sudah kami terima", "MsoNormal", "font-family", "<", "&nbsp;"],
    ),
    ("latin1_quoted_printable.eml", ["Kafé Botani", "Jum\u2019at", "30°C"], ["=E9", "=B0"]),
    ("base64_body.eml", ["tidak diangkut 😷", "sampai ke sekolah."], ["Dikirim dari", "Yahoo"]),
    ("cjk_charsets.eml", ["茂物植物园的厕所很脏", "トイレに水がありません", "Plain ASCII"], ["\ufffd"]),
    ("malformed_mime.eml", ["Trotoar di Jl. Juanda rusak", "Mohon segera diperbaiki"], ["/9j/"]),
    ("header_8bit_junk.eml", ["café di sebelahnya"], ["\ufffd"]),
    ("noreply_sender.eml", ["Diskon 50%", "toko kami (https://promo.example.com/)"], ["<h1>", "<a"]),
    ("dsn_bounce.eml", ["could not", "User unknown"], ["Reporting-MTA"]),
]


@pytest.mark.parametrize(("name", "present", "absent"), TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_complaint_text_is_the_citizens_own_words(name: str, present: list[str], absent: list[str]) -> None:
    """The text keeps what the citizen wrote and loses quotes, signatures, markup and encodings."""
    text = parsed(name).text
    for fragment in present:
        assert fragment in text
    for fragment in absent:
        assert fragment not in text


def test_gmail_html_alternative_also_loses_the_quote() -> None:
    """Gmail's HTML version (blockquote + "Pada ... menulis:") gives the same reply as its plain text."""
    msg = email.message_from_bytes((FIXTURES / "gmail_reply_quoted.eml").read_bytes(), policy=email.policy.default)
    html_part = next(p for p in msg.walk() if p.get_content_type() == "text/html")
    text = strip_quotes(html_to_text(html_part.get_content()))
    assert text == "Ini NIK saya: 3271026504930002\nAlamat: Jl. Pajajaran No. 12, Bogor Timur"


HOSTILE_HTML = (
    b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><head><title>judul</title><style>body{display:none}</style>"
    b"<script>document.write('evil')</script></head><body><p>Got<b>ong</b>-gorong</p>"
    b"<!-- hidden comment --><img src=x onerror=alert(1)><iframe src='https://evil.example'>frame</iframe>"
    b"<p onclick='x()'>Klik <a href='javascript:alert(1)'>di sini</a> &amp; <a href='https://x.example/a'>peta</a>"
    b"</p><script>more()</script><noscript>ns</noscript></body></html>\r\n"
)


def test_html_mail_loses_scripts_styles_and_comments() -> None:
    """HTML-only mail becomes clean text: no script, style, comment, title or tag survives."""
    text = parse_mail(HOSTILE_HTML).text
    assert text == "Gotong-gorong\n\nKlik di sini & peta (https://x.example/a)"


STRIP_CASES = [
    ("bottom_posted", "On Mon, 7 Dec 2026 Lapor wrote:\n> our text\n\nmy answer", "my answer"),
    ("interleaved", "> question 1\nanswer 1\n>> question 2\n>\nanswer 2", "answer 1\nanswer 2"),
    ("greater_than_number_kept", "Banjir:\n>50 rumah terendam", None),
    (
        "wrapped_attribution",
        "NIK saya 3271026504930002\n\nOn Mon, Dec 7, 2026 at 10:00 AM Lapor Bogor <\n"
        "lapor@bogorkota.go.id> wrote:\n\n> x",
        "NIK saya 3271026504930002",
    ),
    (
        "outlook_header_block",
        "Sudah diperbaiki?\n\n________________________________\n"
        "From: Lapor <l@b.id>\nSent: Monday\nTo: x\nSubject: y\n\nold",
        "Sudah diperbaiki?",
    ),
    ("indonesian_outlook", "Balasan saya\n\n-----Pesan Asli-----\nDari: Lapor\nold text", "Balasan saya"),
    (
        "outlook_indonesian_headers",
        "Jalan masih rusak\n\nDari: Lapor <l@b.id>\nDikirim: Senin, 7 Desember 2026 10.00\nKepada: Budi\nold",
        "Jalan masih rusak",
    ),
    ("iphone", "Lampu mati\n\nSent from my iPhone", "Lampu mati"),
    ("android_id", "Lampu mati\n\nDikirim dari Samsung Galaxy saya", "Lampu mati"),
    ("signature", "Lampu mati\n-- \nBudi\n0812", "Lampu mati"),
    ("hyphen_list_kept", "Masalah:\n- jalan rusak\n- lampu mati\nTerima kasih,\nBudi", None),
    ("letter_headers_kept", "Dari: Budi\nTanggal: 7 Desember 2026\nKepada: Walikota\nPerihal: Banjir\n\nIsi", None),
    ("forward_kept", "---------- Forwarded message ---------\nFrom: Tetangga <t@x.id>\nDate: Mon\n\nBanjir", None),
    ("outlook_forward_kept", "-----Original Message-----\nFrom: T <t@x.id>\nSent: Mon\nTo: Lapor\n\nBanjir", None),
    ("menulis_in_prose_kept", "Pada hari Senin saya menulis:\nJalan rusak parah", None),
    ("only_quotes", "> everything\n> quoted", ""),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in STRIP_CASES], ids=[c[0] for c in STRIP_CASES])
def test_strip_quotes_removes_quotes_and_keeps_what_is_uncertain(text: str, expected: str | None) -> None:
    """Quoted replies and phone signatures go; lists, letters and forwards (no text above) stay."""
    assert strip_quotes(text) == (text if expected is None else expected)


def test_format_flowed_lines_are_joined() -> None:
    """format=flowed soft breaks (RFC 3676) are joined; quote depth and the signature line stay."""
    flowed = "Jalan ini \nrusak.\n> kutipan \n> lanjut\n-- \nBudi"
    assert unflow(flowed) == "Jalan ini rusak.\n> kutipan lanjut\n-- \nBudi"


# --------------------------------------------------------------------------- headers


def test_plain_mail_headers_are_read() -> None:
    """Sender, subject, ids and date come out decoded and bare."""
    mail = parsed("plain_utf8_labelled.eml")
    assert (mail.from_address, mail.from_name) == ("siti.aminah@example.com", "Siti Aminah")
    assert mail.subject == "Jalan berlubang di Jl. Pajajaran"
    assert mail.message_id == "8f1d2c3a-51e0-4c4b-9a51-0c2f7d9be401@example.com"
    assert mail.to == ("lapor@bogorkota.go.id",)
    assert mail.date is not None and mail.date.isoformat() == "2026-12-07T01:13:58+00:00"
    assert mail.problems == ()


def test_reply_threading_ids_are_read_without_brackets() -> None:
    """In-Reply-To and References name our acknowledgement's Message-ID, without <>."""
    mail = parsed("gmail_reply_quoted.eml")
    assert mail.in_reply_to == (OUR_ACK_ID,)
    assert mail.references == ("8f1d2c3a-51e0-4c4b-9a51-0c2f7d9be401@example.com", OUR_ACK_ID)
    assert find_ticket(mail.subject) == "BGR-7KQ2XMP"


ENCODING_CASES = [
    ("latin1_quoted_printable.eml", "Saluran air tersumbat di depan Kafé Botani", "José Ramos"),
    ("cjk_charsets.eml", "植物园厕所很脏", "Li Wei"),
    ("base64_body.eml", "Sampah tidak diangkut", "Rina Wulandari"),
    ("header_8bit_junk.eml", "Gorong-gorong tersumbat di depan café éÿ", "José Pérez"),
]


@pytest.mark.parametrize(("name", "subject", "from_name"), ENCODING_CASES, ids=[c[0] for c in ENCODING_CASES])
def test_encoded_and_8bit_headers_are_decoded(name: str, subject: str, from_name: str) -> None:
    """RFC 2047 words in any charset and raw 8-bit header bytes (UTF-8 or Latin-1) read as text."""
    mail = parsed(name)
    assert (mail.subject, mail.from_name) == (subject, from_name)


def test_8bit_junk_is_noted_as_a_problem() -> None:
    """Raw 8-bit header bytes and a body without charset are listed for the operator."""
    problems = parsed("header_8bit_junk.eml").problems
    assert "header Subject has raw 8-bit bytes" in problems
    assert any("stray bytes read as windows-1252" in p for p in problems)


def test_unknown_charset_is_read_and_noted() -> None:
    """A part in a charset Python does not know is still read, and the problem is listed."""
    assert "text/plain: unknown charset 'x-unknown-charset'" in parsed("cjk_charsets.eml").problems


def test_enormous_subject_is_cut_and_noted() -> None:
    """A 100 KB Subject is cut to 500 characters, quickly, and the cut is listed."""
    started = time.perf_counter()
    mail = parsed("huge_subject.eml")
    assert time.perf_counter() - started < 0.5
    assert len(mail.subject) <= 500 and mail.subject.startswith("Keluhan sampah menumpuk")
    assert any(p.startswith("header Subject too long") for p in mail.problems)
    assert mail.text == "Sampah menumpuk di Jl. Veteran."


def test_crlf_in_encoded_display_name_cannot_inject_headers() -> None:
    """ "Siti\\r\\nBcc: victim" in an encoded display name or subject comes out on one line."""
    mail = parsed("crlf_injection_name.eml")
    assert mail.from_name == "Siti Bcc: victim@example.com"
    assert mail.subject == "Lampu mati Bcc: victim@example.com"
    assert mail.from_address == "siti@example.com" and mail.reply_to == "siti.balas@example.com"
    headers = reply_headers(
        ticket="BGR-7KQ2XMP",
        original_subject=mail.subject,
        original_message_id=mail.message_id,
        original_references=mail.references,
        our_domain="bogorkota.go.id",
    )
    assert all("\r" not in v and "\n" not in v for v in headers.values())


# --------------------------------------------------------------------------- attachments


def test_photo_and_pdf_are_kept_archive_and_fake_photo_refused() -> None:
    """A JPEG and a PDF are kept (sniffed type, safe names); a zip and an .exe posing as a photo are refused."""
    mail = parsed("photo_and_zip.eml")
    kept = [(a.filename, a.content_type, a.declared_type) for a in mail.attachments]
    assert kept == [
        ("pohon tumbang Jul _ Sudirman.jpg", "image/jpeg", "image/jpeg"),
        ("surat pengantar.pdf", "application/pdf", "application/pdf"),
    ]
    assert mail.rejected_attachments == (
        ("bukti.zip", "archive not accepted"),
        ("foto2.jpg", "type not allowed (image/jpeg, content not recognised)"),
    )
    photo = mail.attachments[0]
    assert photo.size == 543 and len(photo.sha256) == 64


LIMIT_CASES = [
    ({"max_attachments": 1}, ("surat pengantar.pdf", "too many attachments (limit 1)")),
    ({"max_attachment_bytes": 200}, ("pohon tumbang Jul _ Sudirman.jpg", "too large (543 bytes, limit 200)")),
]


@pytest.mark.parametrize(("limits", "refusal"), LIMIT_CASES, ids=["count", "size"])
def test_attachment_limits_refuse_with_a_reason(limits: dict[str, int], refusal: tuple[str, str]) -> None:
    """Attachments beyond the count or size limit are refused with a reason the operator can read."""
    assert refusal in parsed("photo_and_zip.eml", **limits).rejected_attachments


def test_broken_base64_attachment_is_refused_not_fatal() -> None:
    """An attachment whose base64 cannot be decoded is refused; the text still arrives."""
    mail = parsed("malformed_mime.eml")
    assert mail.rejected_attachments == (("rusak.jpg", "undecodable"),)
    assert "MIME defect: CloseBoundaryNotFoundDefect" in mail.problems


FILENAME_CASES = [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\Budi\\foto.jpg", "foto.jpg"),
    ("=?UTF-8?B?Zm90byBqYWxhbi5qcGc=?=", "foto jalan.jpg"),
    ("foto\r\nContent-Type: evil.jpg", "foto Content-Type_ evil.jpg"),
    ("\u202egpj.exe", "gpj.exe"),
    ("照片.jpg", "_.jpg"),
    ("...", "attachment"),
    ("x" * 300 + ".jpg", "x" * 96 + ".jpg"),
]


@pytest.mark.parametrize(("raw_name", "safe"), FILENAME_CASES, ids=[f"name{i}" for i in range(len(FILENAME_CASES))])
def test_attachment_filenames_are_sanitised(raw_name: str, safe: str) -> None:
    """Path parts, encoded-words, control and bidi characters and non-ASCII never reach the stored name."""
    assert sanitize_filename(raw_name) == safe


def test_filename_gets_the_sniffed_type_extension() -> None:
    """A photo called "foto.exe" is stored as "foto.exe.jpg": the name cannot lie about the type."""
    assert sanitize_filename("foto.exe", "image/jpeg") == "foto.exe.jpg"


# --------------------------------------------------------------------------- bounces

DSN_CASES = [
    ("dsn_bounce.eml", OUR_ACK_ID, "failed", "5.1.1", "warga.salah@example.com"),
    (
        "dsn_delayed_rfc822_headers.eml",
        "5d0c7e1f9a3b4c2d8e6f0a1b2c3d4e5f@bogorkota.go.id",
        "delayed",
        "4.4.1",
        "warga.lambat@example.org",
    ),
]


@pytest.mark.parametrize(("name", "original", "action", "status", "recipient"), DSN_CASES, ids=["failed", "delayed"])
def test_bounce_names_our_message_and_the_reason(
    name: str, original: str, action: str, status: str, recipient: str
) -> None:
    """A delivery report names the Message-ID of our reply, the action, status and recipient."""
    dsn = parsed(name).dsn
    assert dsn is not None
    assert (dsn.original_message_id, dsn.action, dsn.status, dsn.recipient) == (original, action, status, recipient)


def test_bounce_diagnostic_is_readable_and_reaches_the_intake() -> None:
    """The diagnostic is unfolded without the "smtp;" prefix and travels in the intake's typed bounce."""
    mail = parsed("dsn_bounce.eml")
    assert mail.dsn is not None
    assert mail.dsn.diagnostic == "550 5.1.1 <warga.salah@example.com>: Recipient address rejected: User unknown"
    intake = intake_of(mail)
    assert intake.bounce is not None and intake.automatic == "bounce"
    assert intake.bounce.original_message_id == OUR_ACK_ID and intake.bounce.diagnostic == mail.dsn.diagnostic


def test_plain_text_bounce_with_returned_mail_counts_as_failed() -> None:
    """An old-style bounce (no delivery-status part) that returns our mail still marks it failed."""
    raw = (
        b"From: MAILER-DAEMON@old.example.net\r\nSubject: failure notice\r\nContent-Type: multipart/mixed; "
        b'boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSorry, no mailbox here.\r\n--b\r\n'
        b"Content-Type: message/rfc822\r\n\r\nMessage-ID: <" + OUR_ACK_ID.encode() + b">\r\nSubject: Re: x\r\n\r\n"
        b"body\r\n--b--\r\n"
    )
    mail = parse_mail(raw)
    assert mail.auto == "bounce" and mail.dsn is not None
    assert (mail.dsn.original_message_id, mail.dsn.action) == (OUR_ACK_ID, "failed")


LOOP_HEADER_CASES = [
    ("Return-Path: <>", "bounce"),
    ("Auto-Submitted: auto-generated", "auto_submitted"),
    ("Auto-Submitted: no", None),
    ("X-Autoreply: yes", "auto_reply"),
    ("X-Auto-Response-Suppress: DR, RN, NRN", None),
    ("X-Auto-Response-Suppress: OOF, AutoReply", "auto_reply"),
    ("Precedence: bulk", "mailing_list"),
    ("Precedence: junk", "mailing_list"),
    ("List-Unsubscribe: <mailto:u@example.com>", "mailing_list"),
    ("Subject: Balasan otomatis: Laporan", "auto_reply"),
    ("Subject: Out of Office: Laporan", "auto_reply"),
    ("Subject: Auto: Laporan", "auto_reply"),
    ("Reply-To: donotreply@example.com", "noreply"),
]


@pytest.mark.parametrize(("header", "auto"), LOOP_HEADER_CASES, ids=[c[0] for c in LOOP_HEADER_CASES])
def test_each_loop_signal_is_recognised(header: str, auto: str | None) -> None:
    """Each RFC 3834 / Microsoft / list signal on its own decides whether we may auto-reply."""
    raw = f"From: Budi <budi@example.com>\r\n{header}\r\nMessage-ID: <a@b.c>\r\n\r\nJalan rusak.\r\n".encode()
    assert parse_mail(raw).auto == auto


# --------------------------------------------------------------------------- malformed input

HOSTILE_INPUTS = {
    "body_only": b"Jalan rusak di depan rumah saya.",
    "binary_garbage": bytes(range(256)) * 40,
    "header_without_colon": b"From budi@example.com\r\nthis is not a header\r\n\r\nbody",
    "unknown_transfer_encoding": b"From: a@example.com\r\nContent-Transfer-Encoding: x-rot13\r\n\r\nWnynu ehfnx",
    "zlib_charset": b"From: a@example.com\r\nContent-Type: text/plain; charset=zlib\r\n\r\nx\x9c\x03\x00",
    "bad_date": b"From: a@example.com\r\nDate: Tomorrow, 99 Foo 99999 25:61:61 +9999\r\n\r\nx",
    "message_id_with_crlf": b"From: a@example.com\r\nMessage-ID: <a\r\n b@c>\r\nIn-Reply-To: junk <\x01@x>\r\n\r\nx",
    "multipart_without_boundary": b"From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhi\r\n",
    "deep_nesting": b"From: a@example.com\r\n"
    + b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(400))
    + b"Content-Type: text/plain\r\n\r\ndeep\r\n",
    "many_parts": b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
    + b"--z\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=a.png\r\n\r\nx\r\n" * 500
    + b"--z--\r\n",
    "address_garbage": b'From: "unterminated <<@@>>, ,;:\r\nTo: ,,,@,<>\r\nReply-To: =?x?q?=00?= <>\r\n\r\nx',
    "encoded_word_bad_base64": b"From: a@example.com\r\nSubject: =?utf-8?B?!!!?= =?utf-8?q?ok?=\r\n\r\nx",
    "rfc2231_broken": b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n"
    b"Content-Type: image/jpeg\r\nContent-Disposition: attachment; filename*0*=x-bad''%ZZ; filename*1=y\r\n\r\n"
    b"\xff\xd8\xff\xe0\r\n--q--\r\n",
}


@pytest.mark.parametrize("raw", HOSTILE_INPUTS.values(), ids=HOSTILE_INPUTS.keys())
def test_hostile_input_never_raises(raw: bytes) -> None:
    """Malformed MIME, junk headers and absurd structures give a result with problems, not a crash."""
    started = time.perf_counter()
    mail = parse_mail(raw)
    assert time.perf_counter() - started < 2.0
    assert all(is_single_line(v) for v in header_values(mail))
    assert len(mail.attachments) <= 10


def test_body_only_input_is_read_and_flagged() -> None:
    """Bytes with no header section still give their text, with "no header section" noted."""
    mail = parse_mail(HOSTILE_INPUTS["body_only"])
    assert mail.text == "Jalan rusak di depan rumah saya."
    assert "no header section" in mail.problems and mail.from_address is None


def test_absurd_mime_structure_is_not_parsed_beyond_headers() -> None:
    """A mail with 100,000 parts is read for its headers only, in well under a second."""
    raw = (
        b"From: a@example.com\r\nSubject: banyak\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
        + b"--z\r\nContent-Type: image/png\r\n\r\nx\r\n" * 100_000
        + b"--z--\r\n"
    )
    started = time.perf_counter()
    mail = parse_mail(raw)
    assert time.perf_counter() - started < 1.0
    assert (mail.subject, mail.from_address, mail.text, mail.attachments) == ("banyak", "a@example.com", "", ())
    assert any(p.startswith("MIME structure too large") for p in mail.problems)


def test_multipart_without_boundary_is_read_as_text() -> None:
    """A multipart that names no boundary still gives its words, with the defect noted."""
    mail = parse_mail(HOSTILE_INPUTS["multipart_without_boundary"])
    assert "hi" in mail.text and mail.rejected_attachments == ()
    assert "MIME defect: NoBoundaryInMultipartDefect" in mail.problems


@pytest.mark.parametrize("raw", [b"", b"   ", b"\r\n\r\n", b"\x00\x00"], ids=["empty", "spaces", "blank", "nul"])
def test_not_a_mail_raises_mail_parse_error(raw: bytes) -> None:
    """Only input that is no mail at all raises, and as a BadRequest the channel can answer."""
    with pytest.raises(MailParseError):
        parse_mail(raw)
    assert issubclass(MailParseError, BadRequest)


# --------------------------------------------------------------------------- intake


def test_labelled_mail_becomes_an_envelope_with_identity() -> None:
    """The normalizer finds NIK, address and phone in the body; e-mail and name come from From."""
    mail = parsed("plain_utf8_labelled.eml")
    saved = (Attachment(sha256="0" * 64, size=1, content_type="image/jpeg", filename="a.jpg"),)
    intake = mail_to_intake(mail, mailbox="INBOX", provider="imap", external_id="email:abc", saved=saved)
    envelope = build_envelope(intake)
    assert envelope.channel == "email" and envelope.external_id == "email:abc"
    assert envelope.identity.nik == "3271026504930002"
    assert envelope.identity.name == "Siti Aminah"
    assert envelope.identity.email == "siti.aminah@example.com"
    assert envelope.identity.phone == "+6281234567890"
    assert envelope.subject == "Jalan berlubang di Jl. Pajajaran"
    assert envelope.reply_route.address == "siti.aminah@example.com"
    assert envelope.reply_route.thread_ref == mail.message_id
    assert envelope.attachments == saved
    assert "Jalan di depan rumah kami berlubang" in envelope.text


def test_replies_go_to_a_valid_reply_to() -> None:
    """A valid Reply-To is where answers go; the sender stays the From address."""
    intake = intake_of(parsed("crlf_injection_name.eml"))
    assert intake.reply_route.address == "siti.balas@example.com"
    assert intake.sender == "siti@example.com"
    assert intake.identity.name is None  # "Siti Bcc: victim@example.com" is not a person's name


NAME_CASES = [("Siti Aminah", "Siti Aminah"), ("Customer Service", None), ("Admin Kelurahan", None), ("0812345", None)]


@pytest.mark.parametrize(("display", "identity_name"), NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_display_name_is_an_identity_name_only_when_it_looks_like_one(display: str, identity_name: str | None) -> None:
    """Role names ("Customer Service") and numbers are not taken as the reporter's name."""
    raw = f"From: {display} <x@example.com>\r\nSubject: s\r\n\r\nJalan rusak\r\n".encode()
    assert intake_of(parse_mail(raw)).identity.name == identity_name


def test_empty_body_uses_the_subject_as_text() -> None:
    """A photo sent with only a subject still has text: the subject."""
    raw = b"From: a@example.com\r\nSubject: Lampu jalan mati di Jl. Lodaya\r\n\r\n\r\n"
    assert intake_of(parse_mail(raw)).text == "Lampu jalan mati di Jl. Lodaya"


def test_automatic_mail_is_never_a_status_query() -> None:
    """An auto-reply that starts with "CEK" is not answered as a status request."""
    raw = b"From: a@example.com\r\nAuto-Submitted: auto-replied\r\nSubject: x\r\n\r\nCEK BGR-7KQ2XMP\r\n"
    intake = intake_of(parse_mail(raw))
    assert intake.kind == "complaint"
    assert build_envelope(intake).kind == "complaint"


def test_follow_up_keeps_thread_ids_in_the_typed_thread() -> None:
    """A citizen's reply carries In-Reply-To/References in the intake's thread, where the follow-up matcher looks."""
    intake = intake_of(parsed("gmail_reply_quoted.eml"))
    assert intake.thread.in_reply_to == (OUR_ACK_ID,) and OUR_ACK_ID in intake.thread.references
    assert intake.automatic is None and intake.bounce is None
    raw = intake.raw or {}
    assert raw["subject"] == "Re: Laporan diterima [BGR-7KQ2XMP]" and "text" not in raw


# --------------------------------------------------------------------------- reply headers

SUBJECT_CASES = [
    ("Jalan berlubang", "Re: Jalan berlubang [BGR-7KQ2XMP]"),
    ("Re: Jalan berlubang", "Re: Jalan berlubang [BGR-7KQ2XMP]"),
    ("RE: Fwd: Bls: Re[2]: Jalan", "Re: Jalan [BGR-7KQ2XMP]"),
    ("Re: Laporan diterima [BGR-7KQ2XMP]", "Re: Laporan diterima [BGR-7KQ2XMP]"),
    ("Laporan bgr-7kq2xmp lanjutan", "Re: Laporan lanjutan [BGR-7KQ2XMP]"),
    ("", "Re: [BGR-7KQ2XMP]"),
    ("Lampu\r\nBcc: victim@example.com", "Re: Lampu Bcc: victim@example.com [BGR-7KQ2XMP]"),
]


@pytest.mark.parametrize(("original", "subject"), SUBJECT_CASES, ids=[f"subject{i}" for i in range(len(SUBJECT_CASES))])
def test_reply_subject_has_the_ticket_once(original: str, subject: str) -> None:
    """Our subject is "Re: <theirs without Re:/Fwd:/Bls:> [ticket]", ticket never doubled, one line."""
    headers = reply_headers(
        ticket="BGR-7KQ2XMP",
        original_subject=original,
        original_message_id=None,
        original_references=(),
        our_domain="bogorkota.go.id",
    )
    assert headers["Subject"] == subject


def test_reply_headers_thread_and_stop_robots() -> None:
    """Message-ID is new in our domain; In-Reply-To/References point at the citizen's mail; RFC 3834 headers set."""
    headers = reply_headers(
        ticket="BGR-7KQ2XMP",
        original_subject="Jalan",
        original_message_id="orig@example.com",
        original_references=("first@example.com", "orig@example.com"),
        our_domain="BogorKota.go.id",
    )
    assert headers["Message-ID"].startswith("<") and headers["Message-ID"].endswith("@bogorkota.go.id>")
    assert headers["In-Reply-To"] == "<orig@example.com>"
    assert headers["References"] == "<first@example.com> <orig@example.com>"
    assert headers["Auto-Submitted"] == "auto-replied"
    assert headers["X-Auto-Response-Suppress"] == "All"


def test_reply_references_are_capped_sanitised_and_fold_safely() -> None:
    """At most 20 references, unsafe ids dropped, and the header folds into short lines when sent."""
    refs = tuple(f"id{i}.{'x' * 40}@example.com" for i in range(60)) + ("bad\r\nBcc: v@x>", "sp ace@x")
    headers = reply_headers(
        ticket="",
        original_subject="Jalan",
        original_message_id="<orig@example.com>\r\n",
        original_references=refs,
        our_domain="bogorkota.go.id\r\nBcc: x",
    )
    ids = headers["References"].split(" ")
    assert len(ids) == 20 and ids[-1] == "<orig@example.com>" and ids[0] == "<id41." + "x" * 40 + "@example.com>"
    assert headers["Subject"] == "Re: Jalan"
    assert all(is_single_line(v) for v in headers.values())
    message = EmailMessage()
    for name, value in headers.items():
        message[name] = value
    message.set_content("ok")
    wire = message.as_bytes()
    assert max(len(line) for line in wire.split(b"\r\n" if b"\r\n" in wire else b"\n")) <= 998
    again = email.message_from_bytes(wire, policy=email.policy.default)
    assert again["References"].split() == ids


TICKET_CASES = [
    ("Re: Laporan diterima [BGR-7KQ2XMP]", "BGR-7KQ2XMP"),
    ("Re: laporan bgr-7kq2xmp", "BGR-7KQ2XMP"),
    ("Re: [ BGR 7KQ2XMP ]", "BGR-7KQ2XMP"),
    ("BGR-0000000 and [BGR-7KQ2XMP]", "BGR-7KQ2XMP"),
    ("XBGR-7KQ2XMPY", None),
    ("Jalan berlubang", None),
    ("", None),
]


@pytest.mark.parametrize(("subject", "ticket"), TICKET_CASES, ids=[f"ticket{i}" for i in range(len(TICKET_CASES))])
def test_find_ticket_in_subject(subject: str, ticket: str | None) -> None:
    """A ticket in brackets or bare is found in canonical form; lookalikes are not."""
    assert find_ticket(subject) == ticket
