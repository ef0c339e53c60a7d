"""Request-level limits for every route, in one place (issue 12).

What one client may make the server do, whatever route it calls:

- **Headers**: the longest request line and header field (``MAX_HEADER_BYTES``) and the number of
  header lines (``MAX_HEADER_COUNT``) are aiohttp's parser limits, passed to the runner by
  :func:`server_options`. A client that has not sent its complete headers within
  ``REQUEST_READ_TIMEOUT_SECONDS`` is disconnected (aiohttp's keep-alive timer covers a request
  that has not arrived yet).
- **Body time**: :func:`request_limits` watches the body of every request while its handler runs.
  A body that pauses longer than ``REQUEST_READ_TIMEOUT_SECONDS``, or is still incomplete after ten
  times that, fails the handler's read at once with :class:`BodyReadTimeout`: the client is answered
  408 and the connection closed, so a slow or stalled client holds no handler.
- **Body size and form fields**: ``client_max_size`` and ``client_max_fields`` bound what
  ``request.read()``/``request.post()`` take (chunked or not: aiohttp counts the bytes as they come).
  Handlers that stream a form themselves (the web form, the app API) count with a
  :class:`FormBudget` built from the same settings.
- **Unreadable bodies**: a body aiohttp cannot decode (``Content-Encoding: gzip`` that is not gzip,
  a broken chunk) is a 400 with the reason, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from config.settings import Settings
from gateway.app_api.responses import error
from gateway.keys import SETTINGS

log = structlog.get_logger(__name__)

BODY_DEADLINE_FACTOR = 10
"""A body may keep trickling in, but never take longer than this many read timeouts in all."""
MAX_LINGER_SECONDS = 5.0
"""How long aiohttp keeps reading a body its handler did not want, before it closes the connection."""


class BodyReadTimeout(Exception):
    """The client stopped sending its body (or sends it too slowly); answered 408."""


class BodyTooLarge(Exception):
    """A streamed body passed its size limit; ``limit`` is in bytes. Answered 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


class TooManyFields(Exception):
    """A form has more parts or fields than ``MAX_FORM_FIELDS``; answered 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} form fields")
        self.limit = limit


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``web.AppRunner``: header limits and the header read timeout."""
    return {
        "max_line_size": settings.max_header_bytes,
        "max_field_size": settings.max_header_bytes,
        "max_headers": settings.max_header_count,
        # A connection without a complete request (headers still trickling in, or idle between
        # requests) is closed after this long.
        "keepalive_timeout": settings.request_read_timeout_seconds,
        "lingering_time": min(MAX_LINGER_SECONDS, settings.request_read_timeout_seconds),
    }


class FormBudget:
    """Counts what a handler streams out of a form body: bytes in all, and parts/fields."""

    def __init__(self, max_bytes: int, max_fields: int) -> None:
        self.max_bytes = max_bytes
        self.max_fields = max_fields
        self.bytes = 0
        self.fields = 0

    @classmethod
    def for_request(cls, request: web.Request, max_bytes: int) -> FormBudget:
        """A budget of ``max_bytes`` and the app's ``MAX_FORM_FIELDS``."""
        return cls(max_bytes, request.app[SETTINGS].max_form_fields)

    def field(self) -> None:
        """Count one more part; raises :class:`TooManyFields` past the limit."""
        self.fields += 1
        if self.fields > self.max_fields:
            raise TooManyFields(self.max_fields)

    def take(self, size: int) -> None:
        """Count ``size`` more bytes; raises :class:`BodyTooLarge` past the limit."""
        self.bytes += size
        if self.bytes > self.max_bytes:
            raise BodyTooLarge(self.max_bytes)


class _BodyWatchdog:
    """Fails the request's body stream when no byte arrived for ``timeout`` seconds."""

    def __init__(self, request: web.Request, timeout: float) -> None:
        self.payload = request.content
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + timeout * BODY_DEADLINE_FACTOR
        self.seen = self.payload.total_bytes
        self.fired: str | None = None
        self.handle: asyncio.TimerHandle | None = self.loop.call_later(timeout, self._check)

    def _check(self) -> None:
        self.handle = None
        if self.payload.is_eof():
            return  # every byte has arrived; how fast the handler reads them is its own business
        received = self.payload.total_bytes
        if received == self.seen:
            self.fired = f"no body bytes for {self.timeout:g} s"
        elif self.loop.time() >= self.deadline:
            self.fired = f"body not complete after {self.timeout * BODY_DEADLINE_FACTOR:g} s"
        if self.fired:
            # Wakes the handler's pending read with the exception: the handler ends at once.
            self.payload.set_exception(BodyReadTimeout(self.fired))
            return
        self.seen = received
        self.handle = self.loop.call_later(self.timeout, self._check)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


_CODES = {400: "bad_request", 408: "request_timeout", 413: "too_large"}


async def _refuse_and_close(request: web.Request, status: int, reason: str) -> web.StreamResponse:
    """Answer ``status`` with ``reason`` and close the connection.

    The body is unread (and can only fail again): closing skips aiohttp's "lingering" read of
    it, which would hold the connection and log the body's error as an unhandled exception.
    Under ``/api/`` the answer is the app API's JSON error shape.
    """
    if request.path.startswith("/api/"):
        response: web.Response = error(status, _CODES[status], reason)
    else:
        response = web.Response(status=status, text=f"{reason}\n")
    return await _send_and_close(request, response)


async def unreadable_body_answer(request: web.Request, reason: str) -> web.StreamResponse:
    """400 with ``reason`` for a body that failed to decode, closing the connection."""
    return await _refuse_and_close(request, 400, reason)


async def _unread_body_fails(request: web.Request) -> bool:
    """Read and drop what the handler left of the body; True when that fails or takes too long.

    aiohttp would do this read itself after the answer ("lingering"), and log a body that fails
    to decode (a bad gzip stream behind a 401) as an unhandled exception.
    """
    content = request.content
    if not request.body_exists or content.is_eof():
        return False
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity") and content.exception() is None:
        # Plain bytes cannot fail to decode: answer at once (a browser still uploading an
        # oversized photo reads its 413 page now) and let aiohttp drop the rest as usual.
        return False
    try:
        async with asyncio.timeout(MAX_LINGER_SECONDS):
            while not content.is_eof():
                if not await content.readany() and not content.is_eof():
                    return True
    except (TimeoutError, HttpProcessingError, web.RequestPayloadError, BodyReadTimeout):
        return True
    return False


async def _send_and_close(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Send ``response`` now and close the connection (see :func:`_refuse_and_close`)."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


@web.middleware
async def request_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the body read timeout and turn limit and body-decoding errors into 408/413/400.

    Installed innermost (after the other middlewares), so a handler's own error pages still
    win where it catches these errors itself (the web form's 413 page).
    """
    settings = request.app[SETTINGS]
    watchdog = _BodyWatchdog(request, settings.request_read_timeout_seconds) if request.body_exists else None
    try:
        response = await handler(request)
    except BodyReadTimeout as exc:
        log.info("request_read_timeout", path=request.path, method=request.method, reason=str(exc))
        return await _refuse_and_close(request, 408, f"request timeout: {exc}")
    except (BodyTooLarge, TooManyFields) as exc:
        log.info("request_too_large", path=request.path, method=request.method, reason=str(exc))
        return await _refuse_and_close(request, 413, f"request too large: {exc}")
    except (HttpProcessingError, web.RequestPayloadError) as exc:
        # Body bytes aiohttp cannot decode (a bad gzip stream, a broken chunk): the client's fault.
        reason = body_error_reason(exc)
        log.info("request_body_unreadable", path=request.path, method=request.method, reason=reason)
        return await _refuse_and_close(request, 400, f"unreadable request body: {reason}")
    except web.HTTPException as exc:
        if await _unread_body_fails(request):
            # e.g. 401 or 415 before the body was read, on a body that already failed to decode.
            return await _send_and_close(request, exc)
        raise
    finally:
        if watchdog is not None:
            watchdog.cancel()
    if watchdog is not None and watchdog.fired and not response.prepared:
        # The handler swallowed the read error: it is still a timeout, not whatever it answered.
        log.info("request_read_timeout", path=request.path, method=request.method, reason=watchdog.fired)
        return await _refuse_and_close(request, 408, f"request timeout: {watchdog.fired}")
    if not response.prepared and await _unread_body_fails(request):
        return await _send_and_close(request, response)
    return response


def body_error_reason(exc: BaseException) -> str:
    """A short, data-free reason for a body aiohttp refused to decode."""
    cause = exc.__cause__ if isinstance(exc, web.RequestPayloadError) and exc.__cause__ else exc
    name = type(cause).__name__
    if name == "ContentEncodingError" or "compress" in str(cause).lower():
        return "the body does not match its Content-Encoding"
    return name


class _ClientErrorsAreNotOurs(logging.Filter):
    """aiohttp logs a request its parser refuses (a ``Content-Encoding: br`` it cannot decode, an
    over-long header) with a traceback at ERROR, after answering it 400 itself. That is the
    client's mistake, not ours: keep one INFO line with the reason, so real errors stand out."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and str(record.msg).startswith("Error handling request"):
            record.msg, record.args = "request refused by the HTTP parser: %s", (type(exc).__name__,)
            record.levelno, record.levelname, record.exc_info, record.exc_text = logging.INFO, "INFO", None, None
        return True


_PARSER_LOG_FILTER = _ClientErrorsAreNotOurs()


def setup_limits(app: web.Application) -> None:
    """Install :func:`request_limits`; call after the other middlewares are added."""
    app.middlewares.append(request_limits)
    logging.getLogger("aiohttp.server").addFilter(_PARSER_LOG_FILTER)  # adding it twice is a no-op
