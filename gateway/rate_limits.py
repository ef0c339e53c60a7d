"""Per-address limits on the public ticket look-ups and app device registration (issue 12).

A ticket number is short: one client trying numbers one after another could walk the public
tracking pages, and an unlimited ``POST /api/v1/devices`` fills the device table. Each client
address (:mod:`gateway.client_address`) gets ``LOOKUP_RATE_LIMIT`` look-ups and
``DEVICE_REGISTRATION_RATE_LIMIT`` registrations (``limits`` notation, e.g. ``60/minute;600/hour``);
past either window the answer is ``429`` with ``Retry-After`` in seconds.

Counters live in Redis when ``REDIS_URL`` is set, so every gateway process counts together, and
in this process's memory in the embedded set-up. A counter store that fails lets the request
through (logged): a limit protects the service, it must not take it down with Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.asyncio import ConnectionPool

from channels.web_form import CLIENT_SENDER_PREFIX
from config.settings import Settings
from gateway.client_address import client_address, counted_as
from gateway.keys import SETTINGS
from gateway.secret_key import resolve_secret_key

log = structlog.get_logger(__name__)

LOOKUP = "lookup"
REGISTRATION = "registration"
_SETTING = {LOOKUP: "lookup_rate_limit", REGISTRATION: "device_registration_rate_limit"}

STORE_TIMEOUT_SECONDS = 1.0
"""Longest wait for the Redis counters before a request is let through uncounted."""

Refusal = Callable[[web.Request, int], Awaitable[web.StreamResponse] | web.StreamResponse]


def limits_storage_key_prefix(settings: Settings) -> str:
    """Where the counters live in Redis: beside the queue's keys, under their namespace."""
    return f"{settings.redis_namespace}:limits"


class AddressLimiter:
    """Counts requests per (kind, client address) and says how long a client over its limit waits."""

    def __init__(self, settings: Settings, storage: Storage, pool: ConnectionPool | None = None) -> None:
        self.pool = pool
        # Names web-form senders without keeping their address (see web_form_sender).
        self.client_key = hashlib.sha256(
            b"web-form-client\0" + resolve_secret_key(settings, distributed=False)
        ).digest()
        self.enabled = settings.rate_limits_enabled
        self.proxies = settings.trusted_proxy_networks
        self.rules: dict[str, tuple[RateLimitItem, ...]] = {k: settings.rate_limit(v) for k, v in _SETTING.items()}
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressLimiter:
        """Redis counters when ``REDIS_URL`` is set, else memory counters."""
        if not settings.redis_url:
            return cls(settings, MemoryStorage())
        # Our own pool, so close() can release its connections.
        # Short time-outs: a Redis that hangs must not hold look-ups (a failed count lets them through).
        pool = ConnectionPool.from_url(
            settings.redis_url, socket_timeout=STORE_TIMEOUT_SECONDS, socket_connect_timeout=STORE_TIMEOUT_SECONDS
        )
        storage = RedisStorage(
            "async+" + settings.redis_url,
            implementation="redispy",
            key_prefix=limits_storage_key_prefix(settings),
            connection_pool=pool,  # type: ignore[arg-type]
        )
        return cls(settings, storage, pool)

    async def retry_after(self, kind: str, address: str) -> int | None:
        """Count one request; None when it is within every limit, else the seconds to wait."""
        if not self.enabled:
            return None
        try:
            for item in self.rules[kind]:
                if not await self.limiter.hit(item, kind, address):
                    stats = await self.limiter.get_window_stats(item, kind, address)
                    return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception as exc:  # noqa: BLE001 - a broken counter store must not refuse citizens
            log.warning("rate_limit_store_failed", kind=kind, error=type(exc).__name__)
        return None

    def web_form_sender(self, request: web.Request) -> str:
        """The web form's sender for the per-sender limit (counted by the verify worker): the
        client's address (its /64 for IPv6) as a keyed digest, so no address is stored."""
        address = counted_as(client_address(request, self.proxies))
        return CLIENT_SENDER_PREFIX + hmac.new(self.client_key, address.encode(), hashlib.sha256).hexdigest()[:32]

    async def close(self) -> None:
        """Close the Redis connections (memory counters need nothing)."""
        if self.pool is not None:
            await self.pool.aclose()


ADDRESS_LIMITER = web.AppKey("address_limiter", AddressLimiter)


def too_many_requests_json(request: web.Request, retry_after: int) -> web.Response:
    """The app API's 429: its one JSON error shape, with ``Retry-After``."""
    detail = f"too many requests from this address; try again in {retry_after} s"
    # The shape of gateway.app_api.responses.error (not imported: the app API imports this module).
    body = {"error": "too_many_requests", "detail": detail}
    return web.json_response(body, status=429, headers={"Retry-After": str(retry_after)})


def limited(kind: str, handler: Handler, refuse: Refusal = too_many_requests_json) -> Handler:
    """``handler`` behind the per-address limit ``kind``; ``refuse`` answers a client over it."""

    async def limited_handler(request: web.Request) -> web.StreamResponse:
        limiter = request.config_dict[ADDRESS_LIMITER]
        wait = await limiter.retry_after(kind, counted_as(client_address(request, limiter.proxies)))
        if wait is None:
            return await handler(request)
        # The address itself stays out of the log (it can identify a citizen).
        log.info("rate_limited", kind=kind, path=request.path, retry_after=wait)
        answer = refuse(request, wait)
        return answer if isinstance(answer, web.StreamResponse) else await answer

    limited_handler.__doc__ = handler.__doc__
    return limited_handler


def setup_address_limits(app: web.Application) -> None:
    """Give the app its limiter (no connection is made before the first count); closed on clean-up."""
    app[ADDRESS_LIMITER] = AddressLimiter.from_settings(app[SETTINGS])

    async def close_limiter(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[ADDRESS_LIMITER].close()

    app.cleanup_ctx.append(close_limiter)
