"""Sans-I/O MIME layer of the e-mail channel: raw RFC 5322 bytes in, plain facts out.

:func:`parse_mail` reads any bytes a mailbox or an SMTP client hands us and never raises on
bad input except :class:`MailParseError` for something that is not a mail at all: what it
could not read is listed in ``problems``. :func:`mail_to_intake` turns the result into an
:class:`~normalizer.envelope.Intake`; :func:`reply_headers` and :func:`find_ticket` keep our
replies in the citizen's thread.

The parts live next door: ``decode.py`` (headers, charsets), ``body.py`` (HTML to text,
quotes and signatures), ``attachments.py`` (sniffing, filenames, limits), ``loops.py``
(RFC 3834 loop detection, RFC 3464 bounces), ``threads.py`` (reply headers, tickets).
"""

from __future__ import annotations

import dataclasses
import email
import email.parser
import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from channels.base import BadRequest
from channels.email.attachments import DEFAULT_ALLOWED_TYPES, ParsedAttachment, collect_attachments
from channels.email.body import html_to_text, strip_quotes, unflow
from channels.email.decode import (
    addresses,
    decode_bytes,
    decode_words,
    header_date,
    message_ids,
    one_line,
    part_bytes,
    part_disposition,
    part_filename,
    part_type,
    raw_header,
)
from channels.email.loops import AutoKind, DeliveryFailure, detect_auto, find_delivery_failure
from channels.email.threads import MAX_REFERENCES, find_ticket, reply_headers, reply_subject
from normalizer.envelope import Attachment, Bounce, Identity, Intake, ReplyRoute, Thread
from normalizer.text import clean_text

__all__ = [
    "DEFAULT_ALLOWED_TYPES",
    "AutoKind",
    "DeliveryFailure",
    "MailParseError",
    "ParsedAttachment",
    "ParsedMail",
    "find_ticket",
    "mail_to_intake",
    "parse_mail",
    "reply_headers",
    "reply_subject",
]

MAX_SUBJECT_CHARS = 500
MAX_TEXT_CHARS = 20_000
MAX_PART_CHARS = 1_000_000  # a text part beyond this is not a complaint; HTML conversion costs time
MAX_PARTS = 100
MAX_DEPTH = 20
MAX_MULTIPARTS = 200
MAX_BOUNDARY_LINES = 2000
MAX_PROBLEMS = 50


class MailParseError(BadRequest):
    """The input is not a mail at all (empty, or neither headers nor a body)."""


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What a mail says, as safe plain values: no header value contains CR, LF or other
    control characters."""

    message_id: str | None
    """Without ``<>``; None when missing or unusable."""
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    """RFC 2047 decoded, single line, at most 500 characters."""
    from_address: str | None
    """The bare address with the domain lower-cased; None when missing or invalid."""
    from_name: str | None
    reply_to: str | None
    to: tuple[str, ...]
    """Valid recipient addresses from To and Cc."""
    date: datetime | None
    """The sender's Date header, aware UTC (the sender's clock: not our receive time)."""
    text: str
    """The citizen's own words: best text part (or HTML as text), quotes and signatures removed."""
    attachments: tuple[ParsedAttachment, ...]
    rejected_attachments: tuple[tuple[str, str], ...]
    """(sanitised filename, reason) for each attachment not kept."""
    problems: tuple[str, ...]
    """Non-fatal problems noticed while reading (for the log and the operator)."""
    auto: AutoKind | None
    """Why this mail must get no automatic reply (RFC 3834), or None."""
    dsn: DeliveryFailure | None
    """For a bounce: which of our mails failed, and why."""
    raw_size: int


# --------------------------------------------------------------------------- body


class _Reader:
    """Reads a message's parts: which make up the body, their text, and the leaves."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        self.texts: dict[int, str] = {}

    def part_text(self, part: Message) -> str:
        """The decoded text of a text/plain or text/html part (HTML turned into text)."""
        key = id(part)
        if key not in self.texts:
            data = part_bytes(part, self.problems) or b""
            try:
                charset = part.get_content_charset()
            except Exception:  # noqa: BLE001 - untrusted input
                charset = None
            text, problem = decode_bytes(data, charset)
            ctype = part_type(part)
            if problem:
                self.problems.append(f"{ctype}: {problem}")
            if len(text) > MAX_PART_CHARS:
                self.problems.append(f"{ctype} part cut to {MAX_PART_CHARS} characters")
                text = text[:MAX_PART_CHARS]
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if ctype == "text/html":
                text = html_to_text(text)
            elif str(part.get_param("format") or "").lower() == "flowed":
                text = unflow(text, delsp=str(part.get_param("delsp") or "").lower() == "yes")
            self.texts[key] = text
        return self.texts[key]

    def body_parts(self, part: Message, depth: int = 0) -> list[Message]:
        """The parts that make up the readable body, in order."""
        if depth > MAX_DEPTH:
            self.problems.append("MIME nesting too deep")
            return []
        ctype = part_type(part)
        payload = part.get_payload()
        if ctype.startswith("message/"):
            return []
        if isinstance(payload, list):
            children = [p for p in payload if isinstance(p, Message)]
            if ctype == "multipart/alternative":
                return self._best_alternative([self.body_parts(c, depth + 1) for c in children])
            if ctype in ("multipart/related", "multipart/report", "multipart/signed"):
                children = children[:1]  # the root / the human-readable part / the signed content
            if ctype == "multipart/encrypted":
                self.problems.append("encrypted mail cannot be read")
                return []
            return [p for c in children for p in self.body_parts(c, depth + 1)]
        if ctype.startswith("multipart/"):
            return [part]  # no boundary found (the stdlib noted a defect): read it as plain text
        if ctype in ("text/plain", "text/html") and part_disposition(part) != "attachment" and not part_filename(part):
            return [part]
        return []

    def _best_alternative(self, options: list[list[Message]]) -> list[Message]:
        """Plain text when it says something, else HTML, else whatever there is."""
        for wanted in ("text/plain", "text/html"):
            for parts in options:
                if (
                    parts
                    and all(part_type(p) == wanted for p in parts)
                    and any(self.part_text(p).strip() for p in parts)
                ):
                    return parts
        return next((parts for parts in options if parts), [])

    def leaves(self, msg: Message) -> list[Message]:
        """Leaf parts (message/* counts as a leaf: we do not open attached mails)."""
        out: list[Message] = []
        stack: list[tuple[Message, int]] = [(msg, 0)]
        while stack:
            part, depth = stack.pop()
            if len(out) >= MAX_PARTS:
                self.problems.append(f"more than {MAX_PARTS} MIME parts; the rest ignored")
                break
            for defect in part.defects:
                self.problems.append(f"MIME defect: {type(defect).__name__}")
            payload = part.get_payload()
            if not isinstance(payload, list) or part_type(part).startswith("message/"):
                if part is not msg or not isinstance(payload, list):
                    out.append(part)
            elif depth < MAX_DEPTH:
                stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))
            else:
                self.problems.append("MIME nesting too deep")
        return out


# --------------------------------------------------------------------------- parse_mail


def _parse_bytes(raw: bytes, problems: list[str]) -> tuple[Message, bool]:
    """The stdlib parse and True; the headers alone and False when the structure is absurd.

    The stdlib parser's time grows with the number of parts and its recursion with their
    nesting, so a mail with thousands of parts (hostile, never a citizen's) is not parsed
    beyond its headers: its body is not read at all.
    """
    multiparts, boundaries = raw.lower().count(b"multipart/"), raw.count(b"\n--")
    if multiparts > MAX_MULTIPARTS or boundaries > MAX_BOUNDARY_LINES:
        problems.append(f"MIME structure too large ({multiparts} multiparts, {boundaries} boundaries); headers only")
    else:
        try:
            return email.message_from_bytes(raw, policy=email.policy.default), True
        except Exception:  # noqa: BLE001 - e.g. RecursionError on absurd nesting: keep the headers
            problems.append("MIME structure unreadable; headers only")
    try:
        return email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw), False
    except Exception as exc:  # noqa: BLE001 - not even headers: not a mail
        raise MailParseError(f"not a readable mail: {type(exc).__name__}") from exc


def _has_body(msg: Message) -> bool:
    try:
        payload = msg.get_payload()
    except Exception:  # noqa: BLE001 - untrusted input
        return False
    return bool(payload) and (isinstance(payload, list) or bool(str(payload).strip()))


def parse_mail(
    raw: bytes,
    *,
    max_attachment_bytes: int = 10 * 1024 * 1024,
    max_attachments: int = 10,
    allowed_types: frozenset[str] = DEFAULT_ALLOWED_TYPES,
) -> ParsedMail:
    """Read one mail as received (RFC 5322 bytes, any line endings).

    Never raises on malformed MIME, missing or oversized headers, 8-bit junk, unknown
    charsets or broken transfer encodings: what could not be read is listed in ``problems``.
    Raises :class:`MailParseError` only when ``raw`` is not a mail at all (empty, or with
    neither a header section nor a body).
    """
    data = bytes(raw)
    if not data.strip(b" \t\r\n\x00"):
        raise MailParseError("empty message")
    problems: list[str] = []
    msg, structure_read = _parse_bytes(data, problems)
    try:
        has_headers = any(True for _ in msg.raw_items())
    except Exception:  # noqa: BLE001 - untrusted input
        has_headers = False
    if not has_headers:
        if not _has_body(msg):
            raise MailParseError("neither headers nor a body")
        problems.append("no header section")

    subject = one_line(decode_words(raw_header(msg, "Subject", problems) or "", problems))
    if len(subject) > MAX_SUBJECT_CHARS:
        problems.append(f"Subject cut to {MAX_SUBJECT_CHARS} characters")
        subject = subject[:MAX_SUBJECT_CHARS].rstrip()
    senders = addresses(msg, "From", problems)
    if not senders:
        problems.append("no From address")
    elif len(senders) > 1:
        problems.append("several From addresses; the first is used")
    from_name, from_address = senders[0] if senders else ("", None)
    if senders and from_address is None:
        problems.append("From address invalid")
    reply_to = next((a for _, a in addresses(msg, "Reply-To", problems) if a), None)
    recipients: list[str] = []
    for header in ("To", "Cc"):
        for _, address in addresses(msg, header, problems):
            if address and address not in recipients:
                recipients.append(address)
    raw_id = raw_header(msg, "Message-ID", problems)
    message_id = next(iter(message_ids(raw_id)), None)
    if raw_id is not None and message_id is None:
        problems.append("Message-ID unusable")

    reader = _Reader(problems)
    try:
        body = reader.body_parts(msg) if structure_read else []
        joined = "\n\n".join(reader.part_text(p) for p in body)
    except Exception as exc:  # noqa: BLE001 - untrusted input: an unreadable body is a problem
        problems.append(f"body unreadable: {type(exc).__name__}")
        body, joined = [], ""
    if len(joined) > MAX_TEXT_CHARS:
        problems.append(f"text cut to {MAX_TEXT_CHARS} characters")
    full_text = clean_text(joined[: MAX_TEXT_CHARS * 2], max_len=MAX_TEXT_CHARS)
    text = strip_quotes(full_text)
    if full_text and not text:
        problems.append("only quoted text; no new text")
    try:
        attachments, rejected = collect_attachments(
            reader.leaves(msg) if structure_read else [],
            skip={id(p) for p in body},
            in_report=part_type(msg) == "multipart/report",
            max_bytes=max_attachment_bytes,
            max_count=max_attachments,
            allowed=allowed_types,
            problems=problems,
        )
    except Exception as exc:  # noqa: BLE001 - untrusted input
        problems.append(f"attachments unreadable: {type(exc).__name__}")
        attachments, rejected = (), ()

    auto = detect_auto(msg, from_address=from_address, reply_to=reply_to, subject=subject, problems=problems)
    dsn = find_delivery_failure(msg, problems) if auto == "bounce" else None
    return ParsedMail(
        message_id=message_id,
        in_reply_to=message_ids(raw_header(msg, "In-Reply-To", problems)),
        references=message_ids(raw_header(msg, "References", problems, keep="tail")),
        subject=subject,
        from_address=from_address,
        from_name=from_name or None,
        reply_to=reply_to,
        to=tuple(recipients[:50]),
        date=header_date(msg, problems),
        text=text,
        attachments=attachments,
        rejected_attachments=rejected,
        problems=tuple(dict.fromkeys(problems))[:MAX_PROBLEMS],
        auto=auto,
        dsn=dsn,
        raw_size=len(data),
    )


# --------------------------------------------------------------------------- intake


_ROLE_WORDS = frozenset(
    {
        "admin",
        "administrator",
        "info",
        "informasi",
        "noreply",
        "no-reply",
        "support",
        "team",
        "tim",
        "layanan",
        "service",
        "customer",
        "cs",
        "humas",
        "official",
        "redaksi",
        "newsletter",
        "notification",
        "notifikasi",
        "mailer",
        "daemon",
        "postmaster",
        "helpdesk",
        "office",
        "kantor",
        "pt",
        "cv",
    }
)


def _person_name(name: str | None) -> str | None:
    """``name`` when it reads like a person's name (letters, at most six words, no role words
    such as "Admin" or "Customer Service"), else None."""
    if not name or "@" in name or any(ch.isdigit() for ch in name) or len(name) > 80:
        return None
    words = name.replace(",", " ").split()
    if not words or len(words) > 6 or sum(ch.isalpha() for ch in name) < 2:
        return None
    if {w.strip(".'\"()").lower() for w in words} & _ROLE_WORDS:
        return None
    return name


def mail_to_intake(
    parsed: ParsedMail,
    *,
    mailbox: str,
    provider: str,
    external_id: str,
    saved: tuple[Attachment, ...],
    received_at: datetime | None = None,
) -> Intake:
    """The intake of one parsed mail; ``saved`` are its attachments already stored by hash.

    Replies go to Reply-To when it is a valid address, else to From. The text is the body,
    or the subject when the body is empty (a photo with "Lampu jalan mati" as subject). The
    identity carries the From address and, when it looks like a person's name, the display
    name; the normalizer adds labelled fields (NIK, Nama, Alamat...) from the text. An
    automatic mail is never taken for a status query (no "CEK" answer to a robot). A mail with
    no usable address gets an empty reply address: it is kept, but nobody can be answered.
    """
    address = parsed.reply_to or parsed.from_address or ""
    dsn = parsed.dsn
    # The record of what the mail said; workers read the typed thread/automatic/bounce fields.
    raw = {
        "subject": parsed.subject,
        "dsn": dataclasses.asdict(dsn) if dsn else None,
        "problems": list(parsed.problems),
        "rejected_attachments": [list(r) for r in parsed.rejected_attachments],
        "from_name": parsed.from_name,
        "reply_to": parsed.reply_to,
        "to": list(parsed.to),
        "date": parsed.date.isoformat() if parsed.date else None,
        "mailbox": mailbox,
        "raw_size": parsed.raw_size,
    }
    return Intake(
        channel="email",
        provider=provider,
        external_id=external_id,
        sender=parsed.from_address or address,
        text=parsed.text or parsed.subject,
        reply_route=ReplyRoute(channel="email", address=address, thread_ref=parsed.message_id, provider=provider),
        identity=Identity(email=parsed.from_address, name=_person_name(parsed.from_name)),
        subject=parsed.subject or None,
        attachments=saved,
        received_at=received_at,
        kind="complaint" if parsed.auto else None,
        thread=Thread(
            message_id=parsed.message_id,
            in_reply_to=parsed.in_reply_to,
            references=parsed.references[-MAX_REFERENCES:],
        ),
        automatic=parsed.auto,
        bounce=Bounce(dsn.original_message_id, action=dsn.action, status=dsn.status, diagnostic=dsn.diagnostic)
        if dsn
        else None,
        raw=raw,
    )
