"""SOP steps 3→4: propose the responsible OPD and acknowledge the complaint to the citizen.

Routing rules from the city's ``routing.yaml`` (Indonesian stemming) pick an OPD; a complaint no
rule matches clearly goes to the operator's triage queue. Either way the citizen gets the
acknowledgement with the ticket number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from complaints import lifecycle, notify, sla
from complaints.models import Complaint
from complaints.replies import render_reply
from complaints.routing import route
from workers.batch import FollowUps, StageResult, each_in_savepoint
from workers.casework import queue_reply_to_citizen

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.runtime import Runtime

log = structlog.get_logger(__name__)


def route_batch(runtime: Runtime, complaint_ids: list[str]) -> StageResult:
    """Route a batch of verified complaints in one transaction."""
    return each_in_savepoint(runtime, "route_to_opd", complaint_ids, route_one)


def route_one(runtime: Runtime, session: Session, complaint_id: str) -> FollowUps:
    """Route one verified complaint; return the acknowledgement reply to send."""
    # Row lock (PostgreSQL): a sweep may hand the same case to two workers at once.
    complaint = session.get(Complaint, complaint_id, with_for_update=True)
    if complaint is None or not lifecycle.can(complaint, "dispose", "system"):
        return {}
    if not runtime.settings.auto_dispose and complaint.opd_code is not None:
        return {}  # already proposed and acknowledged; it waits for the operator (a sweep re-sent it)
    # Each entry into "diverifikasi" is acknowledged once: a case completed by the citizen after a
    # return (issue 13) gets its acknowledgement again, a repeated run of this entry none.
    entry = f"v{complaint.version}"
    decision = route(" ".join(filter(None, [complaint.subject, complaint.text])), runtime.config.routing)
    complaint.routing_score = decision.score
    complaint.routing_matched = ",".join(decision.matched) or None
    opd = runtime.config.opd(decision.opd_code)
    if opd is None:
        lifecycle.transition(
            session,
            complaint,
            lifecycle.TRIAGE,
            sop=runtime.config.sop,
            calendar=sla.calendar_of(runtime.config.calendar),
            actor="worker:route_to_opd",
            role="system",
            action="to_triage",
            note="no routing rule matched clearly",
        )
        key = "ack_triage"
    elif runtime.settings.auto_dispose:
        complaint.opd_code = opd.code
        lifecycle.transition(
            session,
            complaint,
            lifecycle.DISPOSED,
            sop=runtime.config.sop,
            calendar=sla.calendar_of(runtime.config.calendar),
            actor="worker:route_to_opd",
            role="system",
            action="routed",
            note=f"{opd.code} (matched: {complaint.routing_matched})",
        )
        key = "ack"
    else:
        # AUTO_DISPOSE=false: the case stays verified (the table lets the operator dispose it from
        # there) with the proposed OPD, which also tells the sweeper it was routed. OPD users do
        # not see verified cases. The citizen's acknowledgement names no OPD yet.
        complaint.opd_code = opd.code
        # part-clock: the operator finishes step 3 now, so its clock counts working hours.
        lifecycle.hand_to_staff(complaint, sop=runtime.config.sop, calendar=sla.calendar_of(runtime.config.calendar))
        lifecycle.note(
            session,
            complaint,
            actor="worker:route_to_opd",
            action="proposed",
            note=f"{opd.code} (matched: {complaint.routing_matched})",
        )
        key = "ack_triage"
    text = render_reply(
        runtime.config.replies,
        key,
        complaint.language,
        channel=complaint.reply_channel,
        ticket=complaint.ticket,
        opd=opd.short_name if opd is not None else "",  # only "ack" names it
    )
    log.info("routed", ticket=complaint.ticket, opd=complaint.opd_code, score=decision.score)
    reply_id = queue_reply_to_citizen(runtime, session, complaint, "ack", text, round_id=entry)
    ids = [reply_id] if reply_id else []
    if key == "ack":  # disposed: the OPD is told too, in the same transaction as the disposition
        notice_id = notify.queue_opd_notice(session, complaint, config=runtime.config, settings=runtime.settings)
        ids += [notice_id] if notice_id else []
    return {"send_reply": ids} if ids else {}
