"""The one contract every channel adapter follows.

Inbound is sans-I/O: ``verify`` and ``parse`` work on a :class:`RawRequest` (method, path,
query, headers, raw body bytes) and never touch a web framework object. Outbound,
``send`` delivers a :class:`OutboundReply` and raises :class:`SendError` saying whether a
retry can help.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

from normalizer.envelope import Intake


@dataclass(frozen=True, slots=True)
class RawRequest:
    """An HTTP request as plain data, so adapters stay independent of the server."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    url: str = ""
    """The full public URL the provider called (signatures are computed over it)."""
    query_string: str = ""
    """The raw, still percent-encoded query (some providers put binary text in it)."""

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return None

    def form(self) -> dict[str, str]:
        """Decode an ``application/x-www-form-urlencoded`` body (last value wins).

        Raises :class:`BadRequest` when the body is not valid UTF-8 form data.
        """
        try:
            text = self.body.decode("utf-8")
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"body is not form data: {exc}") from exc


@dataclass(frozen=True, slots=True)
class InboundResult:
    """What ``parse`` found: intakes to accept, and events (delivery reports) to apply."""

    intakes: list[Intake] = field(default_factory=list)
    delivery_updates: list[DeliveryUpdate] = field(default_factory=list)
    ignored: str | None = None
    """Why a well-formed request carried nothing to do (logged, answered 200)."""


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """A provider's report on a reply we sent: ``reply_id`` or ``provider_message_id`` names it."""

    status: str  # "sent" | "delivered" | "failed"
    reply_id: str | None = None
    provider_message_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundReply:
    """One reply to send: the outbox row as plain data."""

    id: str
    channel: str
    provider: str | None
    address: str
    text: str
    thread_ref: str | None = None
    ticket: str | None = None
    """The complaint's ticket, for channels that show it outside the text (e-mail subject)."""
    language: str | None = None
    """The case's language (id/en), for text an adapter writes itself (X's public reply)."""
    kind: str | None = None
    """What the reply is (ack, status, identity_missing, answer...): public channels such as X
    send only the short, non-personal kinds in public and the rest privately."""
    parts_sent: int = 0
    """Parts of this reply delivered by earlier attempts (kept on the outbox row): an adapter that
    sends a reply in several parts resumes after them, whichever worker retries."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """Provider's acknowledgement of a sent reply."""

    provider_message_id: str | None = None


class ChannelError(Exception):
    """Base class of adapter errors; ``status`` is the HTTP answer to give the provider."""

    status = 400


class BadRequest(ChannelError):
    """The payload is malformed; the message says why (answered 400)."""

    status = 400


class Unauthorized(ChannelError):
    """Missing or wrong signature/token (answered 401); nothing is stored."""

    status = 401


class Forbidden(ChannelError):
    """A valid credential that may not do this (answered 403)."""

    status = 403


class SendError(Exception):
    """Sending a reply failed; ``retryable`` says whether trying again can help.

    ``outcome_unknown`` means the request may have reached the provider (a time-out after it was
    sent) and the provider offers no way to make a retry harmless: the worker allows one more
    try at most, then shows the reply as ``unknown``. An adapter whose retries are idempotent
    (its own message id, a status look-up) raises a plain retryable error instead.
    ``parts_sent`` reports how many parts of a multi-part reply were delivered before the
    failure (None: unchanged); ``provider_message_id`` the id of the first part, if one went out.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        outcome_unknown: bool = False,
        parts_sent: int | None = None,
        provider_message_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.outcome_unknown = outcome_unknown
        self.parts_sent = parts_sent
        self.provider_message_id = provider_message_id


class InboundAdapter(Protocol):
    """The inbound half of a webhook channel."""

    name: str
    """Provider name, also the last segment of its webhook path."""
    channel: str
    """The channel family replies go out on (``sms``, ``web``, ...)."""
    path: str
    """Webhook path, e.g. ``/channels/sms/kannel``."""
    methods: tuple[str, ...]

    def verify(self, request: RawRequest) -> None:
        """Raise :class:`Unauthorized` when the request is not from the provider."""

    def parse(self, request: RawRequest) -> InboundResult:
        """Turn the request into intakes/delivery updates; raise :class:`BadRequest`."""

    def answer(self, request: RawRequest, tickets: list[str | None]) -> tuple[int, str, bytes]:
        """The HTTP answer (status, content type, body) once everything is accepted."""


@dataclass(frozen=True, slots=True)
class PollContext:
    """What the gateway hands a polling adapter (X mentions, Telegram long poll).

    ``accept`` normalises and durably accepts intakes (the same path as a webhook) and
    returns one outcome per intake, each with ``.duplicate``; ``cursor_get``/``cursor_set``
    keep the adapter's position (since_id, update offset) in the database.
    """

    accept: Callable[[list[Intake]], Awaitable[list[Any]]]
    apply_updates: Callable[[list[DeliveryUpdate]], Awaitable[int]]
    cursor_get: Callable[[str], Awaitable[str | None]]
    cursor_set: Callable[[str, str], Awaitable[None]]
    stopping: asyncio.Event


class PollingAdapter(Protocol):
    """An adapter that fetches messages itself instead of (or besides) receiving webhooks."""

    name: str

    def polling_enabled(self) -> bool:
        """True when the settings ask for polling (e.g. TELEGRAM_MODE=poll)."""

    async def poll(self, ctx: PollContext) -> None:
        """Fetch and accept messages until ``ctx.stopping`` is set; never raise for provider trouble."""


class OutboundAdapter(Protocol):
    """The outbound half: delivers replies through the provider's API."""

    name: str

    async def send(self, reply: OutboundReply) -> SendResult:
        """Send one reply; raise :class:`SendError`."""

    async def close(self) -> None:
        """Release connections."""
