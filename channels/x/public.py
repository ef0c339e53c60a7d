"""What the city may say in public on X.

A reply to a mention is public: anyone can read it, next to the citizen's handle. So the
public reply is never the reply text the workers wrote (that may quote the NIK, the name, the
address or the OPD's answer); it is built here from the ticket number alone and one fixed,
short phrase of the city's reply templates (keys ``x_public_*`` in
``config/replies/<lang>.yaml``), which the adapter is given as a renderer. Everything else
goes by direct message.
"""

from __future__ import annotations

from channels.base import ReplyTexts
from normalizer.tickets import normalize_ticket

# Reply kinds that may be announced in public, and the template that announces them. Only kinds
# whose whole message is "received / status, see your DMs" are here: asking for missing
# identity, the OPD's answer and chat turns stay private.
PUBLIC_TEMPLATES: dict[str, str] = {
    "ack": "x_public_ack",
    "ack_triage": "x_public_ack_triage",
    "status": "x_public_status",
    # The OPD's answer itself goes by DM; in public only "answered, see your DM" and the tracking link.
    "answer": "x_public_answer",
}

# The public reply to a mention whose reply kind has no public wording of its own (a request
# for identity, the OPD's answer): "ticket ...: we sent you a DM; track it at <link>".
DM_NOTICE_TEMPLATE = "x_public_dm"

MAX_POST_LENGTH = 280  # characters in one post on a standard account


class PublicPhrases:
    """The public phrases of one city, rendered by the ``texts`` it is given."""

    def __init__(self, texts: ReplyTexts) -> None:
        self.texts = texts

    def public_reply_text(
        self, kind: str | None, ticket: str | None, lang: str, *, tracking_base: str = ""
    ) -> str | None:
        """The public reply for a reply of ``kind`` about ``ticket``, or None when this reply must
        stay private (not a public kind, or no well-formed ticket to show).

        Only the canonical ticket (and the tracking link made of it) is passed to the template,
        so nothing else can appear in it.
        """
        key = PUBLIC_TEMPLATES.get(kind or "")
        canonical = normalize_ticket(ticket or "")
        if key is None or canonical is None:
            return None
        text = self.texts(key, lang, channel="x", ticket=canonical, link=tracking_base + canonical)
        return text if len(text) <= MAX_POST_LENGTH else None

    def dm_notice(self, ticket: str | None, lang: str, *, tracking_base: str) -> str | None:
        """ "Ticket ...: we sent you a DM; track it at <tracking_base><ticket>", or None without a
        well-formed ticket. Only the canonical ticket and the fixed link reach the template."""
        canonical = normalize_ticket(ticket or "")
        if canonical is None:
            return None
        text = self.texts(DM_NOTICE_TEMPLATE, lang, channel="x", ticket=canonical, link=tracking_base + canonical)
        return text if len(text) <= MAX_POST_LENGTH else None
