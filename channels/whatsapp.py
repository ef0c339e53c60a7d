"""WhatsApp Cloud API: signed webhook in, Graph API ``/<phone number id>/messages`` out.

Inbound, Meta first checks the callback URL with a GET carrying ``hub.mode=subscribe``,
``hub.verify_token`` (ours, WHATSAPP_VERIFY_TOKEN) and ``hub.challenge``, which we echo as
text. Then every event is a POST of ``{"object": "whatsapp_business_account", "entry": [{"changes":
[{"field": "messages", "value": {...}}]}]}`` signed in ``X-Hub-Signature-256: sha256=<hex>``, the
HMAC-SHA256 of the raw body keyed with the app secret
(https://developers.facebook.com/docs/graph-api/webhooks/getting-started). ``value.messages`` are
the citizen's messages, ``value.statuses`` the fate of ours (sent, delivered, read, failed).

WhatsApp is a chat channel like Telegram: every message is one turn of the guided conversation
(``kind="conversation"``, ``workers/conversation.py``). Images are not downloaded here (no I/O in
parse): the media id is kept, to be fetched with ``GET /<media id>`` later. The profile name in
``contacts[].profile.name`` is whatever the citizen typed into WhatsApp, so it is never offered
as the reporter's name.

Outbound, a reply is a text message (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages)
quoting the citizen's message with ``context.message_id``. WhatsApp lets a business answer
freely only within 24 hours of the citizen's last message; later, only approved templates go
through (error 131047), which a retry cannot change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp

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
    read_json,
    same_secret,
)
from channels.http_send import classify_status, post_or_get
from config.settings import ConfigurationError, Settings
from normalizer.envelope import ChatContent, ChatTurn, Intake, RemoteFile, ReplyRoute
from normalizer.geo import coordinates
from normalizer.text import split_for_messages

SIGNATURE_HEADER = "X-Hub-Signature-256"
PATH = "/channels/whatsapp"
MAX_TEXT = 4096  # text.body: "Maximum 4096 characters"
_VERSION_RE = re.compile(r"v\d{1,3}\.\d{1,2}")
# wa_id: the citizen's phone number in international form without "+" (also the reply address).
_WA_ID_RE = re.compile(r"\d{6,20}")
_NUMBER_RE = re.compile(r"\+?\d[\d -]{5,}\d")

# statuses[].status folded into the outbox's three states; "read" implies delivered.
STATUS_MAP = {"sent": "sent", "delivered": "delivered", "read": "delivered", "failed": "failed"}

# Message types that are no turn of a conversation, and why they are dropped (answered 200).
IGNORED_TYPES: dict[str, str] = {
    "reaction": "a reaction carries no complaint",
    "system": "a notice from WhatsApp (the citizen changed number), not a message from the citizen",
    "button": "the city sends no template buttons, so there are no button presses to answer",
    "interactive": "the city sends no interactive lists or buttons, so there are no replies to them",
    "order": "the city sells nothing",
    "request_welcome": "the city sends no welcome message: the citizen's first real message is answered",
}

# Content the conversation cannot use: still a turn, so the worker answers "text, photos and
# locations only" instead of leaving the citizen waiting. WhatsApp's own type "unsupported"
# (polls, edits, view-once media...) is answered the same way.
UNSUPPORTED_CONTENT = ("audio", "video", "sticker", "document", "contacts", "unsupported")
# What the conversation can use; anything else is "other" (answered, not used).
_CHAT_CONTENT: dict[str, ChatContent] = {"text": "text", "photo": "photo", "location": "location"}

# Graph API error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
# -> (a retry can help, what it means for us). Unlisted codes fall back to the HTTP status.
GRAPH_ERRORS: dict[int, tuple[bool, str]] = {
    131047: (False, "re-engagement: more than 24 hours since the citizen last wrote; only a template gets through"),
    131026: (False, "undeliverable: the number has no WhatsApp, or an outdated app or unaccepted terms"),
    131021: (False, "the recipient is the city's own number"),
    131008: (False, "a required parameter is missing"),
    131009: (False, "a parameter value is invalid"),
    100: (False, "invalid parameter (or WHATSAPP_PHONE_NUMBER_ID names no number of this token)"),
    190: (False, "the access token is invalid or expired: renew WHATSAPP_ACCESS_TOKEN"),
    10: (False, "permission denied: the token lacks whatsapp_business_messaging"),
    200: (False, "permission denied: the token lacks whatsapp_business_messaging"),
    133010: (False, "the city's number is not registered with the Cloud API"),
    131031: (False, "the business account is locked"),
    368: (False, "temporarily blocked for policy violations"),
    130429: (True, "rate limit hit: the number's message throughput is exhausted"),
    131056: (True, "pair rate limit: too many messages to this citizen in a short time"),
    131048: (True, "spam rate limit hit"),
    80007: (True, "the business account's rate limit is exhausted"),
    4: (True, "the app made too many API calls"),
    131000: (True, "something went wrong at WhatsApp"),
    131016: (True, "WhatsApp's service is temporarily unavailable"),
    133004: (True, "WhatsApp's server is temporarily unavailable"),
    1: (True, "unknown API error"),
    2: (True, "API service temporarily unavailable"),
}


class WhatsAppChannel:
    """Adapter for one WhatsApp Business phone number on the Cloud API."""

    name = "whatsapp"
    idempotent_sends = False  # a repeated send may reach the citizen twice (README: send outcomes)
    channel = "whatsapp"
    path = PATH
    methods: tuple[str, ...] = ("GET", "POST")

    def __init__(self, settings: Settings) -> None:
        """Read the settings; raises :class:`ConfigurationError` when they cannot work."""
        self.token = settings.whatsapp_access_token or ""
        self.phone_number_id = settings.whatsapp_phone_number_id or ""
        self.app_secret = settings.whatsapp_app_secret or ""
        self.verify_token = settings.whatsapp_verify_token or ""
        self.version = settings.whatsapp_api_version.strip()
        if not _VERSION_RE.fullmatch(self.version):
            raise ConfigurationError(f"WHATSAPP_API_VERSION must look like v21.0, not {self.version!r}")
        self.api_base = settings.whatsapp_api_base.rstrip("/")
        self.timeout = settings.send_timeout_seconds
        self._session: aiohttp.ClientSession | None = None
        """reply id -> (parts already delivered, first message id) of long replies cut short."""

    # -- inbound -----------------------------------------------------------------------
    def verify(self, request: RawRequest) -> None:
        """GET: the subscription handshake (403 unless our verify token); POST: the body's signature.

        Both secrets are compared in constant time. Raises :class:`Forbidden` or :class:`Unauthorized`.
        """
        if request.method == "GET":
            given = request.query.get("hub.verify_token") or ""
            if request.query.get("hub.mode") != "subscribe" or not self.verify_token:
                raise Forbidden("not a webhook subscription request")
            if not same_secret(given, self.verify_token):
                raise Forbidden("hub.verify_token does not match WHATSAPP_VERIFY_TOKEN")
            if not 0 < len(request.query.get("hub.challenge") or "") <= 256:
                raise BadRequest("hub.challenge is missing or too long")
            return
        if not self.app_secret:
            raise Unauthorized("the WhatsApp webhook is off (no WHATSAPP_APP_SECRET)")
        given = request.header(SIGNATURE_HEADER) or ""
        if not given:
            raise Unauthorized(f"missing {SIGNATURE_HEADER}")
        expected = "sha256=" + hmac.new(self.app_secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not same_secret(given.strip().lower(), expected):
            raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body")

    def parse(self, request: RawRequest) -> InboundResult:
        """Turn a notification into conversation turns and delivery updates; raises :class:`BadRequest`."""
        if request.method == "GET":
            return InboundResult(ignored="webhook verification handshake")
        request.require_media_type("application/json")
        data = read_json(request.body)
        return parse_notification(data, self.phone_number_id)

    def answer(self, request: RawRequest, tickets: list[str | None]) -> tuple[int, str, bytes]:
        """The challenge for the handshake, an empty 200 for events (anything else makes Meta retry)."""
        if request.method == "GET":
            return 200, "text/plain", request.query["hub.challenge"].encode()
        return 200, "text/plain", b""

    # -- outbound ----------------------------------------------------------------------
    async def send(self, reply: OutboundReply) -> SendResult:
        """Send ``reply`` as text message(s), the first quoting ``thread_ref`` when it is a wamid.

        Texts over 4096 characters go as several messages; a retry resumes after the parts that
        already arrived. Returns the first message's wamid. Raises :class:`SendError` from the
        Graph API's error object (see :data:`GRAPH_ERRORS`).
        """
        if not reply.text.strip():
            raise SendError("empty reply: WhatsApp refuses empty text messages", retryable=False)
        if not _WA_ID_RE.fullmatch(reply.address):
            raise SendError("the reply address is not a WhatsApp number", retryable=False)
        parts = split_text(reply.text)
        # A long answer goes in parts; a retry resumes after the parts that already arrived
        # (``reply.parts_sent``, kept on the outbox row), whichever worker retries.
        first_id: str | None = None
        for index in range(min(reply.parts_sent, len(parts)), len(parts)):
            message: dict[str, Any] = {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": reply.address,
                "type": "text",
                "text": {"body": parts[index], "preview_url": False},
            }
            if index == 0 and reply.thread_ref and reply.thread_ref.startswith("wamid."):
                message["context"] = {"message_id": reply.thread_ref}
            try:
                message_id = await self._post_message(message)
            except SendError as exc:
                text = str(exc) if index == 0 else f"part {index + 1} of {len(parts)} not sent ({exc})"
                raise SendError(
                    text,
                    retryable=exc.retryable,
                    # The Cloud API has no idempotency key: a time-out after the request left
                    # may have delivered it (channels/http_send.py decides).
                    outcome_unknown=exc.outcome_unknown,
                    parts_sent=index,
                    provider_message_id=first_id,
                ) from None
            if index == 0:
                first_id = message_id
        # A resumed send did not send part 1: the outbox row already holds that part's id.
        return SendResult(provider_message_id=first_id)

    async def _post_message(self, message: dict[str, Any]) -> str | None:
        url = f"{self.api_base}/{self.version}/{self.phone_number_id}/messages"
        if self._session is None:
            # Created on first use, in the loop that sends (workers/outbound.py runs its own).
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        status, body = await post_or_get(
            self._session, "POST", url, json=message, headers={"Authorization": f"Bearer {self.token}"}
        )
        if 200 <= status < 300:
            # The message exists now: never turn an unreadable 2xx into a retry (it would send twice).
            return _message_id(body)
        raise graph_error(status, body)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def graph_error(status: int, body: str) -> SendError:
    """A :class:`SendError` from a Graph API error answer ``{"error": {"code", "message", ...}}``."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        return SendError(f"WhatsApp answered {status}: {_scrub(body[:200])}", retryable=classify_status(status))
    code = error.get("code") if isinstance(error.get("code"), int) else None
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    known = GRAPH_ERRORS.get(code) if code is not None else None
    if known is not None:
        retryable, reason = known
    else:
        # Unknown code: the HTTP status decides, or Graph's own "is_transient" hint.
        retryable = classify_status(status) or error.get("is_transient") is True
        reason = _scrub(str(details or error.get("message") or "unknown error")[:200])
    return SendError(f"WhatsApp answered {status} (error {code}): {reason}", retryable=retryable)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into bodies of at most ``limit`` characters, at a line break or space where possible."""
    return split_for_messages(text, limit)


def _scrub(text: str) -> str:
    """Provider texts end up in logs and the outbox: keep phone numbers out of them."""
    return _NUMBER_RE.sub("<number>", text)


def _message_id(body: str) -> str | None:
    """``messages[0].id`` of a send answer (the wamid delivery reports name)."""
    try:
        messages = json.loads(body).get("messages")
        message_id = messages[0]["id"]
    except (ValueError, AttributeError, LookupError, TypeError):
        return None
    return message_id if isinstance(message_id, str) else None


# -- the webhook payload (sans I/O) -----------------------------------------------------------


def parse_notification(data: Any, phone_number_id: str) -> InboundResult:
    """One webhook notification → turns and delivery updates; raises :class:`BadRequest` on a wrong shape.

    Messages to another number of the same app (``metadata.phone_number_id``) are not ours to
    answer and are ignored, as are changes other than ``messages``; the reasons are joined in
    ``ignored``.
    """
    if not isinstance(data, dict):
        raise BadRequest("a notification must be a JSON object")
    if data.get("object") != "whatsapp_business_account":
        return InboundResult(ignored=f"object {str(data.get('object'))[:40]!r} is not a WhatsApp Business Account")
    intakes: list[Intake] = []
    updates: list[DeliveryUpdate] = []
    ignored: list[str] = []
    malformed: list[str] = []
    for entry in _list(data, "entry", "notification"):
        for change in _list(_obj(entry, "entry"), "changes", "entry"):
            change = _obj(change, "change")
            field = change.get("field")
            if field != "messages":
                ignored.append(f"field {str(field)[:40]!r}: only messages are read")
                continue
            value = _obj(change.get("value"), "value")
            metadata = _obj(value.get("metadata"), "value.metadata")
            if str(metadata.get("phone_number_id")) != phone_number_id:
                ignored.append("addressed to another phone number of this app")
                continue
            for message in value.get("messages") or []:
                try:
                    turn = _parse_message(_obj(message, "message"))
                except BadRequest as exc:
                    # One unreadable message must not refuse the notification: Meta would drop
                    # the good messages beside it along with it.
                    malformed.append(f"message skipped: {exc}")
                    continue
                if isinstance(turn, str):
                    ignored.append(turn)
                else:
                    intakes.append(turn)
            for status in value.get("statuses") or []:
                try:
                    update = _parse_status(_obj(status, "status"))
                except BadRequest as exc:
                    malformed.append(f"status skipped: {exc}")
                    continue
                if isinstance(update, str):
                    ignored.append(update)
                else:
                    updates.append(update)
            for error in value.get("errors") or []:
                ignored.append(f"WhatsApp reported error {_obj(error, 'error').get('code')}")
    if malformed and not intakes and not updates and not ignored:
        raise BadRequest("; ".join(malformed))  # nothing readable at all: a malformed request
    ignored.extend(malformed)
    if not intakes and not updates and not ignored:
        ignored.append("the notification carries nothing")
    return InboundResult(intakes=intakes, delivery_updates=updates, ignored="; ".join(ignored) or None)


def _parse_message(message: dict[str, Any]) -> Intake | str:
    """A message object → a conversation turn, or the reason it is dropped."""
    wamid = _str(message, "id")
    sender = _str(message, "from")
    if not _WA_ID_RE.fullmatch(sender):
        raise BadRequest("message.from must be a phone number (wa_id)")
    kind = _str(message, "type")
    received_at = _timestamp(message.get("timestamp"))
    if kind in IGNORED_TYPES:
        return f"{kind}: {IGNORED_TYPES[kind]}"
    if kind == "text":
        body = _str(_obj(message.get("text"), "text"), "body")
        return conversation_intake(wamid, sender, received_at, content="text", text=body)
    document = message.get("document")
    if kind == "image" or (kind == "document" and str(_obj(document, kind).get("mime_type")).startswith("image/")):
        # A photo sent "as a document" keeps its full resolution: as useful as a photo.
        media = _obj(message.get(kind), kind)
        photo = {"media_id": _str(media, "id")}
        for key in ("mime_type", "sha256"):
            if isinstance(media.get(key), str):
                photo[key] = media[key][:100]
        caption = media.get("caption")
        caption = caption if isinstance(caption, str) else ""
        return conversation_intake(wamid, sender, received_at, content="photo", text=caption, photo=photo)
    if kind == "location":
        loc = _obj(message.get("location"), "location")
        try:
            point = coordinates(loc.get("latitude"), loc.get("longitude"))
        except ValueError as exc:
            raise BadRequest(f"location {exc}") from None
        return conversation_intake(wamid, sender, received_at, content="location", text="", location=point)
    if kind in UNSUPPORTED_CONTENT:
        return conversation_intake(wamid, sender, received_at, content=f"unsupported:{kind}", text="")
    return f"message type {kind[:40]!r} is not known to this version (newer Cloud API?)"


def conversation_intake(
    wamid: str,
    sender: str,
    received_at: datetime,
    *,
    content: str,
    text: str,
    photo: dict[str, str] | None = None,
    location: tuple[float, float] | None = None,
) -> Intake:
    """The one place a WhatsApp message becomes a conversation turn (typed: :class:`ChatTurn`)."""
    turn = ChatTurn(content=_CHAT_CONTENT.get(content, "other"), message_id=wamid)
    files: tuple[RemoteFile, ...] = ()
    if photo is not None:
        # Fetched later with GET /<media id>: parse does no I/O.
        files = (RemoteFile(provider="whatsapp", ref=photo["media_id"], content_type=photo.get("mime_type")),)
    return Intake(
        channel="whatsapp",
        provider="whatsapp",
        external_id=f"whatsapp:{wamid}",  # Meta retries a notification with the same wamid
        sender=sender,
        text=text,
        reply_route=ReplyRoute(channel="whatsapp", address=sender, thread_ref=wamid, provider="whatsapp"),
        location=location,
        language="id",  # WhatsApp tells no language; /english switches the conversation
        received_at=received_at,
        kind="conversation",
        turn=turn,
        attachments_to_fetch=files,
        # For the record: what the message held ("unsupported:sticker") and the photo's hash.
        raw={"content": content, **({"photo": photo} if photo else {})},
    )


def _parse_status(status: dict[str, Any]) -> DeliveryUpdate | str:
    """A status object → a delivery update by wamid, or the reason it is dropped."""
    wamid = _str(status, "id")
    value = _str(status, "status")
    mapped = STATUS_MAP.get(value)
    if mapped is None:
        return f"message status {value[:40]!r} is not tracked"
    detail = value
    errors = status.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
        known = GRAPH_ERRORS.get(code) if isinstance(code, int) else None
        title = known[1] if known else str(errors[0].get("title") or "")[:200]
        detail = f"error {code}: {title}"
    return DeliveryUpdate(status=mapped, provider_message_id=wamid, detail=detail)


def _timestamp(value: Any) -> datetime:
    """Unix seconds, sent as a string."""
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise BadRequest("message.timestamp is not a plausible unix time") from exc


# -- checked reads ---------------------------------------------------------------------------


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object")
    return value


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise BadRequest(f"{where}.{key} must be an array")
    return value


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} must be a non-empty string")
    return value
