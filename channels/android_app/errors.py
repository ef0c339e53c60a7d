"""Errors of the app channel, apart from the FCM client so importing them loads no Google library."""

from __future__ import annotations

from channels.base import SendError


class PushTokenDead(SendError):
    """FCM answered ``UNREGISTERED``: this registration token will never work again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
