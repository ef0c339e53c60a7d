"""Our own SMTP server for cities that point their MX at us (aiosmtpd).

- RCPT for a domain outside ``SMTP_INTAKE_DOMAINS`` gets 550; more than
  ``SMTP_INTAKE_MAX_RECIPIENTS`` recipients 452 (the client sends the rest later).
- A message over ``SMTP_INTAKE_MAX_BYTES`` gets 552 (aiosmtpd's ``data_size_limit``).
- 250 is answered only after the mail is durably accepted. Any failure on our side answers
  451 so the sending server keeps the mail and retries: aiosmtpd would turn an exception
  into a permanent 500, bouncing a citizen's complaint.
- It is a server adapter (:class:`SmtpIntake`): mail goes to the ``accept`` and
  ``keep_unreadable`` callbacks of the gateway's :class:`PollContext`, the same ones every
  polling adapter gets. A mail that cannot be read, or that the store refuses as sent, is kept
  for review and answered 250, since a retry would fail the same way.
"""

from __future__ import annotations

import asyncio
from typing import AnyStr

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.base import KeepUnreadable, PollContext
from channels.email.ingest import ingest_mail
from config.settings import Settings

log = structlog.get_logger(__name__)

PROVIDER = "smtp"


class IntakeHandler:
    """aiosmtpd handler: RCPT policy and durable accept on DATA, through the gateway's callbacks."""

    def __init__(self, settings: Settings, ctx: PollContext) -> None:
        self.settings = settings
        self.accept = ctx.accept
        self.keep_unreadable: KeepUnreadable = ctx.keep_unreadable
        self.count_inbound = ctx.count_inbound
        self.domains = settings.intake_domains

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept recipients in our domains only."""
        domain = address.rpartition("@")[2].strip().lower().rstrip(">")
        if domain not in self.domains:
            self.count_inbound("email", "refused")
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
            result = await asyncio.to_thread(ingest_mail, self.settings, raw, provider=PROVIDER, mailbox=mailbox)
            if result.envelope is None:
                await self.keep_unreadable(
                    channel="email",
                    provider=PROVIDER,
                    external_id=result.external_id,
                    reason=result.unreadable or "unreadable",
                    raw_ref=result.raw_sha256,
                )
                log.warning("smtp_unreadable_kept", raw=result.raw_sha256[:12])
                return "250 2.0.0 OK: kept for review"
            outcome = (await self.accept([result.envelope]))[0]
            if outcome.refused:
                # The store refuses this very mail: a retry would fail the same way for days.
                await self.keep_unreadable(
                    channel="email",
                    provider=PROVIDER,
                    external_id=result.external_id,
                    reason=outcome.refused,
                    raw_ref=result.raw_sha256,
                )
                return "250 2.0.0 OK: kept for review"
        except Exception as exc:  # noqa: BLE001 - never a permanent 500 for our own trouble
            log.error("smtp_accept_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return "451 4.3.0 Temporary failure storing the message, please retry later"
        log.info("smtp_accepted", inbox=outcome.inbox_id, duplicate=outcome.duplicate)
        return f"250 2.0.0 OK: queued as {outcome.inbox_id}"


class _CountingSMTP(SMTP):
    """aiosmtpd's server, counting the mail it refuses as too large itself (552, before our handler sees it)."""

    async def push(self, status: AnyStr) -> None:
        """Send a reply line; a 552 is a mail over SMTP_INTAKE_MAX_BYTES, counted as ``too_large``."""
        line = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        if line.startswith("552"):
            handler = self.event_handler
            if isinstance(handler, IntakeHandler):
                handler.count_inbound("email", "too_large")
        await super().push(status)


async def start_smtp_server(settings: Settings, ctx: PollContext) -> asyncio.AbstractServer:
    """Listen on ``SMTP_INTAKE_HOST:SMTP_INTAKE_PORT`` in the running loop."""
    handler = IntakeHandler(settings, ctx)
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return _CountingSMTP(
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


class SmtpIntake:
    """The server adapter of our own SMTP intake (``SMTP_INTAKE_*`` settings)."""

    name = "smtp_intake"
    channel = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server: asyncio.AbstractServer | None = None

    async def start(self, ctx: PollContext) -> str:
        """Listen in the running loop; returns ``host:port`` and the domains served."""
        self.server = await start_smtp_server(self.settings, ctx)
        s = self.settings
        return f"{s.smtp_intake_host}:{s.smtp_intake_port} for {s.smtp_intake_domains}"

    async def stop(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
