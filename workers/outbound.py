"""Runs the channel adapters' async ``send`` from synchronous worker threads.

One event loop in a daemon thread holds every adapter (and its HTTP connection pool); worker
threads hand it coroutines and wait for the result with a time-out. A send cut off by that
time-out may already have reached the provider: its outcome is unknown, unless the adapter
says its sends are idempotent (``idempotent_sends = True``: the provider drops a repeat).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from channels.base import OutboundAdapter, OutboundReply, ReplyTexts, SendError, SendResult
from channels.registry import Adapters, build_adapters
from config.settings import Settings
from workers.budget import send_time_limit
from workers.push_tokens import make_push_token_killer, make_push_token_lookup


class OutboundSender:
    """Sends replies through the enabled outbound adapters, keyed by provider name."""

    def __init__(
        self,
        settings: Settings,
        adapters: Adapters | None = None,
        *,
        texts: ReplyTexts | None = None,
        sf: sessionmaker[Session] | None = None,
        read_sf: sessionmaker[Session] | None = None,
    ) -> None:
        """Use ``adapters``, or build the enabled ones with ``texts`` (the city's reply renderer)."""
        self.settings = settings
        self.timeout = settings.send_timeout_seconds + 5
        if adapters is None:
            if texts is None:
                raise TypeError("OutboundSender needs adapters, or the texts to build them with")
            adapters = build_adapters(settings, texts=texts)
        built = adapters
        self.adapters: Mapping[str, OutboundAdapter] = built.outbound
        if sf is not None:
            # Adapters that look things up at send time (the app's push tokens) get the store.
            for adapter in built.push.values():
                adapter.bind_push_tokens(make_push_token_lookup(read_sf or sf), make_push_token_killer(sf))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="outbound-loop", daemon=True)
        self.thread.start()

    def reply_timeout(self, reply: OutboundReply) -> float:
        """How long one reply's whole send may take (:func:`workers.budget.send_time_limit`).

        Each provider request has its own time-out inside the adapter; this outer bound only
        catches a send that hangs. It grows with the text (a long answer goes as several
        messages, an X reply as a public post and a DM), so it never cuts a multi-part send
        short while its parts are still arriving — which would lose the count of parts sent
        and make the retry repeat them.
        """
        return send_time_limit(self.settings, reply.text)

    def send_many(self, replies: list[OutboundReply]) -> list[SendResult | BaseException]:
        """Send replies concurrently; one result or exception per reply, in order."""
        future = asyncio.run_coroutine_threadsafe(self._send_all(replies), self.loop)
        try:
            return future.result(max((self.reply_timeout(r) for r in replies), default=self.timeout) + 5)
        except TimeoutError:
            future.cancel()
            return [self._timed_out(r) for r in replies]

    async def _send_all(self, replies: list[OutboundReply]) -> list[SendResult | BaseException]:
        return list(await asyncio.gather(*(self._send_one(r) for r in replies), return_exceptions=True))

    async def _send_one(self, reply: OutboundReply) -> SendResult:
        adapter = self.adapters.get(reply.provider or reply.channel)
        if adapter is None:
            raise SendError(f"provider {reply.provider!r} is not enabled", retryable=False)
        try:
            return await asyncio.wait_for(adapter.send(reply), self.reply_timeout(reply))
        except TimeoutError as exc:
            raise self._timed_out(reply) from exc

    def _timed_out(self, reply: OutboundReply) -> SendError:
        adapter = self.adapters.get(reply.provider or reply.channel)
        idempotent = adapter is not None and adapter.idempotent_sends
        return SendError("send timed out", retryable=True, outcome_unknown=not idempotent)

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
