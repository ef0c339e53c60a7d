"""Our own SMTP server for cities that point their MX at us (aiosmtpd).

- RCPT for a domain outside ``SMTP_INTAKE_DOMAINS`` gets 550; more than
  ``SMTP_INTAKE_MAX_RECIPIENTS`` recipients 452 (the client sends the rest later).
- A message over ``SMTP_INTAKE_MAX_BYTES`` gets 552 (aiosmtpd's ``data_size_limit``).
- 250 is answered only after the mail is durably accepted. Any failure on our side answers
  451 so the sending server keeps the mail and retries: aiosmtpd would turn an exception
  into a permanent 500, bouncing a citizen's complaint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.exc import DataError, IntegrityError

from channels.email.ingest import ingest_mail
from complaints import store
from config.settings import Settings
from normalizer.envelope import ComplaintEnvelope

log = structlog.get_logger(__name__)


class IntakeHandler:
    """aiosmtpd handler: RCPT policy and durable accept on DATA."""

    def __init__(
        self,
        settings: Settings,
        runtime: Any,
        accept: Callable[[list[ComplaintEnvelope]], Awaitable[list[store.AcceptOutcome]]],
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.accept = accept
        self.domains = settings.intake_domains

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept recipients in our domains only."""
        domain = address.rpartition("@")[2].strip().lower().rstrip(">")
        if domain not in self.domains:
            return f"550 5.7.1 Relaying denied: we accept mail for {', '.join(sorted(self.domains))} only"
        if len(envelope.rcpt_tos) >= self.settings.smtp_intake_max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        """Store the mail durably, then answer 250; 451 on any failure of ours."""
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        # Like a delivery agent, record the envelope sender: a null sender ("<>") marks a bounce.
        mail_from = "".join(ch for ch in (envelope.mail_from or "") if ch >= " ")
        raw = f"Return-Path: <{mail_from.strip('<>')}>\r\n".encode() + raw
        try:
            mailbox = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
            result = await asyncio.to_thread(ingest_mail, self.settings, raw, provider="smtp", mailbox=mailbox)
            if result.envelope is None:
                await asyncio.to_thread(
                    store.keep_unreadable,
                    self.runtime.sf,
                    channel="email",
                    provider="smtp",
                    external_id=result.external_id,
                    reason=result.unreadable or "unreadable",
                    raw_ref=result.raw_sha256,
                )
                log.warning("smtp_unreadable_kept", raw=result.raw_sha256[:12])
                return "250 2.0.0 OK: kept for review"
            try:
                outcome = (await self.accept([result.envelope]))[0]
            except (DataError, IntegrityError):
                # The database refuses this very mail: a retry would fail the same way for days.
                await asyncio.to_thread(
                    store.keep_unreadable,
                    self.runtime.sf,
                    channel="email",
                    provider="smtp",
                    external_id=result.external_id,
                    reason="refused by the database",
                    raw_ref=result.raw_sha256,
                )
                return "250 2.0.0 OK: kept for review"
        except Exception as exc:  # noqa: BLE001 - never a permanent 500 for our own trouble
            log.error("smtp_accept_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return "451 4.3.0 Temporary failure storing the message, please retry later"
        log.info("smtp_accepted", inbox=outcome.inbox_id, duplicate=outcome.duplicate)
        return f"250 2.0.0 OK: queued as {outcome.inbox_id}"


async def start_smtp_server(settings: Settings, runtime: Any, acceptor: Any) -> asyncio.AbstractServer:
    """Listen on ``SMTP_INTAKE_HOST:SMTP_INTAKE_PORT`` in the running loop."""
    handler = IntakeHandler(settings, runtime, acceptor.accept)
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=settings.smtp_intake_max_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=sorted(settings.intake_domains)[0] if settings.intake_domains else None,
            ident="intake-gateway",
        )

    server = await loop.create_server(factory, host=settings.smtp_intake_host, port=settings.smtp_intake_port)
    log.info("smtp_listening", host=settings.smtp_intake_host, port=settings.smtp_intake_port)
    return server
