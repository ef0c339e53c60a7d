"""Decisions on a case shared by the stages: the identity check (SOP step 3) and replying.

Used for a new complaint and again when the citizen sends what was missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from complaints import complaint_class, lifecycle, sla, store
from complaints.identity_reply import identity_missing_reply
from complaints.models import Complaint
from complaints.replies import field_labels, render_reply
from normalizer.envelope import Identity
from normalizer.identity import check_identity
from workers.batch import FollowUps

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def check_case(
    runtime: Runtime, session: Session, complaint: Complaint, *, actor: str, round_id: str = ""
) -> FollowUps:
    """SOP step 3 on a case's current identity and text: verified → routing, else returned with a reply.

    ``round_id`` tells apart the replies of repeated checks (a citizen's follow-up) so each
    round can answer once.
    """
    identity = Identity(
        nik=complaint.nik, name=complaint.name, address=complaint.address, phone=complaint.phone, email=complaint.email
    )
    problems = [(p.field, p.code) for p in check_identity(identity, regions=runtime.config.regions)]
    if not complaint.text:
        problems.append(("text", "missing"))
    if not problems:
        complaint.identity_problems = None
        if complaint.status == lifecycle.RETURNED_TO_CITIZEN:
            # Completed by the citizen (issue 13): routed afresh, so with AUTO_DISPOSE=false the
            # proposal is made again and the citizen acknowledged, as for a new complaint.
            complaint.opd_code = None
        if complaint.complaint_class is None:
            # Issue 14: verified without an operator, the case gets the proposed class (and deadline).
            complaint_class.assign(complaint, complaint_class.suggest(complaint, runtime.config), runtime.config)
        lifecycle.transition(
            session,
            complaint,
            lifecycle.VERIFIED,
            sop=runtime.config.sop,
            calendar=sla.calendar_of(runtime.config.calendar),
            actor=actor,
            role="system",
            action="verified",
        )
        log.info("verified", ticket=complaint.ticket)
        return {"route_to_opd": [complaint.id]}
    complaint.identity_problems = ",".join(f"{f}:{c}" for f, c in problems)
    # A case already waiting for the citizen stays there (the table has no move to itself).
    if lifecycle.allows(complaint, lifecycle.RETURNED_TO_CITIZEN, "system"):
        lifecycle.transition(
            session,
            complaint,
            lifecycle.RETURNED_TO_CITIZEN,
            sop=runtime.config.sop,
            calendar=sla.calendar_of(runtime.config.calendar),
            actor=actor,
            role="system",
            action="returned_to_citizen",
            note=complaint.identity_problems,
        )
    key = "empty_complaint" if problems == [("text", "missing")] else "identity_missing"
    # On X the generic advice ("send LAPOR#NIK#...") would make a citizen post their NIK in a
    # public mention: the X wording asks for a direct message instead.
    identity_problems = [p for p in problems if p[0] != "text"]
    if key == "identity_missing" and complaint.reply_channel != "x":
        # Issue 13: what was read (masked), what is missing, and "reply with just that".
        text = identity_missing_reply(
            runtime.config.replies,
            complaint.language,
            channel=complaint.reply_channel,
            ticket=complaint.ticket,
            identity=identity,
            problems=identity_problems,
            window_days=runtime.settings.complete_reply_window_days,
        )
    else:
        template = "x_identity_missing" if key == "identity_missing" else key
        text = render_reply(
            runtime.config.replies,
            template,
            complaint.language,
            channel=complaint.reply_channel,
            ticket=complaint.ticket,
            fields=field_labels(runtime.config.replies, identity_problems, complaint.language),
        )
    log.info("identity_incomplete", ticket=complaint.ticket, problems=complaint.identity_problems)
    reply_id = queue_reply_to_citizen(runtime, session, complaint, key, text, round_id=round_id)
    return {"send_reply": [reply_id]} if reply_id else {}


def queue_reply_to_citizen(
    runtime: Runtime, session: Session, complaint: Complaint, kind: str, text: str, *, round_id: str = ""
) -> str | None:
    """Queue a reply on the case's channel, unless the sender's hourly automatic-reply budget is spent.

    The budget (MAIL_AUTO_REPLIES_PER_HOUR, for e-mail) is the last line of defence against
    two robots answering each other for ever (RFC 3834).
    """
    if complaint.reply_channel == "email":
        sent = store.recent_reply_count(session, complaint.reply_address, within_seconds=3600)
        if sent >= runtime.settings.mail_auto_replies_per_hour:
            lifecycle.note(
                session,
                complaint,
                actor="worker",
                action="reply_suppressed",
                note=f"{kind}: hourly automatic-reply limit reached for this sender",
            )
            log.warning("reply_rate_limited", ticket=complaint.ticket, kind=kind)
            return None
    return store.queue_case_reply(session, complaint, kind, text, round_id=round_id)
