"""Telegram bot: webhook or long poll in, Bot API ``sendMessage`` out, with python-telegram-bot.

Inbound, Telegram POSTs each Update as JSON to ``/channels/telegram`` with the secret given to
setWebhook in ``X-Telegram-Bot-Api-Secret-Token`` (https://core.telegram.org/bots/api#setwebhook);
cities without public HTTPS set ``TELEGRAM_MODE=poll`` and the gateway long-polls getUpdates
instead (https://core.telegram.org/bots/api#getupdates). Both feed :func:`parse_update`.

Outbound, replies are sent as plain text (no parse_mode: an OPD's answer or a citizen's words
must never be read as markup) and quote the citizen's message with ``reply_parameters``
(https://core.telegram.org/bots/api#replyparameters).

Bot API URLs carry the bot token (``/bot<token>/<method>``), so the token is kept out of error
texts, and httpx's request log (which prints URLs at INFO) is limited to warnings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

import httpx
import structlog
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest as TelegramBadRequest
from telegram.error import (
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from channels.base import (
    BadRequest,
    InboundResult,
    OutboundReply,
    PollContext,
    PollerHealth,
    RawRequest,
    SendError,
    SendResult,
    Unauthorized,
    read_json,
    same_secret,
)
from channels.telegram.updates import ALLOWED_UPDATES, RATING_BUTTONS, parse_update
from config.settings import ConfigurationError, Settings
from normalizer.text import split_for_messages, utf16_units

log = structlog.get_logger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# setWebhook's secret_token: "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed."
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
CURSOR_KEY = "telegram:offset"
LONG_POLL_SECONDS = 25
MAX_MESSAGE_UTF16 = 4096  # sendMessage text: 1-4096 characters, counted in UTF-16 code units
# Update ids restart at a random number after a week without updates
# (https://core.telegram.org/bots/api#update); an old offset could then hide new updates, so
# after six idle days the poll asks without one (everything earlier is confirmed by then).
IDLE_OFFSET_RESET_SECONDS = 6 * 24 * 3600
# httpx failures that happen before a request leaves: retrying after them cannot send twice.
# Issue 14: one row of buttons under an answer; a press comes back as a callback_query (updates.py).
_RATING_KEYBOARD = InlineKeyboardMarkup(
    [[InlineKeyboardButton(keyword, callback_data=data) for data, keyword in RATING_BUTTONS.items()]]
)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class TelegramPollError(RuntimeError):
    """The long poll cannot go on (bad token, another poller, ...); the message names no secret."""


class TelegramChannel:
    """Adapter for one Telegram bot (webhook or long poll in, Bot API out)."""

    name = "telegram"
    idempotent_sends = False  # a repeated send may reach the citizen twice (README: send outcomes)
    channel = "telegram"
    methods: tuple[str, ...] = ("POST",)

    def __init__(self, settings: Settings) -> None:
        """Read the settings; raises :class:`ConfigurationError` when they cannot work."""
        self.token = settings.telegram_bot_token or ""
        self.secret = settings.telegram_webhook_secret or None
        self.mode = (settings.telegram_mode or "").strip().lower()
        if self.mode not in ("webhook", "poll"):
            raise ConfigurationError(f"TELEGRAM_MODE must be webhook or poll, not {settings.telegram_mode!r}")
        if self.mode == "webhook" and not self.secret:
            raise ConfigurationError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook")
        if self.secret and not _SECRET_RE.fullmatch(self.secret):
            raise ConfigurationError(
                "TELEGRAM_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and - "
                "(1-256 characters): setWebhook refuses anything else"
            )
        # No webhook route in poll mode: nobody should be able to inject updates there.
        self.path: str | None = "/channels/telegram" if self.mode == "webhook" else None
        self.api_base = settings.telegram_api_base.rstrip("/")
        self.timeout = settings.send_timeout_seconds
        self.long_poll_seconds = LONG_POLL_SECONDS
        self._bot: Bot | None = None
        self._bot_lock: asyncio.Lock | None = None
        httpx_log = logging.getLogger("httpx")
        if httpx_log.level < logging.WARNING:
            httpx_log.setLevel(logging.WARNING)

    # -- inbound -----------------------------------------------------------------------
    def verify(self, request: RawRequest) -> None:
        """Compare ``X-Telegram-Bot-Api-Secret-Token`` with TELEGRAM_WEBHOOK_SECRET in constant time.

        Raises :class:`Unauthorized` when it is missing or wrong (or no secret is configured).
        """
        if not self.secret:
            raise Unauthorized("the Telegram webhook is off (no TELEGRAM_WEBHOOK_SECRET)")
        given = request.header(SECRET_HEADER)
        if not given:
            raise Unauthorized(f"missing {SECRET_HEADER}")
        if not same_secret(given, self.secret):
            raise Unauthorized(f"{SECRET_HEADER} does not match")

    def parse(self, request: RawRequest) -> InboundResult:
        """Read the Update in the body; raises :class:`BadRequest` for malformed JSON."""
        request.require_media_type("application/json")
        data = read_json(request.body)
        return parse_update(data)

    def answer(self, request: RawRequest, tickets: list[str | None]) -> tuple[int, str, bytes]:
        """An empty 200: Telegram then considers the update delivered."""
        return 200, "application/json", b"{}"

    # -- outbound ----------------------------------------------------------------------
    async def send(self, reply: OutboundReply) -> SendResult:
        """sendMessage (https://core.telegram.org/bots/api#sendmessage), quoting ``thread_ref``.

        Texts over 4096 characters go as several messages, only the first quoting. Raises
        :class:`SendError`: permanent when the citizen blocked the bot (403) or Telegram refuses
        the request (400, bad token), retryable for 429 and network trouble.
        """
        if not self.token:
            raise SendError("TELEGRAM_BOT_TOKEN is not set", retryable=False)
        if not reply.text.strip():
            raise SendError("empty reply: Telegram refuses empty messages", retryable=False)
        bot = await self._sending_bot()
        parts = split_message(reply.text)
        # A long answer goes in parts; a retry resumes after the parts that already arrived
        # (``reply.parts_sent``, kept on the outbox row), so the citizen neither loses the end
        # of an answer nor gets its beginning twice, whichever worker retries.
        first_id: int | None = None
        for index in range(min(reply.parts_sent, len(parts)), len(parts)):
            quote = reply.thread_ref if index == 0 and reply.thread_ref and reply.thread_ref.isdigit() else None
            # allow_sending_without_reply: the citizen may have deleted their message; the
            # answer must still arrive.
            params = ReplyParameters(message_id=int(quote), allow_sending_without_reply=True) if quote else None
            # Issue 14: the answer's last part carries the PUAS / TIDAK PUAS buttons.
            buttons = _RATING_KEYBOARD if reply.kind == "answer" and index == len(parts) - 1 else None
            try:
                message = await bot.send_message(
                    chat_id=reply.address, text=parts[index], reply_parameters=params, reply_markup=buttons
                )
            except TelegramError as exc:
                error = self._send_error(exc, index, len(parts))
                raise SendError(
                    str(error),
                    retryable=error.retryable,
                    outcome_unknown=error.outcome_unknown,
                    parts_sent=index,
                    provider_message_id=str(first_id) if first_id is not None else None,
                ) from None
            if index == 0:
                first_id = message.message_id
        # A resumed send did not send part 1: the outbox row already holds that part's id.
        return SendResult(provider_message_id=str(first_id) if first_id is not None else None)

    async def close(self) -> None:
        """Shut down the sending bot's HTTP pool."""
        if self._bot is not None:
            bot, self._bot = self._bot, None
            await bot.shutdown()

    async def _sending_bot(self) -> Bot:
        # Created on first use, in the loop that sends (workers/outbound.py runs its own).
        if self._bot_lock is None:
            self._bot_lock = asyncio.Lock()
        async with self._bot_lock:
            if self._bot is None:
                bot = self._make_bot()
                try:
                    await bot.initialize()  # getMe: also proves the token
                except TelegramError as exc:
                    await bot.shutdown()
                    raise self._send_error(exc, 0, 1) from None
                self._bot = bot
            return self._bot

    def _make_bot(self) -> Bot:
        """A Bot on TELEGRAM_API_BASE (a self-hosted Bot API server works the same way)."""
        return Bot(
            self.token,
            # PTB appends the token to base_url: "<base>/bot" + token → "<base>/bot<token>/<method>".
            base_url=f"{self.api_base}/bot",
            base_file_url=f"{self.api_base}/file/bot",
            request=self._http(pool_size=16),
            # get_updates adds the long-poll timeout to this read timeout itself.
            get_updates_request=self._http(pool_size=1),
        )

    def _http(self, *, pool_size: int) -> HTTPXRequest:
        """PTB's HTTP client with every one of its time-outs set to ours."""
        return HTTPXRequest(
            connection_pool_size=pool_size,
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            write_timeout=self.timeout,
            pool_timeout=self.timeout,
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self.token, "<token>") if self.token else text

    def _send_error(self, exc: TelegramError, index: int, parts: int) -> SendError:
        text = self._scrub(f"{type(exc).__name__}: {exc.message}")
        if index > 0:
            text = f"part {index + 1} of {parts} not sent ({text})"
        if isinstance(exc, RetryAfter):  # 429 flood control; the text says how long to wait
            return SendError(text, retryable=True)
        if isinstance(exc, Forbidden):
            # "bot was blocked by the user", "user is deactivated": no retry will get through.
            return SendError(text, retryable=False)
        if isinstance(exc, TelegramBadRequest | InvalidToken | ChatMigrated):
            return SendError(text, retryable=False)
        if isinstance(exc, NetworkError):  # includes TimedOut and 5xx answers
            # sendMessage has no idempotency key: a time-out or a dropped connection after the
            # request left may have delivered it. Only a failure to connect certainly did not.
            cause = exc.__cause__
            unknown = isinstance(cause, httpx.HTTPError) and not isinstance(cause, _NOT_SENT)
            return SendError(text + (" (may have arrived)" if unknown else ""), retryable=True, outcome_unknown=unknown)
        return SendError(text, retryable=False)

    # -- long poll ---------------------------------------------------------------------
    def polling_enabled(self) -> bool:
        """True when TELEGRAM_MODE=poll."""
        return self.mode == "poll"

    async def poll(self, ctx: PollContext) -> None:
        """Long-poll getUpdates until ``ctx.stopping`` is set.

        Each batch is accepted durably before the offset moves past it (``ctx.cursor_set``), so
        a crash in between re-reads the batch and the inbox's unique key drops the repeats.
        Network trouble while polling is waited out here. Trouble at start-up (getMe,
        deleteWebhook), a bad token or a second poller on the same bot raises
        :class:`TelegramPollError`, naming no secret; the gateway restarts the poll with backoff.
        """
        bot = self._make_bot()
        try:
            await bot.initialize()
            # getUpdates answers 409 Conflict while a webhook is set.
            await bot.delete_webhook(drop_pending_updates=False)
            offset = _parse_offset(await ctx.cursor_get(CURSOR_KEY))
            log.info("telegram_polling", offset=offset)
            idle_since, backoff = time.monotonic(), 1.0
            while not ctx.stopping.is_set():
                try:
                    updates = await self._fetch(bot, offset, ctx.stopping)
                except RetryAfter as exc:
                    await _sleep(ctx.stopping, _seconds(exc.retry_after))
                    continue
                except TimedOut:
                    continue  # a long poll cut by a proxy or a slow network: ask again
                except NetworkError as exc:
                    if isinstance(exc, TelegramBadRequest):
                        raise
                    log.warning("telegram_poll_network", error=self._scrub(str(exc))[:200], wait=backoff)
                    await self._report(ctx, "error", error=self._scrub(f"{type(exc).__name__}: {exc}")[:300])
                    await _sleep(ctx.stopping, backoff)
                    backoff = min(backoff * 2, 60.0)
                    continue
                if updates is None:
                    break
                await self._report(ctx, "connected", polled=True)
                backoff = 1.0
                if not updates:
                    if offset is not None and time.monotonic() - idle_since > IDLE_OFFSET_RESET_SECONDS:
                        offset = None
                    continue
                idle_since = time.monotonic()
                intakes, last_id = _intakes(updates)
                if intakes:
                    await ctx.accept(intakes)
                if last_id >= 0:
                    offset = last_id + 1
                    await ctx.cursor_set(CURSOR_KEY, str(offset))
        except TelegramError as exc:
            raise TelegramPollError(self._scrub(f"{type(exc).__name__}: {exc.message}")) from None
        finally:
            await bot.shutdown()

    async def _report(self, ctx: PollContext, status: str, *, error: str | None = None, polled: bool = False) -> None:
        """Tell the operators how the long poll is doing; a failed report never stops the poll."""
        try:
            await ctx.report(
                PollerHealth(poller=self.name, provider=self.name, status=status, error=error, polled=polled)
            )
        except Exception as exc:  # noqa: BLE001
            log.warning("telegram_health_not_saved", error=type(exc).__name__)

    async def _fetch(self, bot: Bot, offset: int | None, stopping: asyncio.Event) -> list[dict[str, Any]] | None:
        """One getUpdates call, as raw Update dicts; None when ``stopping`` came first."""
        fetch = asyncio.ensure_future(
            bot.get_updates(offset=offset, timeout=int(self.long_poll_seconds), allowed_updates=list(ALLOWED_UPDATES))
        )
        stop = asyncio.ensure_future(stopping.wait())
        try:
            done, _ = await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, TelegramError):
                    await fetch
        if fetch not in done:
            return None
        # Back to the wire shape, so the webhook and the poll share parse_update.
        return [update.to_dict() for update in fetch.result()]

    async def set_webhook(self, url: str) -> None:
        """Point Telegram at ``url`` with our secret and the update types we read (``intake telegram set-webhook``)."""
        if not self.secret:
            raise ConfigurationError("TELEGRAM_WEBHOOK_SECRET is required to set a webhook")
        async with self._make_bot() as bot:
            await bot.set_webhook(url, secret_token=self.secret, allowed_updates=list(ALLOWED_UPDATES))


def _intakes(updates: list[dict[str, Any]]) -> tuple[list[Any], int]:
    """Intakes of a getUpdates batch, and the highest update_id in it."""
    intakes: list[Any] = []
    last_id = -1
    for data in updates:
        update_id = data.get("update_id")
        if isinstance(update_id, int):
            last_id = max(last_id, update_id)
        try:
            result = parse_update(data)
        except BadRequest as exc:
            # No one to answer 400 to: skip it, or one bad update would block the bot for ever.
            log.warning("telegram_update_unreadable", update_id=update_id, reason=str(exc))
            continue
        if result.ignored:
            log.info("telegram_update_ignored", update_id=update_id, reason=result.ignored)
        intakes.extend(result.intakes)
    return intakes, last_id


def split_message(text: str, limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """Cut ``text`` into pieces Telegram accepts (it counts UTF-16 units), between words where possible."""
    return split_for_messages(text, limit, units=utf16_units)


def _parse_offset(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        log.warning("telegram_offset_unreadable")
        return None


def _seconds(value: Any) -> float:
    # RetryAfter.retry_after is an int today and a timedelta in PTB's next major version.
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


async def _sleep(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
