"""Tell an OPD that a case was disposed to it: an e-mail to the OPD's contact address.

Queued in the outbox (kind ``opd_notice``) in the transaction that disposes the case, and sent
by the ``send_reply`` workers through the e-mail sender, so a mail server's trouble never holds
up the disposition. The message names the ticket, the topic and the case page's link, never the
reporter's NIK or other personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from complaints.confidential import scrub
from complaints.models import Complaint
from complaints.replies import render_reply
from complaints.store import queue_reply
from config.model import CityConfig
from config.settings import Settings

log = logging.getLogger(__name__)

KIND = "opd_notice"
TOPIC_LENGTH = 200
"""The topic line is a hint, not the complaint: a long subject is cut."""


def queue_opd_notice(session: Session, complaint: Complaint, *, config: CityConfig, settings: Settings) -> str | None:
    """Queue the notice to the case's OPD; returns the reply id for ``send_reply``, or None when
    there is nothing to send (no e-mail settings, no contact address for the OPD, already queued)."""
    opd = config.opd(complaint.opd_code)
    if opd is None or not opd.contact:
        return None
    if "email" not in settings.check_providers():
        # The notice is a convenience: a city without outbound mail still disposes cases.
        log.info("no OPD notice for %s: the e-mail provider is not configured", complaint.ticket)
        return None
    text = render_reply(
        config.replies,
        KIND,
        "id",  # the OPD works in Indonesian whatever language the reporter wrote in
        channel="email",
        ticket=complaint.ticket,
        opd=opd.name,
        topic=opd_notice_topic(complaint),
        link=f"{settings.public_base_url.rstrip('/')}/ops/kasus/{complaint.ticket}",
    )
    reply_id = queue_reply(
        session,
        dedupe_key=f"{complaint.id}:{KIND}:{opd.code}:{complaint.version}",
        kind=KIND,
        channel="email",
        provider="email",
        address=opd.contact,
        text=text,
        complaint_id=complaint.id,
    )
    if reply_id is not None:
        log.info("OPD notice queued for %s to %s", complaint.ticket, opd.code)
    return reply_id


def opd_notice_topic(complaint: Complaint, *, clean: Callable[[str], str] | None = None) -> str:
    """What the case is about, without personal data: the reporter's subject line, else the
    routing's matched words. Never the complaint text, which may hold a NIK or an address; the
    reporter's own NIK, name, address, phone and e-mail in the subject read "Pelapor"
    (:func:`complaints.confidential.scrub`, which also masks any NIK, mobile number or e-mail).

    ``clean`` (part-escfix: ``config.logging.mask`` for escalation mail) is applied to the subject
    before it is shortened, so a NIK cut at the end cannot slip past it."""
    subject = " ".join((complaint.subject or "").split())
    if clean is not None:
        subject = clean(subject)
    # Issue 14: the OPD is never told who reported it, even when their name is in the subject line.
    subject = scrub(subject, complaint)
    if subject:
        return subject if len(subject) <= TOPIC_LENGTH else subject[: TOPIC_LENGTH - 3].rstrip() + "..."
    matched = [w.strip() for w in (complaint.routing_matched or "").split(",") if w.strip()]
    return ", ".join(matched) or "-"
