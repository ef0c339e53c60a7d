"""A corpus of malformed and hostile mail, built in code (issue 12, part "hostile").

Each :class:`HostileMail` is the raw bytes a mailbox or an SMTP client would hand us and the
outcome it must get: ``"stored"`` (a complaint's inbox row, with cleaned text), ``"kept"`` (kept
as unreadable for an operator, never lost) or an SMTP refusal code (``552`` over the size limit).
The hand-made fixtures of ``tests/channels/email/fixtures`` that are broken on purpose join the
generated ones. Bytes are generated rather than committed where they are large (a compression
bomb, a header bomb) or must be exact (bytes that are not UTF-8).
"""

from __future__ import annotations

import base64
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "channels" / "email" / "fixtures"
MAILBOX = "lapor@bogorkota.go.id"
BODY = "Jalan berlubang di Jl. Pajajaran, mohon diperbaiki."


@dataclass(frozen=True)
class HostileMail:
    """One corpus entry: a name, the raw message, and its defined outcome."""

    name: str
    raw: bytes
    outcome: str
    """``stored``, ``kept`` (unreadable, kept for review) or ``smtp 552`` (refused by our SMTP server only)."""
    sender: str = ""
    """The address the mail comes from, when it has one (its replies go there)."""
    smtp_outcome: str = ""
    """Where our SMTP server answers otherwise than the mailbox path: ``smtp <code>``."""


def _head(sender: str, subject: bytes, extra: bytes = b"") -> bytes:
    return (
        b"From: Warga <" + sender.encode() + b">\r\nTo: " + MAILBOX.encode() + b"\r\nSubject: " + subject + b"\r\n"
        b"Date: Sun, 6 Dec 2026 09:00:00 +0700\r\nMessage-ID: <" + sender.encode() + b".hostile@example.org>\r\n"
        b"MIME-Version: 1.0\r\n" + extra
    )


def _attachment(boundary: bytes, filename: bytes, ctype: bytes, data: bytes) -> bytes:
    return (
        b"--" + boundary + b"\r\nContent-Type: " + ctype + b"\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="'
        + filename
        + b'"\r\n\r\n'
        + base64.encodebytes(data).replace(b"\n", b"\r\n")
    )


def _multipart(sender: str, subject: bytes, parts: list[bytes], boundary: bytes = b"b0undary") -> bytes:
    text = b"--" + boundary + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + BODY.encode() + b"\r\n"
    return (
        _head(sender, subject, b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n')
        + b"\r\n"
        + text
        + b"".join(parts)
        + b"--"
        + boundary
        + b"--\r\n"
    )


def zip_bomb(size: int = 64 * 1024 * 1024) -> bytes:
    """A small zip holding ``size`` bytes of zeros inside a second zip (a compression bomb)."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w") as handle:
            chunk = bytes(1024 * 1024)
            for _ in range(size // len(chunk)):
                handle.write(chunk)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("foto-jalan.zip", inner.getvalue())
    return outer.getvalue()


def _nested(sender: str, depth: int) -> bytes:
    opening, closing = b"", b""
    for level in range(depth):
        boundary = b"n%d" % level
        opening += b"--" + boundary + b'\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (level + 1)
        closing = b"--" + boundary + b"--\r\n" + closing
    innermost = b"--n%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--n%d--\r\n" % (
        depth,
        BODY.encode(),
        depth,
    )
    return (
        _head(sender, b"bersarang", b'Content-Type: multipart/mixed; boundary="n0"\r\n')
        + b"\r\n"
        + (opening + innermost + closing)
    )


def _plain(sender: str, subject: bytes, ctype: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return _head(sender, subject, extra + b"Content-Type: " + ctype + b"\r\n") + b"\r\n" + body + b"\r\n"


def corpus() -> list[HostileMail]:
    """Every hostile mail, each from its own sender (``hNN@example.org``)."""
    entries: list[tuple[str, str, object, str]] = []

    def add(name: str, outcome: str, build: object, smtp: str = "") -> None:
        entries.append((name, outcome, build, smtp))

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    add(
        "broken boundaries",
        "stored",
        lambda s: (
            _head(s, b"batas rusak", b'Content-Type: multipart/mixed; boundary="never-used"\r\n')
            + b"\r\n--other\r\nContent-Type: text/plain\r\n\r\n"
            + BODY.encode()
            + b"\r\n--other"
        ),
    )
    add(
        "unknown charset",
        "stored",
        lambda s: _plain(s, b"charset aneh", b"text/plain; charset=x-klingon-8", BODY.encode("latin-1")),
    )
    add(
        "wrong charset (Latin-1 bytes declared UTF-8)",
        "stored",
        lambda s: _plain(
            s, b"charset salah", b"text/plain; charset=utf-8", "Jalan rusak di depan Caf\xe9 \xb1".encode("latin-1")
        ),
    )
    add(
        "UTF-7 charset hiding markup",
        "stored",
        lambda s: _plain(
            s, b"utf7", b"text/plain; charset=utf-7", b"+ADw-script+AD4-alert(1)+ADw-/script+AD4- " + BODY.encode()
        ),
    )
    add(
        "8-bit and control bytes in headers",
        "stored",
        lambda s: _plain(
            s,
            b"Jalan \xe9\xff rusak \x00\x07",
            b"text/plain",
            BODY.encode(),
            extra=b"X-Junk: \x01\x02\xff\xfe\r\nComments: =?utf-8?b?7aCA?= lone surrogate\r\n",
        ),
    )
    add(
        "NUL bytes and a lone surrogate in the body",
        "stored",
        lambda s: _plain(
            s, b"nul", b"text/plain; charset=utf-8", b"Jalan\x00 rusak \xed\xa0\x80 parah. " + BODY.encode()
        ),
    )
    add(
        "huge header (200 KB subject on one line)",
        "stored",
        lambda s: _plain(s, b"rusak " + b"x" * 200_000, b"text/plain", BODY.encode()),
        # RFC 5321 4.5.3.1.6: a line over 1,000 octets; aiosmtpd refuses it, the sender bounces it with that text.
        smtp="smtp 500",
    )
    add(
        "header bomb (20,000 header lines)",
        "stored",
        lambda s: _plain(
            s,
            b"banyak header",
            b"text/plain",
            BODY.encode(),
            extra=b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)),
        ),
    )
    add("deep nesting (300 multipart levels)", "stored", lambda s: _nested(s, 300))
    add(
        "zip bomb attachment (64 MiB of zeros, zipped twice)",
        "stored",
        lambda s: _multipart(s, b"zip", [_attachment(b"b0undary", b"foto.zip", b"application/zip", zip_bomb())]),
    )
    add(
        "path-traversal attachment names",
        "stored",
        lambda s: _multipart(
            s,
            b"lampiran",
            [
                _attachment(b"b0undary", b"../../../../etc/passwd.png", b"image/png", png),
                _attachment(b"b0undary", b"..\\\\..\\\\windows\\\\system32\\\\evil.png", b"image/png", png),
                _attachment(b"b0undary", b"/var/spool/cron/root.png", b"image/png", png),
                _attachment(b"b0undary", b"=?utf-8?q?=2E=2E=2F=2E=2E=2Fx=00.png?=", b"image/png", png),
            ],
        ),
    )
    add("no headers at all", "kept", lambda s: b"\r\n\r\n")
    add(
        "invalid base64 body",
        "stored",
        lambda s: _plain(
            s,
            b"b64",
            b"text/plain; charset=utf-8",
            b"!!!not*base64@@@" + BODY.encode(),
            extra=b"Content-Transfer-Encoding: base64\r\n",
        ),
    )
    mails = []
    for number, (name, outcome, build, smtp) in enumerate(entries, start=1):
        sender = f"h{number:02d}@example.org"
        raw = build(sender)  # type: ignore[operator]
        mails.append(HostileMail(name, raw, outcome, sender=sender if outcome == "stored" else "", smtp_outcome=smtp))
    for fixture in ("malformed_mime.eml", "header_8bit_junk.eml", "huge_subject.eml", "crlf_injection_name.eml"):
        mails.append(HostileMail(name=f"fixture {fixture}", raw=(FIXTURES / fixture).read_bytes(), outcome="stored"))
    return mails
