"""Twilio Programmable Messaging: inbound SMS webhook, status callbacks, outbound via the REST API.

Inbound: Twilio POSTs ``application/x-www-form-urlencoded`` parameters (``MessageSid``,
``AccountSid``, ``From``, ``To``, ``Body``, ``NumMedia``, ``MediaUrl{N}``,
``MediaContentType{N}``, ...) to ``/channels/sms/twilio``
(https://www.twilio.com/docs/messaging/guides/webhook-request). We answer with empty TwiML so
Twilio sends nothing itself; the reply goes out later through the Messages resource.

Every request carries ``X-Twilio-Signature``: HMAC-SHA1 (base64) over the full public URL
Twilio called followed by the sorted POST parameters, keyed with the account Auth Token
(https://www.twilio.com/docs/usage/webhooks/webhooks-security). We check it with the
``twilio`` package's own ``RequestValidator`` rather than re-implementing it, as Twilio asks.

Status callbacks (https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks)
come back to the same path with our ``reply`` id in the query: :meth:`TwilioSms.send` builds
that ``StatusCallback`` URL, so the signature covers the reply id too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from multidict import MultiDict
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from channels.base import (
    BadRequest,
    DeliveryUpdate,
    Forbidden,
    InboundResult,
    OutboundReply,
    RawRequest,
    SendError,
    SendResult,
    Unauthorized,
)
from channels.http_send import classify_status, json_field, post_or_get
from config.settings import Settings
from normalizer.envelope import Intake, ReplyRoute

# Message status values (https://www.twilio.com/docs/messaging/api/message-resource#message-status-values)
# folded into the outbox's three states. "scheduled" and "receiving"/"received" never describe
# a reply we sent without a schedule, so they are not listed and are ignored with a reason.
STATUS_MAP = {
    "queued": "sent",
    "accepted": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "failed": "failed",
    "undelivered": "failed",
    "canceled": "failed",
}

INBOUND_STATUSES = frozenset({"received", "receiving"})

# Error codes worth naming in the outbox (https://www.twilio.com/docs/api/errors): both are
# permanent, so the reply is marked failed instead of retried.
PERMANENT_ERROR_HINTS = {
    21610: "recipient replied STOP (unsubscribed); Twilio refuses to message them",
    21211: "the 'To' number is not a valid phone number",
}

EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioSms:
    """Adapter for a Twilio phone number or Messaging Service (webhook in, REST API out)."""

    name = "twilio"
    idempotent_sends = False  # a repeated send may reach the citizen twice (README: send outcomes)
    channel = "sms"
    path = "/channels/sms/twilio"
    methods = ("POST",)

    def __init__(self, settings: Settings) -> None:
        self.account_sid = settings.twilio_account_sid or ""
        self.auth_token = settings.twilio_auth_token or ""
        self.sender = settings.twilio_from or ""
        self.api_base = settings.twilio_api_base.rstrip("/")
        self.public_base_url = settings.public_base_url.rstrip("/")
        self.timeout = settings.send_timeout_seconds
        # Webhooks matched by a Twilio Webhook Rule are signed with a SharedKey secret instead
        # of the Auth Token (https://www.twilio.com/docs/usage/webhooks/webhook-shared-keys).
        self.shared_key: str | None = settings.twilio_webhook_shared_key
        self._session: aiohttp.ClientSession | None = None

    # -- inbound -----------------------------------------------------------------------
    def public_url(self, request: RawRequest) -> str:
        """The URL Twilio signed: our public base URL, not the (proxied) local one.

        The gateway hands over that URL exactly as Twilio sent it (``request.url``); a request
        built without one gets it rebuilt from the path and the raw query.
        """
        if request.url:
            return request.url
        query = f"?{request.query_string}" if request.query_string else ""
        return f"{self.public_base_url}{request.path}{query}"

    def verify(self, request: RawRequest) -> None:
        """Check ``X-Twilio-Signature`` with Twilio's ``RequestValidator``.

        Raises :class:`Unauthorized` when the header is missing or does not match.
        """
        signature = request.header("X-Twilio-Signature")
        if not signature:
            raise Unauthorized("missing X-Twilio-Signature")
        settings_header = request.header(SIGNATURE_SETTINGS_HEADER)
        if settings_header:
            secret = self.shared_key
            if not secret:
                raise Unauthorized(
                    f"request is signed with a Twilio SharedKey ({SIGNATURE_SETTINGS_HEADER}) but none is configured"
                )
        else:
            secret = self.auth_token
        if not secret:
            raise Unauthorized("TWILIO_AUTH_TOKEN is not set; cannot check the signature")
        url = self.public_url(request)
        params: Any
        try:
            params = _signed_params(request.body)
        except (UnicodeDecodeError, ValueError):
            if "bodySHA256" not in request.query:
                raise Unauthorized("body is not form data and the URL carries no bodySHA256") from None
            # JSON webhooks sign a bodySHA256 query parameter instead; the validator checks
            # it when handed the raw body as a string.
            params = request.body.decode("utf-8", errors="replace")
        valid = RequestValidator(secret).validate(url, params, signature, get_signature_algorithm(settings_header))
        if not valid:
            raise Unauthorized(f"X-Twilio-Signature does not match (checked against {url}; is PUBLIC_BASE_URL right?)")

    def parse(self, request: RawRequest) -> InboundResult:
        """Read an incoming message or a status callback.

        Raises :class:`BadRequest` for missing fields and :class:`Forbidden` when the
        request belongs to another Twilio account.
        """
        request.require_media_type("application/x-www-form-urlencoded")
        form = request.form()
        account = form.get("AccountSid", "")
        if not account:
            raise BadRequest("missing AccountSid")
        if account != self.account_sid:
            raise Forbidden(f"AccountSid {account} is not this gateway's account")
        message_sid = form.get("MessageSid", "").strip()
        if not message_sid:
            raise BadRequest("missing MessageSid")
        # Incoming messages carry SmsStatus=received; any other status is a status callback
        # (some channels echo Body in those, so Body alone does not decide).
        status = form.get("MessageStatus") or form.get("SmsStatus") or ""
        if status and status not in INBOUND_STATUSES:
            return self._parse_status(request, form, message_sid, status)
        sender = form.get("From", "").strip()
        if not sender:
            raise BadRequest("missing From")
        if "Body" not in form:
            raise BadRequest("neither Body (incoming message) nor MessageStatus (status callback)")
        intake = Intake(
            channel="sms",
            provider=self.name,
            external_id=f"twilio:{message_sid}",
            sender=sender,
            text=form["Body"],
            reply_route=ReplyRoute(channel="sms", address=sender, provider=self.name),
            raw={
                "to": form.get("To"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "num_segments": form.get("NumSegments"),
                # Media stays at Twilio for now; the URLs need the account's credentials.
                "media": _media(form),
            },
        )
        return InboundResult(intakes=[intake])

    def _parse_status(self, request: RawRequest, form: dict[str, str], message_sid: str, status: str) -> InboundResult:
        mapped = STATUS_MAP.get(status)
        if mapped is None:
            return InboundResult(ignored=f"message status {status!r} is not tracked")
        detail = status
        if form.get("ErrorCode"):
            detail += f"; ErrorCode {form['ErrorCode']}"
        update = DeliveryUpdate(
            status=mapped,
            reply_id=request.query.get("reply") or None,
            provider_message_id=message_sid,
            detail=detail,
        )
        return InboundResult(delivery_updates=[update])

    def answer(self, request: RawRequest, tickets: list[str | None]) -> tuple[int, str, bytes]:
        """Empty TwiML: Twilio must not send a message of its own."""
        return 200, "text/xml", EMPTY_TWIML

    # -- outbound ----------------------------------------------------------------------
    async def send(self, reply: OutboundReply) -> SendResult:
        """Create a Message resource (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource).

        ``Body`` takes up to 1,600 characters and Twilio sends a longer one as a concatenated
        SMS itself; an answer of ANSWER_SMS_MAX_PARTS (at most 10) parts stays below that.

        Raises :class:`SendError`: retryable for 429/5xx and network trouble, permanent for
        other 4xx (21610 unsubscribed, 21211 invalid number, bad credentials, ...).
        """
        if not (self.account_sid and self.auth_token and self.sender):
            raise SendError("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM must be set", retryable=False)
        url = f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        form = {
            "To": reply.address,
            "Body": reply.text,
            "StatusCallback": f"{self.public_base_url}{self.path}?{urlencode({'reply': reply.id})}",
        }
        # A Messaging Service SID (MG...) lets Twilio pick the sender from its pool.
        form["MessagingServiceSid" if self.sender.startswith("MG") else "From"] = self.sender
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        status, body = await post_or_get(
            self._session,
            "POST",
            url,
            data=form,
            headers={"Authorization": aiohttp.encode_basic_auth(self.account_sid, self.auth_token)},
        )
        if 200 <= status < 300:
            # The message exists now: never turn an unreadable 2xx into a retry (it would send twice).
            sid = json_field(body, "sid")
            return SendResult(provider_message_id=sid if isinstance(sid, str) else None)
        code = json_field(body, "code")
        message = json_field(body, "message") or body[:200]
        hint = PERMANENT_ERROR_HINTS.get(code) if isinstance(code, int) else None
        text = f"Twilio answered {status}" + (f" (error {code})" if code else "") + f": {hint or message}"
        raise SendError(text, retryable=classify_status(status))

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _signed_params(body: bytes) -> MultiDict[str]:
    """All form values, repeated keys kept: Twilio's signature covers every value."""
    text = body.decode("utf-8")
    return MultiDict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))


def _media(form: dict[str, str]) -> list[dict[str, str | None]]:
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError as exc:
        raise BadRequest(f"NumMedia is not a number: {form.get('NumMedia')!r}") from exc
    if not 0 <= count <= 10:  # Twilio delivers at most 10 media per message
        raise BadRequest(f"NumMedia out of range: {count}")
    media = []
    for i in range(count):
        url = form.get(f"MediaUrl{i}")
        if not url:
            raise BadRequest(f"NumMedia is {count} but MediaUrl{i} is missing")
        media.append({"url": url, "content_type": form.get(f"MediaContentType{i}")})
    return media
