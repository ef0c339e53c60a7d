"""Completing a returned complaint by a short reply (issue 13).

A complaint returned because its identity was incomplete (SOP step 3's return path) waits for
the citizen. The return message asks them to reply with only what is missing ("NIK 3271…",
"nama Siti Aminah alamat Jl. Pajajaran 10"), and many will do so as a plain new message: an SMS
has no thread, a mail client may start a new one, a chat has no reply-to. So, when a message
continues no case by its thread or ticket, the sender's newest case returned for identity within
``COMPLETE_REPLY_WINDOW_DAYS`` takes it, provided the message is short (a reply, not a new
complaint: at most :data:`MAX_REPLY_WORDS` words besides the identity values). The worker then
merges the fields into that case and checks it again (``workers.followup.add_to_case``).

After the window the case is left as it is: a new message is a new complaint, and a reply in
the old case's thread or naming its ticket opens a new complaint too, so a returned case never
comes back to life weeks later with a half-remembered identity.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from complaints.models import Complaint, HistoryEntry
from config.statuses import RETURNED_TO_CITIZEN
from normalizer.envelope import ComplaintEnvelope, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "MAX_REPLY_WORDS",
    "REPLY_CHANNELS",
    "has_text_identity",
    "is_read_from_text",
    "is_short_reply",
    "past_window",
    "returned_case_of_sender",
]

REPLY_CHANNELS = frozenset({"sms", "email", "x"})
"""Channels whose plain messages (not a guided chat's turns) may answer our return message. Not
the web form or the app (their accept already showed the citizen a new ticket, and anonymous
web-form senders share one address) nor an operator's manual entry: there, a new message is
always its own case. Every chat channel (``kind="conversation"``) answers in its conversation
(``workers.conversation``), whatever its name."""

MAX_REPLY_WORDS = 12
"""Words besides the identity labels and values: "ini NIK saya, maaf tadi lupa" is a reply,
a paragraph about a blocked drain is a new complaint."""


def is_short_reply(envelope: ComplaintEnvelope) -> bool:
    """True when the message's text, less what was read as identity, is short enough to be a reply.

    A message that labels its complaint ("Isi: ...", the LAPOR# form) is a whole new complaint,
    however short: the return message never asks for the complaint again.
    """
    return envelope.text_label is None and len((envelope.text or "").split()) <= MAX_REPLY_WORDS


def is_read_from_text(source: str | None) -> bool:
    """True for an identity source that is the citizen's own words (a label or the text), not the channel's."""
    return source is not None and (source == "text" or source.startswith("label:"))


def has_text_identity(envelope: ComplaintEnvelope) -> bool:
    """True when the message itself names an identity field ("NIK ...", "nama ..."), beyond the sender's address."""
    return any(is_read_from_text(source) for source in (envelope.identity_sources or {}).values())


def _cutoff(window_days: float, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=window_days)


def _returned_since(session: Session, complaint_id: str) -> datetime | None:
    """When the case last moved into ``dikembalikan_ke_pelapor`` (not counting notes made while it waited)."""
    return session.scalar(
        select(func.max(HistoryEntry.at)).where(
            HistoryEntry.complaint_id == complaint_id,
            HistoryEntry.to_status == RETURNED_TO_CITIZEN,
            HistoryEntry.from_status != RETURNED_TO_CITIZEN,
        )
    )


def past_window(session: Session, complaint: Complaint, window_days: float, now: datetime | None = None) -> bool:
    """True for a case waiting for the citizen for longer than the window: it takes no more replies."""
    if complaint.status != RETURNED_TO_CITIZEN:
        return False
    returned = _returned_since(session, complaint.id)
    return returned is not None and returned < _cutoff(window_days, now)


def returned_case_of_sender(
    session: Session, envelope: ComplaintEnvelope, window_days: float, now: datetime | None = None
) -> Complaint | None:
    """The sender's newest case returned for missing identity within the window, or None.

    A case the identity check returned (``identity_problems`` set) takes any short message (one
    that still lacks the fields is answered with what is missing). A case an operator returned
    by hand takes only a message that carries identity read from its text: "terima kasih" after
    "not the city's authority" must not reopen it. The sender is matched on the case's reply
    route (same channel and address: the phone, the e-mail address, the chat).
    """
    if not is_short_reply(envelope):
        return None
    route = envelope.reply_route
    which = [Complaint.status == RETURNED_TO_CITIZEN]
    if not has_text_identity(envelope):
        which.append(Complaint.identity_problems.is_not(None))
    # Two steps, so the sender's own few cases are found on the reply-route index first; one
    # join lets SQLite start from every returned case instead (bench/completion_lookup.py).
    waiting = session.scalars(
        select(Complaint.id).where(
            Complaint.reply_channel == route.channel, Complaint.reply_address == route.address, *which
        )
    ).all()
    if not waiting:
        return None
    newest = session.scalar(
        select(HistoryEntry.complaint_id)
        .where(
            HistoryEntry.complaint_id.in_(waiting),
            HistoryEntry.to_status == RETURNED_TO_CITIZEN,
            HistoryEntry.from_status != RETURNED_TO_CITIZEN,
            HistoryEntry.at >= _cutoff(window_days, now),
        )
        .order_by(HistoryEntry.at.desc())
        .limit(1)
    )
    return session.get(Complaint, newest) if newest is not None else None
