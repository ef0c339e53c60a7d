"""A local stand-in for the SMS Gateway for Android send API (``POST {base}/messages``).

Behaves like the app's local server and the cloud server's 3rd-party API: HTTP basic auth,
JSON body with ``phoneNumbers`` and one of ``textMessage`` / ``dataMessage`` / (deprecated)
``message``, ``202 Accepted`` with a ``MessageState`` JSON (``id``, ``state: "Pending"``,
``recipients``), ``409`` when a message with the same ``id`` already exists, and
``{"code", "message"}`` errors (https://docs.sms-gate.app/features/sending-messages/, the app's
``swagger.json``, android-sms-gateway/server ``handlers/messages/3rdparty.go``).

Usage::

    async with FakeAndroidGateway("user", "pass") as gateway:
        settings = Settings(android_sms_gateway_url=gateway.url, ...)
        gateway.fail_next(503, "service unavailable")
        ...
        gateway.requests[0].json["textMessage"]["text"]
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.local_http import basic_auth, serve_on_loopback

_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"


@dataclass
class RecordedRequest:
    """One request as the fake saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    auth: tuple[str, str] | None


@dataclass
class FakeAndroidGateway:
    """Records every request in :attr:`requests`; :attr:`messages` holds accepted ones by id."""

    username: str
    password: str
    prefix: str = "/3rdparty/v1"
    """API base path: ``/3rdparty/v1`` like the cloud server, ``""`` like the app's local server."""
    device_id: str = "yVULogr4Y1ksRfnos1Dsw"
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    _canned: list[tuple[int, bytes]] = field(default_factory=list)
    hang_after_receiving: int = 0
    """Requests to handle in full and then leave unanswered (the sender times out: the outcome is unknown)."""
    _runner: web.AppRunner | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    """API base URL to put in ``ANDROID_SMS_GATEWAY_URL``."""

    def fail_next(self, status: int, message: str = "error") -> None:
        """Answer the next request with an error JSON (after recording it)."""
        self._canned.append((status, json.dumps({"code": status, "message": message}).encode()))

    def respond_next(self, status: int, body: bytes) -> None:
        """Answer the next request with these exact bytes."""
        self._canned.append((status, body))

    async def __aenter__(self) -> FakeAndroidGateway:
        app = web.Application()
        app.router.add_post(f"{self.prefix}/messages", self._post_message)
        self._runner, base = await serve_on_loopback(app)
        self.url = base + self.prefix
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _post_message(self, request: web.Request) -> web.Response:
        response = await self._post_message_now(request)
        if self.hang_after_receiving > 0:
            self.hang_after_receiving -= 1
            await self._released.wait()  # set when the fake stops
        return response

    async def _post_message_now(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        auth = basic_auth(request.headers.get("Authorization"))
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), body, data, auth))
        if self._canned:
            status, canned = self._canned.pop(0)
            return web.Response(status=status, body=canned, content_type="application/json")
        if auth != (self.username, self.password):
            return _error(401, "Unauthorized")
        if not isinstance(data, dict):
            return _error(400, "invalid JSON body")
        numbers = data.get("phoneNumbers")
        if not isinstance(numbers, list) or not numbers or not all(isinstance(n, str) and n for n in numbers):
            return _error(400, "phoneNumbers: at least one recipient is required")
        kinds = [k for k in ("textMessage", "dataMessage", "message") if data.get(k) is not None]
        if len(kinds) != 1:
            return _error(400, "exactly one of textMessage, dataMessage or message is required")
        if kinds == ["textMessage"]:
            text = data["textMessage"].get("text") if isinstance(data["textMessage"], dict) else None
            if not isinstance(text, str) or not text:
                return _error(400, "textMessage.text is required")
        message_id = data.get("id") or "".join(secrets.choice(_ID_ALPHABET) for _ in range(21))
        if not isinstance(message_id, str) or len(message_id) > 36:
            return _error(400, "id: at most 36 characters")
        if message_id in self.messages:
            return _error(409, "message with such ID already exists")
        state = {
            "id": message_id,
            "deviceId": self.device_id,
            "state": "Pending",
            "isHashed": False,
            "isEncrypted": bool(data.get("isEncrypted", False)),
            "recipients": [{"phoneNumber": n, "state": "Pending"} for n in numbers],
            "states": {},
        }
        self.messages[message_id] = {"request": data, "state": state}
        return web.json_response(state, status=202, headers={"Location": f"{self.prefix}/messages/{message_id}"})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message}, status=status)
