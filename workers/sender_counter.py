"""Counts messages per sender against ``SENDER_RATE_LIMIT`` (issue 12, abuse limits).

A sender is the address answers go to on the channel the message came in on: the phone of an
SMS, the e-mail address, the Telegram chat, the X or WhatsApp user, the app's device. Counting
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

from config.settings import Settings
from normalizer.envelope import ComplaintEnvelope

log = structlog.get_logger(__name__)

# The web form's reply address is whatever the citizen typed ("-" when nothing): its sender is
# the client address, counted by the gateway (gateway/rate_limits.py).
NOT_COUNTED_CHANNELS = frozenset({"web"})


def sender_key(envelope: ComplaintEnvelope) -> tuple[str, str] | None:
    """(channel, address) the message is counted under, or None for a message not counted."""
    route = envelope.reply_route
    address = route.address.strip().lower()
    if envelope.source_details is not None:
        return None  # entered by staff (call centre, newspaper): not the citizen writing
    if envelope.channel in NOT_COUNTED_CHANNELS or address in ("", "-"):
        return None
    return route.channel, address


class SenderCounter:
    """Burst and hourly windows per sender; :meth:`over_limit` counts one message."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.enabled = settings.rate_limits_enabled
        self.rules: tuple[RateLimitItem, ...] = settings.rate_limit("sender_rate_limit")
        if storage is None:
            storage = (
                RedisStorage(settings.redis_url, key_prefix=f"{settings.redis_namespace}:limits")
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
            within = [self.limiter.hit(item, "sender", *key) for item in self.rules]
        except Exception as exc:  # noqa: BLE001 - a broken counter store must not stop intake
            log.warning("sender_limit_store_failed", error=type(exc).__name__)
            return False
        return not all(within)
