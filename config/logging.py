"""Structured logging (structlog) with personal data masked before anything is written.

UU 27/2022 treats NIK, phone numbers, e-mail and home addresses as personal data: code should
not log them in the first place, and this last line of defence masks any that slip into a
log event anyway.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
_PHONE = re.compile(r"(?<![\w])(?:\+62|62|0)8\d{7,12}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_BOT_TOKEN = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")
# Keys whose values are personal data whatever they look like.
_SENSITIVE_KEYS = frozenset(
    {
        "nik",
        "name",
        "nama",
        "address",
        "alamat",
        "phone",
        "telp",
        "email",
        "password",
        "token",
        "auth_token",
        "sender",
        "to",
        "from",
    }
)


# Our own ids (inbox, reply, case: UUID4 hex) are not personal data, but about 1 in 500 holds
# 16 decimal digits in a row and would be masked as a NIK, breaking `grep <id>` (part-monitor).
_OUR_ID = re.compile(r"(?<![0-9A-Za-z])(?=[0-9]*[a-f])[0-9a-f]{32}(?![0-9A-Za-z])")


def mask(text: str) -> str:
    """Replace NIKs, Indonesian mobile numbers, e-mail addresses and bot tokens in ``text``.

    Our own 32-character hex ids are left as they are (see ``_OUR_ID``).
    """
    if _OUR_ID.search(text) is None:
        return _mask(text)
    pieces, start = [], 0
    for match in _OUR_ID.finditer(text):
        pieces += [_mask(text[start : match.start()]), match.group(0)]
        start = match.end()
    return "".join([*pieces, _mask(text[start:])])


def _mask(text: str) -> str:
    text = _BOT_TOKEN.sub("[TOKEN]", text)
    text = _NIK.sub("[NIK]", text)
    text = _EMAIL.sub("[EMAIL]", text)
    return _PHONE.sub("[PHONE]", text)


def redact_personal_data(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """structlog processor: mask sensitive keys and personal data inside string values."""
    for key, value in list(event.items()):
        if key in _SENSITIVE_KEYS and value is not None:
            event[key] = "[REDACTED]"
        elif isinstance(value, str):
            event[key] = mask(value)
    return event


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Route structlog and the standard library (aiohttp, dramatiq) through one redacting pipeline."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Render tracebacks to text first, so the masking below covers them too.
            structlog.processors.format_exc_info,
            redact_personal_data,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic narrates every plugin it loads at INFO; only its warnings are worth a line.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    # httpx logs every request URL at INFO, and Bot API URLs carry the Telegram bot token.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    # tweepy logs request bodies (DM texts) and tokens at DEBUG.
    logging.getLogger("tweepy").setLevel(max(logging.INFO, root.level))
