"""The X channel adapter: mentions and DMs in (polling and/or the Account Activity webhook),
public ticket-only replies and private DMs out.

Every reply about a mention is two parts: a public reply threaded to the mention (ticket and a
fixed phrase only), then the DM with the whole text. How many parts went out is reported in
:class:`SendError` ``parts_sent`` and kept on the outbox row, so a retry by any worker sends
only what is missing.
"""

from __future__ import annotations

import asyncio
import json
import logging

import requests
import structlog
import tweepy

from channels.base import (
    BadRequest,
    InboundResult,
    OutboundReply,
    PollContext,
    RawRequest,
    ReplyTexts,
    SendError,
    SendResult,
    Unauthorized,
)
from channels.x.api import build_client, describe, is_duplicate_post, send_error
from channels.x.polling import XPoller
from channels.x.public import PublicPhrases
from channels.x.webhook import SIGNATURE_HEADER, crc_response_token, parse_account_activity, signature_matches
from config.settings import Settings

log = structlog.get_logger(__name__)

WEBHOOK_PATH = "/channels/x"


class XChannel:
    """X (Twitter) for one city account (X_USER_ID).

    Inbound: :meth:`poll` reads mentions and DMs every X_POLL_SECONDS (0 turns polling off);
    with X_WEBHOOK_ENABLED the Account Activity webhook at ``/channels/x`` answers CRC checks
    and accepts signed event POSTs. Both produce the same external ids, so overlaps are harmless.
    Outbound: :meth:`send` posts a public reply to every mention that carries only the ticket
    and a fixed phrase, and sends the full text by DM; a reply to a DM goes by DM only.
    """

    name = "x"
    idempotent_sends = False  # a repeated send may reach the citizen twice (README: send outcomes)
    channel = "x"

    def __init__(self, settings: Settings, *, texts: ReplyTexts | None = None) -> None:
        """``texts`` renders the public phrases (``x_public_*`` templates); without it nothing is
        said in public and every reply goes by DM only."""
        self.public = PublicPhrases(texts) if texts is not None else None
        self.own_user_id = (settings.x_user_id or "").strip()
        self.consumer_secret = settings.x_consumer_secret or ""
        self.poll_seconds = settings.x_poll_seconds
        self.configured = bool(
            self.own_user_id
            and settings.x_consumer_key
            and self.consumer_secret
            and settings.x_access_token
            and settings.x_access_token_secret
        )
        self.path: str | None = WEBHOOK_PATH if settings.x_webhook_enabled else None
        self.methods: tuple[str, ...] = ("GET", "POST") if self.path else ()
        self.client = build_client(
            bearer_token=settings.x_bearer_token,
            consumer_key=settings.x_consumer_key or "",
            consumer_secret=self.consumer_secret,
            access_token=settings.x_access_token or "",
            access_token_secret=settings.x_access_token_secret or "",
            api_base=settings.x_api_base,
            timeout=settings.send_timeout_seconds,
        )
        self.public_base_url = settings.public_base_url.rstrip("/")
        # tweepy logs every request and answer body at DEBUG: DM texts, NIKs, and for app-only
        # calls the bearer token. Keep it quiet even when the gateway runs with LOG_LEVEL=DEBUG.
        tweepy_log = logging.getLogger("tweepy")
        if tweepy_log.level < logging.INFO:
            tweepy_log.setLevel(logging.INFO)

    # -- polling -----------------------------------------------------------------------
    def polling_enabled(self) -> bool:
        """True when X is configured and X_POLL_SECONDS is above zero (also with the webhook on:
        polling then catches what a webhook delivery missed)."""
        return self.configured and self.poll_seconds > 0

    async def poll(self, ctx: PollContext) -> None:
        """Poll mentions and DMs until ``ctx.stopping`` is set."""
        await XPoller(self.client, self.own_user_id, self.poll_seconds).run(ctx)

    # -- webhook (Account Activity) ----------------------------------------------------------
    def verify(self, request: RawRequest) -> None:
        """Check ``x-twitter-webhooks-signature`` on POSTs (constant time).

        CRC GETs pass: their answer is itself an HMAC, and nothing is stored. Raises
        :class:`Unauthorized` when the header is missing or wrong, or no consumer secret is set.
        """
        if request.method == "GET":
            return
        if not self.consumer_secret:
            raise Unauthorized("X_CONSUMER_SECRET is not set; cannot check the signature")
        given = request.header(SIGNATURE_HEADER)
        if not given:
            raise Unauthorized(f"missing {SIGNATURE_HEADER}")
        if not signature_matches(self.consumer_secret, request.body, given):
            raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body")

    def parse(self, request: RawRequest) -> InboundResult:
        """A CRC GET carries nothing to accept; a POST carries mentions and DMs.

        Raises :class:`BadRequest` for a GET without ``crc_token`` or a malformed body.
        """
        if request.method == "GET":
            self._crc_answer(request)  # raises BadRequest for a missing or odd token
            return InboundResult(ignored="challenge-response check")
        request.require_media_type("application/json")
        return parse_account_activity(request.body, self.own_user_id)

    def answer(self, request: RawRequest, tickets: list[str | None]) -> tuple[int, str, bytes]:
        """The CRC ``response_token`` JSON for a GET; an empty 200 for an event POST."""
        if request.method == "GET":
            return 200, "application/json", self._crc_answer(request)
        return 200, "text/plain", b""

    def _crc_answer(self, request: RawRequest) -> bytes:
        token = request.query.get("crc_token")
        if not token:
            raise BadRequest("missing crc_token")
        return json.dumps({"response_token": crc_response_token(self.consumer_secret, token)}).encode()

    # -- outbound ----------------------------------------------------------------------
    async def send(self, reply: OutboundReply) -> SendResult:
        """Reply on X: in public only the ticket and a fixed phrase, in private the whole text.

        Every reply about a mention (``reply.thread_ref`` set) with a well-formed ticket first
        gets a public reply to that post (``create_tweet`` with ``in_reply_to_tweet_id``), built
        from ``reply.ticket`` and a fixed phrase, never from ``reply.text``: acknowledgements and
        status answers say so, anything else says "we sent you a DM; track it at <link>". Then
        ``reply.text`` goes by DM; a reply to a DM goes by DM only. A retry skips the public
        reply when ``reply.parts_sent`` says it went out. Returns the DM event id. Raises
        :class:`SendError`: retryable for 429, 5xx and network trouble, permanent for other
        refusals (e.g. a citizen who does not accept DMs from the city), with ``parts_sent``
        telling whether the public reply is out.
        """
        if not self.configured:
            raise SendError("X is not configured (X_USER_ID, X_CONSUMER_*, X_ACCESS_TOKEN*)", retryable=False)
        if not reply.address.isdigit():
            raise SendError(f"X reply address must be a user id, not {reply.address[:40]!r}", retryable=False)
        public_text = self.public_text(reply) if reply.thread_ref else None
        posted: str | None = None
        public_error: SendError | None = None
        if public_text and reply.parts_sent < 1:
            try:
                posted = await self._post_public_reply(reply, public_text)
            except SendError as exc:
                # A passing failure (X's post rate limit) must not hold back the DM, which carries
                # everything the public notice says; the notice is retried only if the DM fails too.
                public_error = exc
        parts_sent = 1 if public_text and public_error is None else 0
        try:
            dm_event_id = await self._send_dm(reply.address, reply.text)
        except SendError as exc:
            if public_error is not None:
                # Nothing went out: a retry can still post the notice (the DMs may be closed for good).
                raise SendError(
                    f"public reply not posted ({public_error}); {exc}",
                    retryable=True,
                    outcome_unknown=exc.outcome_unknown or public_error.outcome_unknown,
                    parts_sent=0,
                ) from None
            text = f"public reply {posted} posted; {exc}" if posted else str(exc)
            raise SendError(
                text, retryable=exc.retryable, outcome_unknown=exc.outcome_unknown, parts_sent=parts_sent
            ) from None
        if public_error is not None:
            log.warning("x_public_reply_skipped", reply=reply.id, error=str(public_error)[:300])
        return SendResult(provider_message_id=dm_event_id)

    def public_text(self, reply: OutboundReply) -> str | None:
        """The public reply to a mention: the kind's own phrase, or the DM notice with the
        tracking link; None without a well-formed ticket (or without the city's texts)."""
        if self.public is None:
            return None
        lang = reply.language or "id"
        # The link is to the public tracking page, which shows no personal data.
        tracking_base = f"{self.public_base_url}/lacak/"
        text = self.public.public_reply_text(reply.kind, reply.ticket, lang, tracking_base=tracking_base)
        if text is not None:
            return text
        return self.public.dm_notice(reply.ticket, lang, tracking_base=tracking_base)

    async def _post_public_reply(self, reply: OutboundReply, text: str) -> str:
        """Post ``text`` in reply to the citizen's post; returns the new post's id ("" if unknown).

        A refusal that a retry cannot fix (the post was deleted, replies are restricted) does
        not stop the DM, which carries everything the public reply would have said.
        """
        try:
            answer = await asyncio.to_thread(self.client.create_tweet, text=text, in_reply_to_tweet_id=reply.thread_ref)
        except requests.JSONDecodeError:
            return ""  # X created the post but its answer was unreadable: do not post it again
        except (tweepy.TweepyException, requests.RequestException, OSError) as exc:
            if is_duplicate_post(exc):
                log.info("x_public_reply_already_posted", reply=reply.id)
                return ""
            error = send_error(exc, "public reply")
            if error.retryable:
                raise error from None
            log.warning("x_public_reply_refused", reply=reply.id, error=describe(exc))
            return ""
        tweet_id = _created_id(answer, "id")
        log.info("x_public_reply_sent", reply=reply.id, tweet=tweet_id)
        return tweet_id

    async def _send_dm(self, participant_id: str, text: str) -> str:
        """Send a one-to-one DM (https://developer.x.com/en/docs/twitter-api/direct-messages/manage/api-reference/post-dm_conversations-with-participant_id-messages);
        returns its event id ("" if X's answer was unreadable)."""
        try:
            answer = await asyncio.to_thread(
                self.client.create_direct_message, participant_id=participant_id, text=text
            )
        except requests.JSONDecodeError:
            return ""  # sent, answer unreadable: a retry would send it twice
        except (requests.ReadTimeout, requests.exceptions.ChunkedEncodingError) as exc:
            # The DM request went out and no answer came: X has no idempotency key for DMs.
            error = send_error(exc, "direct message")
            raise SendError(f"{error} (may have arrived)", retryable=True, outcome_unknown=True) from None
        except (tweepy.TweepyException, requests.RequestException, OSError) as exc:
            raise send_error(exc, "direct message") from None
        return _created_id(answer, "dm_event_id")

    async def close(self) -> None:
        """Close the HTTP connections."""
        self.client.session.close()


def _created_id(answer: object, field: str) -> str:
    """The new object's id from X's ``201`` answer ``{"data": {...}}`` (older docs show the
    object without the ``data`` wrapper; both are read)."""
    if not isinstance(answer, dict):
        return ""
    data = answer.get("data")
    if not isinstance(data, dict):
        data = answer
    value = data.get(field)
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
