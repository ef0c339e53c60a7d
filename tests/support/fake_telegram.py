"""A local stand-in for the Telegram Bot API (https://core.telegram.org/bots/api), on loopback.

Speaks the documented wire format (https://core.telegram.org/bots/api#making-requests):
``POST /bot<token>/<method>`` with a JSON, form-urlencoded or multipart body (object-valued
parameters such as ``reply_parameters`` arrive JSON-serialised in form bodies), method names
case-insensitive, and every answer a JSON object ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ..., "parameters"?: {"retry_after": ...}}``.

Implemented: ``getMe``, ``sendMessage`` (records messages, answers a Message), ``getUpdates``
(serves queued updates from ``offset``, confirms the ones below it, holds the request up to
``timeout`` seconds while there is nothing, answers 409 while a webhook is set or when a newer
getUpdates takes over), ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``.

Usage::

    async with FakeTelegram(TOKEN) as tg:
        settings = Settings(telegram_api_base=tg.url, ...)
        tg.push_update({...})
        tg.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        message = await tg.wait_for_message(chat_id="1111111")
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# Parameters whose values are objects or arrays; form and multipart bodies carry them as JSON text.
_OBJECT_PARAMS = frozenset({"reply_parameters", "allowed_updates", "reply_markup", "link_preview_options", "entities"})
MAX_TEXT = 4096


@dataclass
class SentMessage:
    """A sendMessage call the fake accepted."""

    chat_id: str
    text: str
    message_id: int
    reply_parameters: dict[str, Any] | None
    params: dict[str, Any]


@dataclass
class _Failure:
    status: int
    payload: dict[str, Any]


@dataclass
class FakeTelegram:
    """Records :attr:`calls` (method, params) and :attr:`messages`; serves :attr:`updates`."""

    token: str
    bot_id: int = 7000000001
    username: str = "LaporBogorBot"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    confirmed_below: int = 0
    """Updates with a smaller update_id were confirmed by an offset and are gone, as on Telegram."""
    webhook: dict[str, Any] = field(default_factory=dict)
    hang_after_sending: int = 0
    """sendMessage calls to carry out and then leave unanswered until the fake stops (unknown outcome)."""
    url: str = ""
    """Base URL to put in TELEGRAM_API_BASE (``http://127.0.0.1:<port>``)."""
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event | None = None
    _poll_generation: int = 0
    _next_message_id: int = 9000
    _closing: bool = False

    # -- test controls -------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (call from the fake's event loop)."""
        self.updates.append(update)
        self._wake()

    def fail_next(
        self, method: str, error_code: int, description: str, *, retry_after: int | None = None, after: int = 0
    ) -> None:
        """Answer the next call of ``method`` (after ``after`` successful ones) with a Bot API error."""
        payload: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
        if retry_after is not None:
            payload["parameters"] = {"retry_after": retry_after}
        queue = self._failures.setdefault(method.lower(), [])
        queue.extend([None] * after)  # type: ignore[list-item] - None = let this call through
        queue.append(_Failure(error_code, payload))

    def forget_confirmations(self) -> None:
        """Serve every update ever queued again, unless the caller's offset confirms it (restart worst case)."""
        self.confirmed_below = 0

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``method``, in order."""
        return [params for name, params in self.calls if name == method.lower()]

    async def wait_for_message(
        self, *, chat_id: str | None = None, after: int = 0, timeout: float = 15.0
    ) -> SentMessage:
        """The first message (to ``chat_id``) beyond the first ``after`` ones; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matching = [m for m in self.messages if chat_id is None or m.chat_id == str(chat_id)]
            if len(matching) > after:
                return matching[after]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no message {after + 1} to {chat_id} within {timeout}s; sent: {self.messages!r}")

    # -- server ----------------------------------------------------------------------------
    async def __aenter__(self) -> FakeTelegram:
        self._arrived = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{bot_token}/{method}", self._dispatch)
        # No access log: Bot API paths carry the token, and the tests check it never reaches a log.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        self._wake()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _wake(self) -> None:
        if self._arrived is not None:
            self._arrived.set()
            self._arrived = asyncio.Event()

    async def _dispatch(self, request: web.Request) -> web.Response:
        bot_token = request.match_info["bot_token"]
        if bot_token != f"bot{self.token}":
            return _error(401, "Unauthorized")
        method = request.match_info["method"].lower()
        try:
            params = await _read_params(request)
        except ValueError as exc:
            return _error(400, f"Bad Request: {exc}")
        self.calls.append((method, params))
        failures = self._failures.get(method)
        failure = failures.pop(0) if failures else None
        if failure is not None:
            return web.json_response(failure.payload, status=failure.status)
        handler = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
        }.get(method)
        if handler is None:
            return _error(404, "Not Found: method not found")
        response = await handler(params)
        if method == "sendmessage" and self.hang_after_sending > 0:
            self.hang_after_sending -= 1
            while not self._closing:
                await asyncio.sleep(0.05)
        return response

    # -- methods -----------------------------------------------------------------------------
    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Lapor Bogor", "username": self.username}

    async def _get_me(self, params: dict[str, Any]) -> web.Response:
        user = self._bot_user() | {
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        return _ok(user)

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        chat_id = str(params.get("chat_id") or "")
        text = params.get("text")
        if not chat_id:
            return _error(400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        reply_parameters = params.get("reply_parameters")
        if reply_parameters is not None and not isinstance(reply_parameters, dict):
            return _error(400, "Bad Request: can't parse reply parameters JSON object")
        self._next_message_id += 1
        message_id = self._next_message_id
        self.messages.append(SentMessage(chat_id, text, message_id, reply_parameters, params))
        chat: dict[str, Any] = {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id, "type": "private"}
        return _ok(
            {"message_id": message_id, "from": self._bot_user(), "chat": chat, "date": int(time.time()), "text": text}
        )

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook.get("url"):
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        try:
            offset = int(params["offset"]) if params.get("offset") not in (None, "") else None
            timeout = float(params.get("timeout") or 0)
            limit = int(params.get("limit") or 100)
        except (TypeError, ValueError):
            return _error(400, "Bad Request: wrong parameter type")
        if offset is not None and offset > 0:
            # Confirmed updates are gone for good on Telegram; the fake keeps them in
            # self.updates so forget_confirmations() can replay a worst case.
            self.confirmed_below = max(self.confirmed_below, offset)
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        while True:
            pending = [u for u in self.updates if u["update_id"] >= self.confirmed_below][: max(1, min(limit, 100))]
            if pending or self._closing or time.monotonic() >= deadline:
                return _ok(pending)
            if generation != self._poll_generation:
                return _error(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            arrived = self._arrived
            assert arrived is not None
            try:
                await asyncio.wait_for(arrived.wait(), min(0.5, max(0.0, deadline - time.monotonic())))
            except TimeoutError:
                pass

    async def _set_webhook(self, params: dict[str, Any]) -> web.Response:
        if not params.get("url"):
            return _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {
            "url": params["url"],
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
        }
        return _ok(True)

    async def _delete_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {}
        if str(params.get("drop_pending_updates")).lower() == "true":
            self.updates.clear()
        return _ok(True)

    async def _get_webhook_info(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self.updates),
            }
        )


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from any of the three body encodings the Bot API accepts."""
    if not request.can_read_body:
        return {}  # a method without parameters (getMe): no body, no content type
    ctype = request.content_type
    if ctype == "application/json":
        data = await request.json()
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        return data
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data") or not ctype:
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if not isinstance(value, str):
                continue  # an uploaded file: not needed by the methods faked here
            params[key] = json.loads(value) if key in _OBJECT_PARAMS else value
        return params
    raise ValueError(f"unsupported content type {ctype}")


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)
