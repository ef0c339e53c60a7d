"""What the city may say in public on X.

A reply to a mention is public: anyone can read it, next to the citizen's handle. So the
public reply is never the reply text the workers wrote (that may quote the NIK, the name, the
address or the OPD's answer); it is built here from the ticket number alone and one fixed,
short phrase from the city's ``replies/<lang>.yaml`` (keys ``x_public_*``), passed in. Everything else goes
by direct message.
"""

from __future__ import annotations

from channels.base import OutboundReply
from config.model import DEFAULT_LANGUAGE, Replies
from normalizer.tickets import normalize_ticket

# Reply kinds that may be announced in public, and the template that announces them. Only kinds
# whose whole message is "received / status, see your DMs" are here: asking for missing
# identity, the OPD's answer and chat turns stay private.
PUBLIC_TEMPLATES: dict[str, str] = {
    "ack": "x_public_ack",
    "ack_triage": "x_public_ack_triage",
    "status": "x_public_status",
}

MAX_POST_LENGTH = 280  # characters in one post on a standard account


def public_reply_text(replies: Replies, kind: str | None, ticket: str | None, lang: str) -> str | None:
    """The public reply for a reply of ``kind`` about ``ticket``, or None when this reply must
    stay private (not a public kind, or no well-formed ticket to show)."""
    key = PUBLIC_TEMPLATES.get(kind or "")
    canonical = normalize_ticket(ticket or "")
    if key is None or canonical is None:
        return None
    template = replies.template(key, lang)
    if template is None:
        return None
    text = template["text"].format(ticket=canonical)
    return text if len(text) <= MAX_POST_LENGTH else None


def reply_language(replies: Replies, reply: OutboundReply) -> str:
    """The language the workers wrote ``reply`` in, so the public phrase matches the DM.

    Uses ``reply.language`` when the outbox provides it; otherwise recognises the start of
    the ``kind``'s template in each shipped language; Indonesian when nothing matches.
    """
    explicit = getattr(reply, "language", None)
    if isinstance(explicit, str) and explicit:
        return explicit
    for lang in replies.available:
        template = replies.languages[lang].templates.get(reply.kind or "")
        prefix = template["text"].split("{", 1)[0].strip() if template else ""
        if len(prefix) >= 6 and reply.text.startswith(prefix):
            return lang
    return DEFAULT_LANGUAGE
