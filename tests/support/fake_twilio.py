"""A local stand-in for Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

Speaks the documented wire format: form-encoded request, HTTP basic auth with the Account SID
and Auth Token, ``201 Created`` with a Message resource JSON on success, and Twilio's error
JSON ``{"code", "message", "more_info", "status"}`` otherwise
(https://www.twilio.com/docs/messaging/api/message-resource,
https://www.twilio.com/docs/usage/twilios-response).

Usage::

    async with FakeTwilio("AC...", "token") as twilio:
        settings = Settings(twilio_api_base=twilio.url, ...)
        twilio.fail_next(400, code=21610, message="Attempt to send to unsubscribed recipient")
        ...
        twilio.requests[0].form["To"]
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

from tests.support.local_http import basic_auth, serve_on_loopback


@dataclass
class RecordedRequest:
    """One request as the fake saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, str]
    auth: tuple[str, str] | None


@dataclass
class _Canned:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class FakeTwilio:
    """Records every request in :attr:`requests`; :attr:`messages` holds the created ones."""

    account_sid: str
    auth_token: str
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: dict[str, dict[str, object]] = field(default_factory=dict)
    _canned: list[_Canned] = field(default_factory=list)
    hang_after_receiving: int = 0
    """Requests to handle in full and then leave unanswered (the sender times out: the outcome is unknown)."""
    _runner: web.AppRunner | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    """Base URL to put in ``TWILIO_API_BASE`` (``http://127.0.0.1:<port>``)."""

    def fail_next(self, status: int, *, code: int | None = None, message: str = "error") -> None:
        """Answer the next request with Twilio's error JSON (after recording it)."""
        payload = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}" if code else None,
            "status": status,
        }
        self._canned.append(_Canned(status, json.dumps(payload).encode()))

    def respond_next(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        """Answer the next request with these exact bytes (e.g. a fixture file)."""
        self._canned.append(_Canned(status, body, content_type))

    async def __aenter__(self) -> FakeTwilio:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create_message)
        self._runner, base = await serve_on_loopback(app)
        self.url = base
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _create_message(self, request: web.Request) -> web.Response:
        response = await self._create_message_now(request)
        if self.hang_after_receiving > 0:
            self.hang_after_receiving -= 1
            await self._released.wait()  # set when the fake stops
        return response

    async def _create_message_now(self, request: web.Request) -> web.Response:
        body = await request.read()
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        auth = basic_auth(request.headers.get("Authorization"))
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), body, form, auth))
        if self._canned:
            canned = self._canned.pop(0)
            return web.Response(status=canned.status, body=canned.body, content_type=canned.content_type)
        if auth != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        if request.match_info["account"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        if not form.get("To"):
            return _error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body") and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        sid = "SM" + uuid.uuid4().hex
        now = format_datetime(datetime.now(UTC), usegmt=False)
        resource_uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        message: dict[str, object] = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body"),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # Without a Messaging Service a new message starts "queued", with one "accepted".
            "status": "accepted" if form.get("MessagingServiceSid") else "queued",
            "subresource_uris": {"media": f"{resource_uri}/Media.json"},
            "to": form["To"],
            "uri": f"{resource_uri}.json",
        }
        self.messages[sid] = message
        return web.json_response(message, status=201)


def _error(status: int, code: int, message: str) -> web.Response:
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(payload, status=status)
