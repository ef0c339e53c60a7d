"""Escalation of a passed class deadline (issue 14), run by the scheduler after the step escalation.

A case still open after its class deadline (``class_deadline_at``, complaints/complaint_class.py)
is escalated once, like an overdue step's level 1: the case is flagged ``class_overdue`` for the
operator inbox (unless it carries another flag already), a history note says so, and the OPD
holding the case gets an e-mail at its escalation address (``escalation:``, else ``contact:`` of
opd.yaml), with the ticket, topic, class, deadline, step and console link, never the reporter's
personal data. ``class_escalated_at`` is set by a conditional UPDATE in the same transaction, so of
two schedulers only one acts. The flag is cleared when the case is closed.

Level 2, like a step's: a case still open ``CLASS_ESCALATION_LEVEL2_AFTER_MINUTES`` working minutes
(calendar.yaml) after its class deadline, and never in the pass that wrote level 1, is e-mailed once
to the operator supervisor (``ESCALATION_SUPERVISOR_EMAIL``; unset: no level 2), claimed the same
way by ``class_escalated2_at``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from complaints import attention, lifecycle, sla
from complaints.escalation import ACTOR, case_link, escalation_topic, local_time_words, mail_enabled
from complaints.models import Complaint
from complaints.replies import render_reply
from complaints.store import queue_reply
from config.model import CityConfig
from config.settings import Settings

log = logging.getLogger(__name__)

CLASS_OVERDUE = "class_overdue"
"""The ``attention`` reason of a case escalated for its class deadline."""
KIND = "escalation_class"
"""The outbox kind (and reply template) of the OPD's e-mail."""
KIND_SUPERVISOR = "escalation_class_supervisor"
"""The outbox kind (and reply template) of the supervisor's level-2 e-mail."""


@dataclass
class ClassEscalationOutcome:
    """What one pass did: tickets escalated (level 1, level 2), e-mails queued, flags cleared."""

    escalated: list[str] = field(default_factory=list)
    level2: list[str] = field(default_factory=list)
    reply_ids: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)


def escalate_class_deadlines(
    sf: sessionmaker[Session], *, config: CityConfig, settings: Settings, now: datetime
) -> ClassEscalationOutcome:
    """One pass: escalate every open case past its class deadline not escalated yet (at most
    ``ESCALATION_MAX_PER_PASS``, the longest overdue first), one transaction per case."""
    outcome = ClassEscalationOutcome()
    with sf.begin() as session:
        outcome.cleared = _clear_closed(session)
        ids = list(
            session.scalars(
                select(Complaint.id)
                .where(
                    Complaint.class_deadline_at < now,
                    Complaint.class_escalated_at.is_(None),
                    Complaint.closed_at.is_(None),
                    Complaint.merged_into_id.is_(None),
                )
                .order_by(Complaint.class_deadline_at, Complaint.id)
                .limit(settings.escalation_max_per_pass)
            )
        )
        level2_ids = _level2_candidates(session, settings=settings, now=now)
    for level, escalate, case_ids in ((1, _escalate, ids), (2, _escalate_level2, level2_ids)):
        for case_id in case_ids:
            try:
                with sf.begin() as session:
                    escalate(session, case_id, config=config, settings=settings, now=now, outcome=outcome)
            except Exception:  # noqa: BLE001 - logged; the case is tried again at the next pass
                log.exception("escalating the class deadline of case %s to level %d failed", case_id, level)
    return outcome


def _level2_candidates(session: Session, *, settings: Settings, now: datetime) -> list[str]:
    """Open cases escalated at level 1 in an earlier pass whose deadline is at least the level-2 delay
    ago in wall time (working minutes are never more; :func:`_escalate_level2` counts those)."""
    if not settings.escalation_supervisor_email:
        return []
    wall_due = now - timedelta(minutes=settings.class_escalation_level2_after_minutes)
    return list(
        session.scalars(
            select(Complaint.id)
            .where(
                Complaint.class_deadline_at <= wall_due,
                Complaint.class_escalated_at < now,  # never in the pass that wrote level 1
                Complaint.class_escalated2_at.is_(None),
                Complaint.closed_at.is_(None),
                Complaint.merged_into_id.is_(None),
            )
            .order_by(Complaint.class_deadline_at, Complaint.id)
            .limit(settings.escalation_max_per_pass)
        )
    )


def _escalate_level2(
    session: Session,
    case_id: str,
    *,
    config: CityConfig,
    settings: Settings,
    now: datetime,
    outcome: ClassEscalationOutcome,
) -> None:
    case = session.get(Complaint, case_id)
    if case is None or case.class_deadline_at is None:
        return
    late = sla.working_minutes_between(case.class_deadline_at, now, sla.calendar_of(config.calendar))
    if late < settings.class_escalation_level2_after_minutes:
        return  # the deadline fell just before a weekend or holiday: not late enough in working time
    claimed = session.execute(
        update(Complaint)
        .where(Complaint.id == case_id, Complaint.class_escalated2_at.is_(None), Complaint.closed_at.is_(None))
        .values(class_escalated2_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return  # closed meanwhile, or another scheduler took it
    session.refresh(case)
    reply_id = _mail(
        session, case, KIND_SUPERVISOR, settings.escalation_supervisor_email or "", config, settings, now, late
    )
    note = f"level 2: class {case.complaint_class} deadline passed; e-mail to the supervisor"
    _recorded(session, case, note, reply_id, outcome.level2, outcome)


def _escalate(
    session: Session,
    case_id: str,
    *,
    config: CityConfig,
    settings: Settings,
    now: datetime,
    outcome: ClassEscalationOutcome,
) -> None:
    claimed = session.execute(
        update(Complaint)
        .where(Complaint.id == case_id, Complaint.class_escalated_at.is_(None), Complaint.closed_at.is_(None))
        .values(class_escalated_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return  # closed meanwhile, or another scheduler took it
    case = session.get(Complaint, case_id, populate_existing=True)
    assert case is not None  # noqa: S101 - just updated
    if case.attention is None:
        case.attention = CLASS_OVERDUE  # never hide a failed answer delivery or a citizen's message
    reply_id = _mail_opd(session, case, config=config, settings=settings, now=now)
    mailed = f", e-mail to {case.opd_code}" if reply_id else ""
    note = f"class {case.complaint_class} deadline passed; operator inbox{mailed}"
    _recorded(session, case, note, reply_id, outcome.escalated, outcome)


def _recorded(
    session: Session,
    case: Complaint,
    note: str,
    reply_id: str | None,
    tickets: list[str],
    outcome: ClassEscalationOutcome,
) -> None:
    """The history note, the ticket in its level's list of ``outcome`` and the e-mail to send."""
    lifecycle.note(session, case, actor=ACTOR, action="class_escalated", note=note)
    tickets.append(case.ticket)
    if reply_id:
        outcome.reply_ids.append(reply_id)
    log.info("case %s escalated for its class deadline: %s", case.ticket, note.split(";")[0])


def _mail_opd(
    session: Session, case: Complaint, *, config: CityConfig, settings: Settings, now: datetime
) -> str | None:
    opd = config.opd(case.opd_code)
    address = opd.escalation_address if opd is not None else None
    if opd is None or not address:
        return None
    return _mail(session, case, KIND, address, config, settings, now, None)


def _mail(
    session: Session,
    case: Complaint,
    kind: str,
    address: str,
    config: CityConfig,
    settings: Settings,
    now: datetime,
    late: float | None,
) -> str | None:
    """Queue the ``kind`` e-mail about ``case`` to ``address`` (``late``: working minutes, level 2 only)."""
    if not address or not mail_enabled(settings):
        return None
    opd = config.opd(case.opd_code)
    chosen = config.classes.get(case.complaint_class)
    step = config.sop.label(case.status, "id") if case.status in config.sop.statuses else case.status
    hours, minutes = divmod(int(late or 0), 60)
    text = render_reply(
        config.replies,
        kind,
        "id",  # staff mail is in Indonesian, like the step escalation
        channel="email",
        ticket=case.ticket,
        opd=opd.name if opd is not None else "-",
        topic=escalation_topic(case),
        complaint_class=chosen.label("id") if chosen is not None else case.complaint_class,
        deadline=local_time_words(case.class_deadline_at or now, settings),
        late=render_reply(config.replies, "late_working", "id", channel="email", hours=hours, minutes=minutes),
        step=f"{case.step} ({step})",
        link=case_link(settings, case.ticket),
    )
    return queue_reply(
        session,
        dedupe_key=f"{case.id}:{kind}",
        kind=kind,
        channel="email",
        provider="email",
        address=address,
        text=text,
        complaint_id=case.id,
    )


def _clear_closed(session: Session) -> list[str]:
    """Clear the ``class_overdue`` flag of cases closed since (the deadline no longer runs)."""
    cases = list(
        session.scalars(select(Complaint).where(Complaint.attention == CLASS_OVERDUE, Complaint.closed_at.is_not(None)))
    )
    for case in cases:
        attention.clear(session, case, actor=ACTOR, action="class_escalation_cleared", note="the case was closed")
    return [c.ticket for c in cases]
