"""Telegram channel: the adapter (``adapter.py``) and the sans-I/O Update parser (``updates.py``)."""

from channels.telegram.adapter import CURSOR_KEY, SECRET_HEADER, TelegramChannel, split_message
from channels.telegram.updates import ALLOWED_UPDATES, IGNORED_UPDATES, parse_update

__all__ = [
    "ALLOWED_UPDATES",
    "CURSOR_KEY",
    "IGNORED_UPDATES",
    "SECRET_HEADER",
    "TelegramChannel",
    "parse_update",
    "split_message",
]
