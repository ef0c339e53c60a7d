"""The one contract every channel adapter follows.

Inbound is sans-I/O: ``verify`` and ``parse`` work on a :class:`RawRequest` (method, path,
query, headers, raw body bytes) and never touch a web framework object. Outbound,
``send`` delivers a :class:`OutboundReply` and raises :class:`SendError` saying whether a
retry can help.

An adapter plays one or more roles, each a protocol below: :class:`WebhookAdapter` (the
gateway mounts its path), :class:`PollingAdapter` (it fetches messages itself: IMAP, X,
Telegram long poll), :class:`ServerAdapter` (it listens on its own port: the SMTP intake),
:class:`OutboundAdapter` (it sends replies) and :class:`PushAdapter` (its sends need the
store's push tokens). ``channels/registry.py`` says which adapter plays which role.

Pollers and servers know messages, not cases: they get a :class:`PollContext` whose
callbacks (accept, keep unreadable input, cursors, health) the gateway implements with the
database, so nothing under ``channels/`` imports ``complaints/`` or ``workers/``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl

from normalizer.envelope import ComplaintEnvelope
from normalizer.envelope import Intake as Intake  # re-exported: the Intake adapters produce is part of this contract


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

    def media_type(self) -> str:
        """The ``Content-Type`` without its parameters, lower-cased ("" when there is none)."""
        return (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()

    def require_media_type(self, *allowed: str) -> None:
        """Raise :class:`UnsupportedMediaType` unless the ``Content-Type`` is one of ``allowed``.

        A provider always labels its body; any other label means the body is not what the
        adapter would read it as, so it is refused rather than guessed at.
        """
        if self.media_type() not in allowed:
            given = self.media_type() or "no Content-Type"
            raise UnsupportedMediaType(f"{given} is not accepted here; expected {' or '.join(allowed)}")

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


# part-hostile: "[[[[…" two thousand deep is valid JSON the parser cannot read (RecursionError):
# it was answered 500 and the provider retried it for ever.
def read_json(body: bytes) -> Any:
    """The JSON value in a webhook body. Raises :class:`BadRequest` for a body that is not UTF-8
    JSON, and for JSON nested deeper than the parser can go."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not JSON: {type(exc).__name__}: {str(exc)[:120]}") from None


class UnsupportedMediaType(ChannelError):
    """The body is labelled with a content type the provider never sends (answered 415)."""

    status = 415


class Unauthorized(ChannelError):
    """Missing or wrong signature/token (answered 401); nothing is stored."""

    status = 401


class Forbidden(ChannelError):
    """A valid credential that may not do this (answered 403)."""

    status = 403


# part-hostile: credentials with bytes that are not UTF-8 are a 401, not a crash.
def same_secret(given: str, expected: str) -> bool:
    """Compare a secret a client sent with ours in constant time, whatever bytes it holds.

    aiohttp decodes header bytes that are not UTF-8 into lone surrogates (``surrogateescape``),
    which ``str.encode()`` refuses; encoding them back the same way compares the bytes the
    client really sent, so a stray byte is a mismatch (401) instead of an exception (500).
    """
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


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


# -- roles -------------------------------------------------------------------------------------


@runtime_checkable
class WebhookAdapter(Protocol):
    """The inbound half of a webhook channel."""

    name: str
    """Provider name, also the last segment of its webhook path."""
    channel: str
    """The channel family replies go out on (``sms``, ``web``, ...)."""
    path: str | None
    """Webhook path, e.g. ``/channels/sms/kannel``; None when its settings switch the webhook off."""
    methods: tuple[str, ...]

    def verify(self, request: RawRequest) -> None:
        """Raise :class:`Unauthorized` when the request is not from the provider."""

    def parse(self, request: RawRequest) -> InboundResult:
        """Turn the request into intakes/delivery updates; raise :class:`BadRequest`."""

    def answer(self, request: RawRequest, tickets: list[str | None]) -> tuple[int, str, bytes]:
        """The HTTP answer (status, content type, body) once everything is accepted."""


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """What the gateway did with one intake or envelope a poller or server handed it."""

    inbox_id: str | None = None
    ticket: str | None = None
    duplicate: bool = False
    refused: str | None = None
    """Why it was not stored (the normalizer or the database refuses it as sent); the
    adapter may keep the raw input with :attr:`PollContext.keep_unreadable`."""


@dataclass(frozen=True, slots=True)
class PollerHealth:
    """How a poller is doing, for the operators (``GET /ops/status``)."""

    poller: str
    """Stable id of what is polled, e.g. ``imap:lapor@mail.example/INBOX``."""
    provider: str
    status: str
    """``connected``, ``error`` or ``stopped``."""
    error: str | None = None
    """What went wrong (no personal data, no secrets); recorded with its time."""
    polled: bool = False
    """True when a poll pass has just completed (records the last poll time)."""


class KeepUnreadable(Protocol):
    """Keeps input that cannot become an envelope, so it is reported and never lost or imported twice."""

    def __call__(self, *, channel: str, provider: str, external_id: str, reason: str, raw_ref: str) -> Awaitable[None]:
        """Record it (``raw_ref``: where the raw bytes are kept, e.g. their SHA-256 under DATA_DIR)."""


class ReplyTexts(Protocol):
    """The city's reply templates, rendered (the workers' renderer, handed to adapters that write
    a fixed phrase about a ticket themselves, such as X's public replies)."""

    def __call__(self, key: str, lang: str, *, channel: str, ticket: str, link: str = "") -> str:
        """Template ``key`` in ``lang`` for ``ticket`` (and ``link``, for templates that name one);
        raises KeyError for an unknown key."""


async def _no_report(health: PollerHealth) -> None:
    """Health reports are optional: a context without a store for them drops them."""


def _no_count(channel: str, outcome: str) -> None:
    """Counting is optional (part-instrument): a context without counters drops the count."""


@dataclass(frozen=True, slots=True)
class PollContext:
    """What the gateway hands a polling adapter (IMAP, X, Telegram long poll) or a server (SMTP).

    ``accept`` normalises intakes (envelopes pass as they are), durably accepts them (the same
    path as a webhook) and returns one :class:`AcceptResult` per item, in order;
    ``keep_unreadable`` keeps raw input that cannot be read; ``cursor_get``/``cursor_set``
    keep the adapter's position (since_id, update offset, IMAP UIDVALIDITY and UID) in the
    database; ``report`` records the poller's health for the operators; ``count_inbound``
    counts outcomes the gateway never sees (see :mod:`workers.activity`).
    """

    accept: Callable[[Sequence[Intake | ComplaintEnvelope]], Awaitable[list[AcceptResult]]]
    apply_updates: Callable[[list[DeliveryUpdate]], Awaitable[int]]
    cursor_get: Callable[[str], Awaitable[str | None]]
    cursor_set: Callable[[str, str], Awaitable[None]]
    stopping: asyncio.Event
    keep_unreadable: KeepUnreadable
    report: Callable[[PollerHealth], Awaitable[None]] = _no_report
    count_inbound: Callable[[str, str], None] = _no_count
    """Count an intake outcome the adapter decides itself (``channel``, ``outcome``: SMTP's refused
    recipients and oversized mail); accepted and unreadable input is counted by the gateway."""


@runtime_checkable
class PollingAdapter(Protocol):
    """An adapter that fetches messages itself instead of (or besides) receiving webhooks."""

    name: str

    def polling_enabled(self) -> bool:
        """True when the settings ask for polling (e.g. TELEGRAM_MODE=poll)."""

    async def poll(self, ctx: PollContext) -> None:
        """Fetch and accept messages until ``ctx.stopping`` is set; never raise for provider trouble."""


@runtime_checkable
class ServerAdapter(Protocol):
    """An adapter that listens on a port of its own (the SMTP intake) and accepts through a context."""

    name: str

    async def start(self, ctx: PollContext) -> str:
        """Start listening in the running loop; returns where (``host:port``), for the operator."""

    async def stop(self) -> None:
        """Stop listening; mail in flight is answered first."""


@runtime_checkable
class OutboundAdapter(Protocol):
    """The outbound half: delivers replies through the provider's API."""

    name: str
    idempotent_sends: bool
    """True when the provider drops a repeated send (a message id of ours): a send that timed out
    can be retried freely. False: its outcome is unknown, so it is retried once at most."""

    async def send(self, reply: OutboundReply) -> SendResult:
        """Send one reply; raise :class:`SendError`."""

    async def close(self) -> None:
        """Release connections."""


PushTokenLookup = Callable[[str], Awaitable[str | None]]
"""device id -> its live push token, or None (no token, or the push service said it is dead)."""
PushTokenKiller = Callable[[str, str], Awaitable[None]]
"""(device id, token) -> mark that token dead, unless the device has registered a new one since."""


@runtime_checkable
class PushAdapter(Protocol):
    """An outbound adapter whose sends look up device push tokens in the store (the Android app)."""

    name: str

    def bind_push_tokens(self, lookup: PushTokenLookup, killer: PushTokenKiller) -> None:
        """Give the adapter the store's token lookup and dead-token marker (in processes that send)."""
