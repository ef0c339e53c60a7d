"""Replies by e-mail through the city's SMTP server (aiosmtplib), in the citizen's thread.

Every reply carries Message-ID, In-Reply-To, References and "Re: <subject> [<ticket>]" so
mail clients thread it and a citizen's answer finds its complaint again; and
``Auto-Submitted: auto-replied`` (RFC 3834) so other robots do not answer it.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, NamedTuple

import aiosmtplib

from channels.base import OutboundReply, SendError, SendResult
from channels.email.mime import reply_headers
from config.settings import Settings

STAFF_MAIL_SUBJECTS: dict[str, str] = {
    "opd_notice": "Disposisi pengaduan",
    # part-escalation: escalations of overdue steps and the OPDs' morning digest (complaints/escalation.py, digest.py).
    "escalation": "Eskalasi: pengaduan terlambat",
    "escalation_supervisor": "Eskalasi tingkat 2: pengaduan terlambat",
    "opd_digest": "Ringkasan harian pengaduan",
}
"""Mail to staff rather than to a citizen, by reply kind: its own subject (with the ticket, if any)."""


class EmailSender:
    """Outbound adapter of the e-mail channel (provider ``email``)."""

    name = "email"
    idempotent_sends = False  # a repeated send may reach the citizen twice (README: send outcomes)
    channel = "email"
    path = None  # inbound mail arrives through the IMAP poller or our SMTP server
    methods: tuple[str, ...] = ()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mail_from = settings.mail_from or ""
        self.domain = self.mail_from.rpartition("@")[2] or "localhost"

    def build_message(self, reply: OutboundReply) -> EmailMessage:
        """The reply as a MIME message (plain text, UTF-8), threaded to the citizen's mail."""
        thread = _thread(reply.thread_ref)
        headers = reply_headers(
            ticket=reply.ticket or "",
            original_subject=thread.subject,
            original_message_id=thread.message_id,
            original_references=thread.references,
            our_domain=self.domain,
            local_id=reply.id,  # the same Message-ID on every attempt: receivers and bounces match it
        )
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = reply.address
        message["Date"] = formatdate(localtime=False, usegmt=True)
        if reply.kind in STAFF_MAIL_SUBJECTS:
            # Not an answer to anyone's mail: a notice to an OPD (complaints.notify) gets its own
            # subject, and RFC 3834 calls it auto-generated rather than auto-replied.
            ticket = headers["Subject"].removeprefix("Re:").strip() if reply.ticket else ""
            headers["Subject"] = f"{STAFF_MAIL_SUBJECTS[reply.kind]} {ticket}".strip()
            headers["Auto-Submitted"] = "auto-generated"
        for name, value in headers.items():
            message[name] = value
        message.set_content(reply.text, charset="utf-8")
        return message

    async def send(self, reply: OutboundReply) -> SendResult:
        """Hand the reply to the SMTP server; 4xx and network errors are retryable, 5xx are not."""
        message = self.build_message(reply)
        s = self.settings
        smtp = _TrackingSMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_user or None,
            password=s.smtp_password or None,
            start_tls=s.smtp_starttls,
            timeout=s.send_timeout_seconds,
        )
        try:
            async with smtp:
                await smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise SendError(f"recipient refused: {codes}", retryable=all(400 <= c < 500 for c in codes)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendError(f"SMTP {exc.code}: {exc.message}"[:300], retryable=400 <= exc.code < 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Lost after DATA began (a time-out, a dropped connection): the server may have
            # taken the mail. SMTP has no idempotency key, so this is an unknown outcome.
            unknown = smtp.data_started
            text = f"{type(exc).__name__}: {exc}"[:300] + (" (after DATA: the mail may have gone)" if unknown else "")
            raise SendError(text, retryable=True, outcome_unknown=unknown) from exc
        return SendResult(provider_message_id=message["Message-ID"].strip("<>"))

    async def close(self) -> None:
        """Nothing held open: one SMTP connection per reply."""


class _TrackingSMTP(aiosmtplib.SMTP):
    """An SMTP client that remembers whether the DATA command was started."""

    data_started = False

    async def data(self, message: str | bytes, /, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        """Send DATA and the message, noting first that from here on the mail may arrive."""
        self.data_started = True
        return await super().data(message, **kwargs)


class _Thread(NamedTuple):
    """The citizen's mail a reply threads under (channels.email.ingest.thread_ref)."""

    subject: str = ""
    message_id: str | None = None
    references: tuple[str, ...] = ()


def _thread(thread_ref: str | None) -> _Thread:
    """Read ``thread_ref``: the JSON ingest wrote, or (older rows) a bare Message-ID.

    Each field is checked: a malformed one is dropped rather than written into a header
    (a string ``references`` would otherwise become one reference per character).
    """
    if not thread_ref:
        return _Thread()
    try:
        value = json.loads(thread_ref)
    except ValueError:
        return _Thread(message_id=thread_ref)
    if not isinstance(value, dict):
        return _Thread()
    subject, message_id, references = value.get("subject"), value.get("message_id"), value.get("references")
    return _Thread(
        subject=subject if isinstance(subject, str) else "",
        message_id=message_id if isinstance(message_id, str) and message_id else None,
        references=tuple(r for r in references if isinstance(r, str)) if isinstance(references, list) else (),
    )
