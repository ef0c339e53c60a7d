"""From raw RFC 5322 bytes to an envelope, shared by the IMAP poller and the SMTP server.

Blocking (parsing, hashing, writing files): call it from a thread. The raw mail is always
kept (content-addressed under ``DATA_DIR/mail``) so that a mail we cannot read is never lost
and an operator can look at it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import structlog

from channels.email.mime import MailParseError, ParsedMail, mail_to_intake, parse_mail
from channels.storage import store_bytes
from config.settings import Settings
from normalizer.envelope import Attachment, ComplaintEnvelope
from normalizer.normalize import InvalidIntake, build_envelope

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Ingested:
    """A mail turned into an envelope, or the reason it could not be."""

    external_id: str
    raw_sha256: str
    envelope: ComplaintEnvelope | None = None
    unreadable: str | None = None


def external_id_for(parsed: ParsedMail | None, raw_sha256: str) -> str:
    """Message-ID when present (survives a UIDVALIDITY reset and SMTP retries), else the bytes' hash."""
    if parsed is not None and parsed.message_id:
        return "email:" + hashlib.sha256(parsed.message_id.encode()).hexdigest()[:40]
    return "email-sha:" + raw_sha256[:40]


def thread_ref(parsed: ParsedMail) -> str:
    """What a reply needs to stay in the citizen's thread, as compact JSON."""
    return json.dumps(
        {"message_id": parsed.message_id, "references": list(parsed.references[-20:]), "subject": parsed.subject},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def ingest_mail(settings: Settings, raw: bytes, *, provider: str, mailbox: str) -> Ingested:
    """Parse, store the raw bytes and attachments, and build the envelope."""
    raw_sha = store_bytes(settings.data_dir / "mail", raw)
    try:
        parsed = parse_mail(raw, max_attachment_bytes=settings.max_attachment_bytes)
    except MailParseError as exc:
        log.warning("mail_unreadable", provider=provider, raw=raw_sha[:12], reason=str(exc))
        return Ingested(external_id=external_id_for(None, raw_sha), raw_sha256=raw_sha, unreadable=str(exc))
    saved = tuple(
        Attachment(
            sha256=store_bytes(settings.attachments_dir, att.data),
            size=len(att.data),
            content_type=att.content_type,
            filename=att.filename,
        )
        for att in parsed.attachments
    )
    external_id = external_id_for(parsed, raw_sha)
    try:
        intake = mail_to_intake(parsed, mailbox=mailbox, provider=provider, external_id=external_id, saved=saved)
        envelope = build_envelope(intake)
    except InvalidIntake as exc:
        # e.g. no usable From/Reply-To: nobody to answer, but the mail is kept for an operator.
        log.warning("mail_unreadable", provider=provider, raw=raw_sha[:12], reason=str(exc))
        return Ingested(external_id=external_id, raw_sha256=raw_sha, unreadable=str(exc))
    raw_info = dict(envelope.raw or {})
    raw_info["raw_sha256"] = raw_sha
    envelope = _with(envelope, raw=raw_info, thread=thread_ref(parsed))
    return Ingested(external_id=external_id, raw_sha256=raw_sha, envelope=envelope)


def _with(envelope: ComplaintEnvelope, *, raw: dict[str, object], thread: str) -> ComplaintEnvelope:
    from dataclasses import replace

    route = replace(envelope.reply_route, thread_ref=thread, provider="email")
    return replace(envelope, raw=raw, reply_route=route)
