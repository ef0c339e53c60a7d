"""Reading version-1 envelopes: the facts workers need were channel-specific keys of ``raw``.

Inbox rows accepted before version 2 may still wait for a worker (or be swept again), so
:func:`upgrade_v1` turns such a dict into the version-2 shape: ``raw`` stays as it was (the
record), and what it said goes into the typed fields. Works on plain dicts so that
``normalizer.envelope`` can use it without an import cycle.
"""

from __future__ import annotations

from typing import Any

from normalizer.chat import parse_command

__all__ = ["upgrade_v1"]

# Telegram's PhotoSize is always a JPEG; a photo sent "as a file" names its own type.
_TELEGRAM_PHOTO_TYPE = "image/jpeg"


def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of the version-1 envelope ``data`` with the version-2 typed fields filled from ``raw``.

    Keys the dict already has are kept, so a dict that is partly version 2 is not overwritten.
    """
    raw = data.get("raw") or {}
    out = dict(data)
    if not isinstance(raw, dict):
        return out
    out.setdefault("thread", _thread(raw))
    out.setdefault("automatic", _str(raw.get("auto")))
    out.setdefault("bounce", _bounce(raw.get("dsn")))
    if data.get("kind") == "conversation":
        out.setdefault("turn", _turn(raw, str(data.get("text") or "")))
    out.setdefault("attachments_to_fetch", _files(raw.get("photo"), str(data.get("provider") or "")))
    return out


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _ids(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list | tuple) else []


def _thread(raw: dict[str, Any]) -> dict[str, Any]:
    # raw["message_id"] of a Telegram turn is an int: the chat message, not a thread id.
    return {
        "message_id": _str(raw.get("message_id")),
        "in_reply_to": _ids(raw.get("in_reply_to")),
        "references": _ids(raw.get("references")),
        "case_ticket": _str(raw.get("case_ticket")),
    }


def _bounce(dsn: Any) -> dict[str, Any] | None:
    if not isinstance(dsn, dict):
        return None
    return {key: _str(dsn.get(key)) for key in ("original_message_id", "action", "status", "diagnostic")}


def _turn(raw: dict[str, Any], text: str) -> dict[str, Any]:
    content = str(raw.get("content") or "text")
    turn: dict[str, Any] = {
        "content": content if content in ("photo", "location", "contact") else "text",
        "message_id": str(raw["message_id"]) if raw.get("message_id") is not None else None,
        "edited": bool(raw.get("edited")),
        "contact_phone": _str(raw.get("contact_phone")),
        "command": None,
        "args": "",
    }
    if content.startswith("unsupported:"):
        turn["content"] = "other"
    elif content == "text" and (command := parse_command(text)) is not None:
        turn.update(content="command", command=command[0], args=command[1])
    return turn


def _files(photo: Any, provider: str) -> list[dict[str, Any]]:
    if not isinstance(photo, dict) or not _str(photo.get("file_id")):
        return []
    size = photo.get("file_size")
    return [
        {
            "provider": provider,
            "ref": photo["file_id"],
            "content_type": _str(photo.get("mime_type")) or _TELEGRAM_PHOTO_TYPE,
            "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
        }
    ]
