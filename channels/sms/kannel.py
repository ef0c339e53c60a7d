"""Kannel (https://www.kannel.org/) SMS gateway: MO via smsbox get-url/post-url, MT via sendsms.

Inbound: smsbox calls ``/channels/sms/kannel`` with ``from``, ``to``, ``text`` (``%b``: the
message bytes verbatim, percent-encoded), ``id``, ``ts``, ``smsc``, ``coding``, ``charset``
and our ``token`` in the query (GET get-url); or, with post-url, the text as the body and the
same facts in the query or in ``X-Kannel-*`` headers. We answer 200 with an empty body so that
smsbox sends nothing itself (``omit-empty = true``): the reply goes out later through sendsms.
Kannel treats any answer but 200/202 as a failure and retries, so duplicates are expected.

Delivery reports come back on the same path with ``dlr=%d`` and our ``reply`` id in the query
(see the dlr-url we build in :meth:`KannelSms.send`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

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
    same_secret,
)
from channels.http_send import classify_status, post_or_get
from config.settings import Settings
from normalizer.envelope import Intake, ReplyRoute
from normalizer.text import decode_sms_text, is_gsm7

# Kannel DLR types (dlr-mask bits): 1 delivered, 2 undelivered, 4 buffered, 8 SMSC accepted,
# 16 SMSC rejected. We ask for all of them (mask 31).
DLR_STATUS = {"1": "delivered", "2": "failed", "4": "sent", "8": "sent", "16": "failed"}
DLR_MASK = "31"
# What smsbox's post-url sends (text/plain with a charset, application/octet-stream for 8-bit
# messages), and a form body for set-ups that post the fields instead of the query.
POST_MEDIA_TYPES = ("text/plain", "application/octet-stream", "application/x-www-form-urlencoded")


class KannelSms:
    """Adapter for a Kannel smsbox (inbound webhook and sendsms outbound)."""

    name = "kannel"
    idempotent_sends = False  # a repeated send may reach the citizen twice (README: send outcomes)
    channel = "sms"
    path = "/channels/sms/kannel"
    methods = ("GET", "POST")

    def __init__(self, settings: Settings) -> None:
        self.token = settings.kannel_inbound_token
        self.sendsms_url = settings.kannel_sendsms_url
        self.username = settings.kannel_username
        self.password = settings.kannel_password
        self.sender_id = settings.kannel_from
        self.public_base_url = settings.public_base_url.rstrip("/")
        self.timeout = settings.send_timeout_seconds
        self._session: aiohttp.ClientSession | None = None

    # -- inbound -----------------------------------------------------------------------
    def verify(self, request: RawRequest) -> None:
        """Check the shared ``token`` query parameter (constant time) when one is configured."""
        if not self.token:
            return
        given = request.query.get("token") or request.header("X-Kannel-Token") or ""
        if not same_secret(given, self.token):
            raise Unauthorized("missing or wrong token")

    def parse(self, request: RawRequest) -> InboundResult:
        """Read an MO message or a delivery report from smsbox's request."""
        fields, raw_text = self._fields(request)
        if "dlr" in fields:
            return self._parse_dlr(fields)
        sender = fields.get("from", "").strip()
        if not sender:
            raise BadRequest("missing 'from' (configure get-url with from=%p)")
        if raw_text is None:
            raise BadRequest("missing 'text' (configure get-url with text=%b)")
        text = decode_sms_text(raw_text, coding=fields.get("coding"), charset=fields.get("charset"))
        msg_id = fields.get("id", "").strip()
        received_at = _parse_ts(fields.get("ts"))
        intake = Intake(
            channel="sms",
            provider=self.name,
            # Kannel's %I is only set for some SMSC types; without it we fall back to a
            # content fingerprint (normalizer) so retries still collapse into one.
            external_id=f"kannel:{msg_id}" if msg_id and msg_id != "-" else None,
            sender=sender,
            text=text,
            reply_route=ReplyRoute(channel="sms", address=sender, provider=self.name),
            received_at=received_at,
            raw={"to": fields.get("to"), "smsc": fields.get("smsc"), "coding": fields.get("coding")},
        )
        return InboundResult(intakes=[intake])

    def answer(self, request: RawRequest, tickets: list[str | None]) -> tuple[int, str, bytes]:
        """An empty 200: smsbox must not send an SMS of its own."""
        return 200, "text/plain", b""

    def _fields(self, request: RawRequest) -> tuple[dict[str, str], bytes | None]:
        """The request's fields, and its ``text`` apart: raw bytes, for decode_sms_text."""
        # Parse the raw query as latin-1 so %b's bytes survive for decode_sms_text.
        fields: dict[str, str] = {}
        text: bytes | None = None
        for key, value in parse_qsl(request.query_string, keep_blank_values=True, encoding="latin-1"):
            if key == "text":
                text = value.encode("latin-1")
            else:
                fields[key] = value
        if request.method == "POST":
            # post-url labels the text/plain (or octet-stream for 8-bit data); post-xml's XML
            # is not read, and must not become a complaint's text.
            request.require_media_type(*POST_MEDIA_TYPES)
            ctype = (request.header("Content-Type") or "").lower()
            if ctype.startswith("application/x-www-form-urlencoded"):
                for key, value in parse_qsl(request.body.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
                    if key == "text":
                        text = value.encode("latin-1")
                    else:
                        fields[key] = value
            else:
                text = request.body
                for header, key in (
                    ("X-Kannel-From", "from"),
                    ("X-Kannel-To", "to"),
                    ("X-Kannel-Time", "ts"),
                    ("X-Kannel-SMSC", "smsc"),
                    ("X-Kannel-Coding", "coding"),
                ):
                    header_value = request.header(header)
                    if header_value is not None and key not in fields:
                        fields[key] = header_value
                if "charset=" in ctype and "charset" not in fields:
                    fields["charset"] = ctype.split("charset=", 1)[1].split(";")[0].strip()
        return fields, text

    def _parse_dlr(self, fields: dict[str, str]) -> InboundResult:
        status = DLR_STATUS.get(str(fields.get("dlr")))
        reply_id = str(fields.get("reply") or "")
        if status is None or not reply_id:
            raise BadRequest("delivery report needs dlr=<type> and reply=<id>")
        return InboundResult(
            delivery_updates=[DeliveryUpdate(status=status, reply_id=reply_id, detail=str(fields.get("answer") or ""))]
        )

    # -- outbound ----------------------------------------------------------------------
    async def send(self, reply: OutboundReply) -> SendResult:
        """Submit the reply to smsbox's sendsms interface with a delivery-report URL.

        A long text (an OPD's answer, up to ANSWER_SMS_MAX_PARTS parts) goes as one request:
        smsbox splits it. sendsms has no parameter for that; the ``sendsms-user`` group must have
        ``concatenation = true`` and ``max-messages`` >= ANSWER_SMS_MAX_PARTS, else Kannel sends
        the first 160 characters and still answers 202 (README: Kannel set-up).
        """
        if not self.sendsms_url:
            raise SendError("KANNEL_SENDSMS_URL is not set", retryable=False)
        dlr_query = urlencode({"token": self.token or "", "reply": reply.id})
        # %d and %A are Kannel escapes, substituted when the report arrives: keep them literal.
        dlr_url = f"{self.public_base_url}{self.path}?{dlr_query}&dlr=%d&answer=%A"
        ucs2 = not is_gsm7(reply.text)
        params = {
            "username": self.username or "",
            "password": self.password or "",
            "to": reply.address,
            "text": reply.text,
            "charset": "UTF-8",
            "coding": "2" if ucs2 else "0",
            "dlr-mask": DLR_MASK,
            "dlr-url": dlr_url,
        }
        if self.sender_id:
            params["from"] = self.sender_id
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        status, body = await post_or_get(self._session, "GET", self.sendsms_url, params=params)
        if status in (200, 202):
            return SendResult(provider_message_id=None)
        raise SendError(f"sendsms answered {status}: {body[:200]}", retryable=classify_status(status))

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _parse_ts(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value else None
    except (TypeError, ValueError, OverflowError, OSError):  # OSError: a year past 9999
        return None
