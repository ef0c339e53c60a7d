"""The Android app (being written: issue 4). Placeholder so the registry line exists."""

from __future__ import annotations

from channels.base import OutboundReply, SendError, SendResult
from config.settings import Settings


class AndroidApp:
    """The city's Android app: JSON API in, FCM push out."""

    name = "app"
    channel = "app"
    path: str | None = None
    methods: tuple[str, ...] = ()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, reply: OutboundReply) -> SendResult:
        """Not implemented yet."""
        raise SendError("push is not implemented yet", retryable=False)

    async def close(self) -> None:
        """Nothing to close."""
