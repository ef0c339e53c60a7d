"""Runs the channel adapters' async ``send`` from synchronous worker threads.

One event loop in a daemon thread holds every adapter (and its HTTP connection pool); worker
threads hand it coroutines and wait for the result with a time-out.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from channels.base import OutboundReply, SendError, SendResult
from channels.registry import build_adapters
from config.settings import Settings


class OutboundSender:
    """Sends replies through the enabled adapters, keyed by provider name."""

    def __init__(self, settings: Settings, adapters: dict[str, Any] | None = None) -> None:
        self.timeout = settings.send_timeout_seconds + 5
        self.adapters = adapters if adapters is not None else build_adapters(settings)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="outbound-loop", daemon=True)
        self.thread.start()

    def send(self, reply: OutboundReply) -> SendResult:
        """Send through ``reply.provider``'s adapter; raise :class:`SendError`."""
        adapter = self.adapters.get(reply.provider or reply.channel)
        if adapter is None:
            raise SendError(f"provider {reply.provider!r} is not enabled", retryable=False)
        future = asyncio.run_coroutine_threadsafe(adapter.send(reply), self.loop)
        try:
            return future.result(self.timeout)
        except TimeoutError as exc:
            future.cancel()
            raise SendError("send timed out", retryable=True) from exc

    def close(self) -> None:
        """Close adapter sessions and stop the loop."""
        if not self.loop.is_running():
            return
        for adapter in self.adapters.values():
            try:
                asyncio.run_coroutine_threadsafe(adapter.close(), self.loop).result(5)
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
