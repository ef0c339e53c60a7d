"""A local stand-in for the WhatsApp Cloud API's messages endpoint, on loopback.

Speaks the documented wire format (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages):
``POST /<version>/<phone number id>/messages`` with ``Authorization: Bearer <token>`` and a JSON
body ``{"messaging_product": "whatsapp", "recipient_type": "individual", "to", "type": "text",
"text": {"body"}, "context"?: {"message_id"}}``; success is ``{"messaging_product": "whatsapp",
"contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}``, failure a Graph API
error object ``{"error": {"message", "type", "code", "error_data": {"messaging_product",
"details"}, "fbtrace_id"}}`` (https://developers.facebook.com/docs/graph-api/guides/error-handling).

It also plays Meta's side of the webhook: :func:`sign` computes ``X-Hub-Signature-256``.

Usage::

    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        settings = Settings(whatsapp_api_base=wa.url, ...)
        wa.fail_next(131047, "Re-engagement message")
        message = await wa.wait_for_message(to="16505551234")
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.local_http import serve_on_loopback

MAX_TEXT = 4096
_ids = itertools.count(1)


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends with ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class SentMessage:
    """A text message the fake accepted."""

    to: str
    body: str
    id: str
    context_message_id: str | None
    payload: dict[str, Any]


@dataclass
class _Failure:
    status: int
    error: dict[str, Any]


@dataclass
class FakeWhatsApp:
    """Records :attr:`requests` (every JSON body) and :attr:`messages` (the accepted ones)."""

    token: str
    phone_number_id: str
    version: str = "v21.0"
    requests: list[dict[str, Any]] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    url: str = ""
    """Base URL to put in WHATSAPP_API_BASE (``http://127.0.0.1:<port>``)."""
    hang_after_receiving: int = 0
    """Record this many messages, then never answer (a time-out after the message went out)."""
    _failures: list[_Failure | None] = field(default_factory=list)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    def fail_next(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        details: str | None = None,
        error_type: str = "OAuthException",
        after: int = 0,
    ) -> None:
        """Answer the next send (after ``after`` successful ones) with a Graph API error object."""
        error: dict[str, Any] = {
            "message": f"(#{code}) {message}",
            "type": error_type,
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or message},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
        }
        self._failures.extend([None] * after)
        self._failures.append(_Failure(status, error))

    async def wait_for_message(self, *, to: str | None = None, after: int = 0, timeout: float = 15.0) -> SentMessage:
        """The first message (to ``to``) beyond the first ``after`` ones; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matching = [m for m in self.messages if to is None or m.to == to]
            if len(matching) > after:
                return matching[after]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no message {after + 1} to {to} within {timeout}s; sent: {self.messages!r}")

    async def __aenter__(self) -> FakeWhatsApp:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self._messages)
        self._runner, self.url = await serve_on_loopback(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _messages(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.match_info["version"] != self.version:
            return _error(400, 2635, f"Unknown version {request.match_info['version'][:20]}")
        if request.match_info["phone_number_id"] != self.phone_number_id:
            return _error(
                400, 100, "Unsupported post request. Object with ID does not exist", error_type="GraphMethodException"
            )
        if request.content_type != "application/json":
            return _error(400, 100, "Invalid parameter: the body must be JSON")
        try:
            payload = await request.json()
        except ValueError:
            return _error(400, 100, "Invalid parameter: the body is not JSON")
        self.requests.append(payload)
        problem = _shape_problem(payload)
        if problem is not None:
            return _error(400, 131009, "Parameter value is not valid", details=problem)
        failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return web.json_response({"error": failure.error}, status=failure.status)
        wamid = f"wamid.FAKE{next(_ids):08d}{int(time.time())}"
        context = payload.get("context") or {}
        self.messages.append(
            SentMessage(payload["to"], payload["text"]["body"], wamid, context.get("message_id"), payload)
        )
        if self.hang_after_receiving > 0:
            self.hang_after_receiving -= 1
            await self._released.wait()  # set when the fake stops
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                "messages": [{"id": wamid}],
            }
        )


def _shape_problem(payload: Any) -> str | None:
    """What is wrong with a text message request, as the API's error details would say."""
    if not isinstance(payload, dict):
        return "the body must be a JSON object"
    if payload.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    if payload.get("recipient_type", "individual") != "individual":
        return "recipient_type must be individual"
    to = payload.get("to")
    if not isinstance(to, str) or not to.lstrip("+").isdigit():
        return "to must be a phone number"
    if payload.get("type") != "text":
        return "this fake speaks only type text"
    text = payload.get("text")
    body = text.get("body") if isinstance(text, dict) else None
    if not isinstance(body, str) or not body.strip():
        return "text.body is required"
    if len(body) > MAX_TEXT:
        return f"text.body is longer than {MAX_TEXT} characters"
    context = payload.get("context")
    if context is not None and not (isinstance(context, dict) and isinstance(context.get("message_id"), str)):
        return "context.message_id must be a string"
    return None


def _error(
    status: int, code: int, message: str, *, details: str | None = None, error_type: str = "OAuthException"
) -> web.Response:
    error: dict[str, Any] = {"message": f"(#{code}) {message}", "type": error_type, "code": code}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = "AbCdEfGhIjKlMnOpQrStUvW"
    return web.json_response({"error": error}, status=status)
