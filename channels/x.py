"""X (being written: issue 4). Placeholder so the registry line exists."""

from __future__ import annotations

from channels.base import OutboundReply, SendError, SendResult
from config.settings import Settings


class XChannel:
    """X: mentions and DMs in (poll or Account Activity webhook), replies and DMs out."""

    name = "x"
    channel = "x"
    path: str | None = None
    methods: tuple[str, ...] = ()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, reply: OutboundReply) -> SendResult:
        """Not implemented yet."""
        raise SendError("X sending is not implemented yet", retryable=False)

    async def close(self) -> None:
        """Nothing to close."""
