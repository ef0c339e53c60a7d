"""Commands typed into a chat channel ("/lapor Jalan rusak", "/cek@KotaBogorBot BGR-7KQ2XMP").

Every chat channel (Telegram, WhatsApp, the app's chat) lets a citizen type the same slash
commands, so they are read here once, for every adapter, and handed to the worker as data.
"""

from __future__ import annotations

import re

__all__ = ["parse_command"]

MAX_COMMAND_CHARS = 64
# The command word ends at any whitespace, a newline included ("/lapor\nJalan rusak").
_COMMAND = re.compile(r"/(\S*)\s*(.*)", re.DOTALL)


def parse_command(text: str) -> tuple[str, str] | None:
    """``(command, arguments)`` of a message that starts with ``/``, else None.

    The command is lower-cased and loses a ``@botname`` suffix (Telegram adds one in group
    menus); the arguments are the rest of the message, stripped. A bare ``/`` gives the
    command ``""`` (answered with help).
    """
    match = _COMMAND.fullmatch(text.strip())
    if match is None:
        return None
    word, args = match.groups()
    return word.split("@", 1)[0].lower()[:MAX_COMMAND_CHARS], args.strip()
