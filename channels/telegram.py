"""Telegram (being written: issue 4). Placeholder so the registry line exists."""

from __future__ import annotations

from channels.base import OutboundReply, SendError, SendResult
from config.settings import Settings


class TelegramChannel:
    """Telegram bot: webhook or long poll in, Bot API out."""

    name = "telegram"
    channel = "telegram"
    path: str | None = None
    methods: tuple[str, ...] = ()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, reply: OutboundReply) -> SendResult:
        """Not implemented yet."""
        raise SendError("telegram sending is not implemented yet", retryable=False)

    async def close(self) -> None:
        """Nothing to close."""
