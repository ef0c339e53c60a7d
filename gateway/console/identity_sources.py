"""Where each identity field of a case was read from, in words, for the operator's step-3 check (issue 13).

The case keeps a code per field (``Complaint.identity_sources``: a label as written, the text,
the sender's address, the channel, a guided chat, and when a reply supplied it); this turns a
code into "dari teks pesan, label 'nik'" or "dari pengirim (nomor SMS); dari balasan 12-12-2026
10:02 WIB". The codes never hold a value, so the words are the same on the masked page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

__all__ = ["source_words"]

LAPOR_LABEL = "LAPOR#"


def source_words(
    t: Mapping[str, str], field: str, source: Mapping[str, Any] | None, *, when: Callable[[datetime], str]
) -> str:
    """``source`` (``{"from": code, "reply_at": ISO time}``) of ``field`` in the strings ``t``; "" when unknown."""
    if not source:
        return ""
    code = str(source.get("from") or "")
    words = _origin(t, field, code)
    reply_at = source.get("reply_at")
    if reply_at:
        try:
            moment = datetime.fromisoformat(str(reply_at))
        except ValueError:
            moment = None
        if moment is not None:
            reply = t["source_reply"].format(when=when(moment))
            words = f"{words}; {reply}" if words else reply
    return words


def _origin(t: Mapping[str, str], field: str, code: str) -> str:
    kind, _, detail = code.partition(":")
    if kind == "label":
        return t["source_lapor"] if detail == LAPOR_LABEL else t["source_label"].format(label=detail)
    if kind == "sender":
        key = {"phone": "source_sender_phone", "email": "source_sender_email"}.get(field, "source_sender")
        return t[key]
    if kind == "channel":
        return t["source_channel"].format(channel=t.get("channel_" + detail, detail))
    if kind in ("text", "chat"):
        return t["source_" + kind]
    return ""
