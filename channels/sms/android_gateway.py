"""SMS Gateway for Android (https://docs.sms-gate.app/, github.com/capcom6/android-sms-gateway).

An Android phone with the app acts as the SMS modem, in Local mode (its own HTTP server, e.g.
``http://phone:8080``) or Cloud/Private mode (``https://api.sms-gate.app/3rdparty/v1``).

Inbound: the app POSTs a JSON event to ``/channels/sms/android`` for each registered event
(https://docs.sms-gate.app/features/webhooks/)::

    {"deviceId": "...", "event": "sms:received", "id": "<event id>", "webhookId": "...",
     "payload": {"messageId": "...", "message": "...", "sender": "+62...", "phoneNumber": "+62...",
                 "simNumber": 1, "receivedAt": "2024-06-22T15:46:11.000+07:00"}}

``payload.messageId`` of ``sms:received`` is derived from the content and is not unique (the
docs say so), so duplicates are recognised by the event ``id``, which stays the same across
the app's retries. ``sms:sent``/``sms:delivered``/``sms:failed`` report on messages we sent;
their ``messageId`` is the ``id`` we chose in :meth:`AndroidSmsGateway.send` (our reply id).

Signing (Settings -> Webhooks -> Signing Key): ``X-Signature`` is the hex HMAC-SHA256 of the raw
body followed by ``X-Timestamp`` (unix seconds). The app stamps each attempt afresh
(``PayloadSingingPlugin.kt``), so retries hours later still pass the 5-minute window; a phone
clock that drifts more than that will be refused, so keep the phone on network time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from channels.base import (
    BadRequest,
    DeliveryUpdate,
    InboundResult,
    OutboundReply,
    RawRequest,
    SendError,
    SendResult,
    Unauthorized,
    read_json,
    same_secret,
)
from channels.http_send import classify_status, json_field, post_or_get
from config.settings import Settings
from normalizer.envelope import Intake, ReplyRoute

TIMESTAMP_WINDOW_SECONDS = 300

# Events about replies we sent -> outbox state.
DELIVERY_EVENTS = {
    "sms:sent": "sent",
    "sms:delivered": "delivered",
    "sms:failed": "failed",
    # Only happens when someone cancels a queued message through the app's API.
    "sms:cancelled": "failed",
}

# Events the app can send that we deliberately do not act on, with the reason.
IGNORED_EVENTS = {
    "system:ping": "a device health heartbeat, not a message",
    "app:started": "an app lifecycle notice, not a message",
    "sms:data-received": "binary data SMS (port-addressed) carry no complaint text",
    "mms:received": "MMS notifications carry no content; MMS complaints are not supported yet",
    "mms:downloaded": "MMS complaints are not supported yet",
    "sms:batch:received": "batched delivery is not handled; register the sms:received webhook instead",
    "sms:batch:data-received": "binary data SMS carry no complaint text",
    "mms:batch:received": "MMS complaints are not supported yet",
    "mms:batch:downloaded": "MMS complaints are not supported yet",
}


class AndroidSmsGateway:
    """Adapter for the SMS Gateway for Android app (signed JSON webhooks in, REST API out)."""

    name = "android_sms"
    channel = "sms"
    path = "/channels/sms/android"
    methods = ("POST",)
    idempotent_sends = True
    """Each message carries our reply id; the gateway refuses a repeat, so a retry never sends twice."""

    def __init__(self, settings: Settings, *, now: Callable[[], float] = time.time) -> None:
        self.signing_key = settings.android_sms_gateway_signing_key
        self.api_url = (settings.android_sms_gateway_url or "").rstrip("/")
        self.username = settings.android_sms_gateway_username or ""
        self.password = settings.android_sms_gateway_password or ""
        self.timeout = settings.send_timeout_seconds
        self._now = now
        self._session: aiohttp.ClientSession | None = None

    # -- inbound -----------------------------------------------------------------------
    def verify(self, request: RawRequest) -> None:
        """Check ``X-Signature``/``X-Timestamp`` when a signing key is configured.

        Raises :class:`Unauthorized` for a missing or wrong signature, or a timestamp more
        than five minutes away from now (a replayed request).
        """
        if not self.signing_key:
            return
        signature = request.header("X-Signature")
        timestamp = request.header("X-Timestamp")
        if not signature or not timestamp:
            raise Unauthorized("missing X-Signature or X-Timestamp")
        expected = hmac.new(
            self.signing_key.encode(), request.body + timestamp.encode("utf-8", "surrogateescape"), hashlib.sha256
        ).hexdigest()
        if not same_secret(signature.strip().lower(), expected):
            raise Unauthorized("X-Signature does not match")
        try:
            stamped = int(timestamp)
        except ValueError as exc:
            raise Unauthorized("X-Timestamp is not unix seconds") from exc
        if abs(self._now() - stamped) > TIMESTAMP_WINDOW_SECONDS:
            raise Unauthorized("timestamp outside the 5-minute window")

    def parse(self, request: RawRequest) -> InboundResult:
        """Turn one webhook event into an intake, a delivery update, or an ignore reason.

        Raises :class:`BadRequest` naming what is wrong with the JSON.
        """
        request.require_media_type("application/json")
        event = read_json(request.body)
        if not isinstance(event, dict):
            raise BadRequest("body is not a JSON object")
        kind = event.get("event")
        if not isinstance(kind, str) or not kind:
            raise BadRequest("missing 'event'")
        if kind == "sms:received":
            return self._parse_received(event)
        if kind in DELIVERY_EVENTS:
            return self._parse_delivery(kind, event)
        reason = IGNORED_EVENTS.get(kind)
        return InboundResult(ignored=f"event {kind} is not handled" + (f": {reason}" if reason else ""))

    def _parse_received(self, event: dict[str, Any]) -> InboundResult:
        event_id = _string(event, "id", "event")
        payload = _payload(event)
        # "sender" is the current field; "phoneNumber" is its deprecated predecessor.
        sender = (_optional_string(payload, "sender") or _optional_string(payload, "phoneNumber") or "").strip()
        if not sender:
            raise BadRequest("payload has neither 'sender' nor 'phoneNumber'")
        text = payload.get("message")
        if not isinstance(text, str):
            raise BadRequest("payload.message is missing or not a string")
        received_raw = _optional_string(payload, "receivedAt")
        intake = Intake(
            channel="sms",
            provider=self.name,
            external_id=f"android_sms:{event_id}",
            sender=sender,
            text=text,
            reply_route=ReplyRoute(channel="sms", address=sender, provider=self.name),
            received_at=_parse_time(received_raw),
            raw={
                "device_id": _optional_string(event, "deviceId"),
                "webhook_id": _optional_string(event, "webhookId"),
                "message_id": _optional_string(payload, "messageId"),
                "recipient": _optional_string(payload, "recipient"),
                "sim_number": payload.get("simNumber") if isinstance(payload.get("simNumber"), int) else None,
                "received_at": received_raw,
            },
        )
        return InboundResult(intakes=[intake])

    def _parse_delivery(self, kind: str, event: dict[str, Any]) -> InboundResult:
        payload = _payload(event)
        message_id = _string(payload, "messageId", "payload")
        detail = _optional_string(payload, "reason") if kind == "sms:failed" else None
        update = DeliveryUpdate(
            status=DELIVERY_EVENTS[kind],
            # send() uses our reply id as the gateway's message id, so it names both.
            reply_id=message_id,
            provider_message_id=message_id,
            detail=detail or kind,
        )
        return InboundResult(delivery_updates=[update])

    def answer(self, request: RawRequest, tickets: list[str | None]) -> tuple[int, str, bytes]:
        """A 2xx within 30 s stops the app's retries."""
        return 200, "application/json", b'{"ok": true}'

    # -- outbound ----------------------------------------------------------------------
    async def send(self, reply: OutboundReply) -> SendResult:
        """POST the reply to ``{ANDROID_SMS_GATEWAY_URL}/messages`` with our reply id as its id.

        Using our id makes a retry after a lost answer harmless: the gateway answers 409
        "already exists", which we take as success. A long text (an OPD's answer) goes as one
        message: the phone splits it into a multi-part SMS. Raises :class:`SendError`.
        """
        if not (self.api_url and self.username and self.password):
            raise SendError(
                "ANDROID_SMS_GATEWAY_URL, ANDROID_SMS_GATEWAY_USERNAME and ANDROID_SMS_GATEWAY_PASSWORD must be set",
                retryable=False,
            )
        # Current request form (https://docs.sms-gate.app/features/sending-messages/); the
        # top-level "message" string is deprecated.
        body = {
            "id": reply.id,
            "textMessage": {"text": reply.text},
            "phoneNumbers": [reply.address],
            "withDeliveryReport": True,
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        status, text = await post_or_get(
            self._session,
            "POST",
            f"{self.api_url}/messages",
            json=body,
            headers={"Authorization": aiohttp.encode_basic_auth(self.username, self.password)},
            idempotent=True,  # our reply id is the message id: a repeat is refused with 409
        )
        if status in (200, 201, 202):
            message_id = json_field(text, "id")
            return SendResult(
                provider_message_id=message_id if isinstance(message_id, str) and message_id else reply.id
            )
        if status == 409:
            return SendResult(provider_message_id=reply.id)
        message = json_field(text, "message") or text[:200]
        raise SendError(f"SMS gateway answered {status}: {message}", retryable=classify_status(status))

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _payload(event: dict[str, Any]) -> dict[str, Any]:
    payload = event.get("payload")
    if not isinstance(payload, dict):
        raise BadRequest("missing 'payload' object")
    return payload


def _string(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"missing '{key}' in {where}")
    return value.strip()


def _optional_string(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _parse_time(value: str | None) -> datetime | None:
    """ISO 8601 in the phone's local zone -> UTC; unreadable times are left to the normalizer."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None
