"""Counts messages per sender against ``SENDER_RATE_LIMIT`` (issue 12, abuse limits).

A sender is the address answers go to on the channel the message came in on: the phone of an
SMS, the e-mail address, the Telegram chat, the X or WhatsApp user, the app's device; for the
web form, the client's address (``WEB_FORM_RATE_LIMIT``, see :func:`sender_key`). Counting
runs in the verify worker, after the message is stored, so the accept path stays as fast as it
was and nothing is refused. Counters live in Redis when ``REDIS_URL`` is set (every worker
process counts together) and in memory in the embedded set-up, where the workers are threads of
one process. A counter store that fails counts nothing (logged): the message is then handled as
usual, never lost.
"""

from __future__ import annotations

import structlog
from limits import RateLimitItem
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from channels.web_form import CLIENT_SENDER_PREFIX
from config.settings import Settings
from normalizer.envelope import ComplaintEnvelope

log = structlog.get_logger(__name__)

WEB = "web"
STORE_TIMEOUT_SECONDS = 1.0


def sender_key(envelope: ComplaintEnvelope) -> tuple[str, str] | None:
    """(channel, sender) the message is counted under, or None for a message not counted.

    Every channel but the web form counts the reply address; the web form counts the client
    address the gateway named it by (``CLIENT_SENDER_PREFIX``), because its reply address is
    whatever the citizen typed and can change with every post.
    """
    if envelope.source_details is not None:
        return None  # entered by staff (call centre, newspaper): not the citizen writing
    if envelope.channel == WEB:
        return (WEB, envelope.sender) if envelope.sender.startswith(CLIENT_SENDER_PREFIX) else None
    route = envelope.reply_route
    address = route.address.strip().lower()
    return (route.channel, address) if address not in ("", "-") else None


class SenderCounter:
    """Burst and hourly windows per sender; :meth:`over_limit` counts one message."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.enabled = settings.rate_limits_enabled
        self.rules: tuple[RateLimitItem, ...] = settings.rate_limit("sender_rate_limit")
        self.web_rules: tuple[RateLimitItem, ...] = settings.rate_limit("web_form_rate_limit")
        if storage is None:
            storage = (
                RedisStorage(
                    settings.redis_url,
                    key_prefix=f"{settings.redis_namespace}:limits",
                    # A Redis that hangs must not hold the worker: a failed count holds nothing back.
                    socket_timeout=STORE_TIMEOUT_SECONDS,
                    socket_connect_timeout=STORE_TIMEOUT_SECONDS,
                )
                if settings.redis_url
                else MemoryStorage()
            )
        self.limiter = FixedWindowRateLimiter(storage)

    def over_limit(self, envelope: ComplaintEnvelope) -> bool:
        """Count ``envelope`` for its sender; True when it passes any window of ``SENDER_RATE_LIMIT``."""
        key = sender_key(envelope) if self.enabled else None
        if key is None:
            return False
        try:
            # Every window counts every message, so a burst also uses up the hour.
            rules = self.web_rules if key[0] == WEB else self.rules
            within = [self.limiter.hit(item, "sender", *key) for item in rules]
        except Exception as exc:  # noqa: BLE001 - a broken counter store must not stop intake
            log.warning("sender_limit_store_failed", error=type(exc).__name__)
            return False
        return not all(within)
