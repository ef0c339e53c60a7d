"""Escalation of overdue SOP steps, run by the scheduler (workers/scheduler.py) with its ``now``.

A case whose current step is past ``step_deadline_at`` is escalated once per entry into the step
(the case's ``version`` names the entry: every status change raises it):

- level 1, at once: the case is flagged ``escalated`` for the operator inbox (``attention``,
  unless it already carries a more urgent flag); when the step is the OPD's to do (sop.yaml
  ``actor: opd``) its OPD's escalation address (``escalation:`` in opd.yaml, else ``contact:``)
  gets an e-mail. A late operator step (verification, reviewing the answer) is the operator's
  own work: its inbox flag and level 2 say so, no OPD is mailed for it;
- level 2, ``ESCALATION_LEVEL2_AFTER_MINUTES`` after the deadline, counted on the step's own clock
  (the clock its deadline was set on, ``deadline_clock``: working minutes for working steps, so
  a step due on Friday afternoon reaches level 2 on Monday morning, not on Friday night), and
  never in the pass that wrote level 1: the operator supervisor (``ESCALATION_SUPERVISOR_EMAIL``)
  gets an e-mail.

Each level is one ``escalations`` row with a unique key (case, step, entry, level), written in the
transaction that writes the history note and queues the e-mail: of two schedulers only the one
whose row went in acts. E-mails go to the outbox (``replies``) like the OPD notice and are sent by
the ``send_reply`` workers; they carry the ticket, topic, OPD, step, deadline, how late and the
console link, never the reporter's personal data (the topic, the reporter's own subject line,
has NIKs, phone numbers and e-mail addresses masked). A flag whose step was since done is cleared.

A pass writes at most ``ESCALATION_MAX_PER_PASS`` escalations, cases owed level 1 first. Cases
whose deadline predates the working clock (``deadline_clock`` NULL) are skipped until
complaints/deadlines.py has recomputed them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Exists, and_, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from complaints import attention, lifecycle, sla
from complaints.models import Complaint, Escalation
from complaints.notify import opd_notice_topic
from complaints.replies import render_reply
from complaints.store import queue_reply
from config.logging import mask
from config.model import CityConfig, SopConfig
from config.settings import Settings

log = logging.getLogger(__name__)

ACTOR = "system:scheduler"
ESCALATED = "escalated"
"""The ``attention`` reason of an escalated case (shown in the operator inbox)."""
KIND_OPD = "escalation"
KIND_SUPERVISOR = "escalation_supervisor"
STAFF_MAIL_KINDS = frozenset({KIND_OPD, KIND_SUPERVISOR, "opd_digest"})
"""Outbox kinds this part sends to staff (never to the citizen): the case page shows them as notices."""
CHUNK = 50
"""Cases escalated per transaction."""


@dataclass
class EscalationOutcome:
    """What one pass did: tickets escalated per level, e-mails queued, flags cleared."""

    level1: list[str] = field(default_factory=list)
    level2: list[str] = field(default_factory=list)
    reply_ids: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)

    def add(self, other: EscalationOutcome) -> None:
        """Count what ``other`` (a committed chunk) did as well."""
        self.level1 += other.level1
        self.level2 += other.level2
        self.reply_ids += other.reply_ids
        self.cleared += other.cleared


def clocked_statuses(sop: SopConfig) -> tuple[str, ...]:
    """Statuses whose deadline is a promise to keep: not finished, not waiting for the citizen."""
    return tuple(s.status for s in sop.states if not s.terminal and s.actor != "citizen")


def escalate_overdue(
    sf: sessionmaker[Session], *, config: CityConfig, settings: Settings, now: datetime
) -> EscalationOutcome:
    """One pass: escalate every overdue step that is due a level, clear flags of steps since done.

    Cases are escalated :data:`CHUNK` to a transaction (one commit each, not one per case), each
    with its row locked (PostgreSQL), so a status change waits for it. A chunk that fails is done
    again case by case, so one bad case never holds up the others (it is tried at the next pass).
    """
    outcome = EscalationOutcome()
    # Only cases owed a level: one already escalated as far as it is due is not looked at again,
    # so a long list of old overdue cases never crowds a newly overdue one out of the batch.
    owed = ~_escalated(1)
    if settings.escalation_supervisor_email:
        # Wall time since the deadline is never less than working time: this narrows the look-up,
        # and _escalate_case counts on the step's own clock.
        wall_due = Complaint.step_deadline_at <= now - timedelta(minutes=settings.escalation_level2_after_minutes)
        owed = or_(owed, and_(wall_due, _escalated(1), ~_escalated(2)))
    with sf.begin() as session:
        outcome.cleared = clear_stale_flags(session)
        ids = list(
            session.scalars(
                select(Complaint.id)
                .where(
                    Complaint.step_deadline_at < now,
                    # A deadline of the old wall-clock rule is not trusted: complaints/deadlines.py
                    # recomputes it first (the scheduler does so before this pass).
                    Complaint.deadline_clock.is_not(None),
                    Complaint.closed_at.is_(None),
                    Complaint.status.in_(clocked_statuses(config.sop)),
                    owed,
                )
                # Cases owed level 1 first: cases waiting for level 2 on the working clock (a whole
                # weekend of them) must not crowd a newly overdue step out of the batch.
                .order_by(_escalated(1), Complaint.step_deadline_at, Complaint.id)
                # ESCALATION_MAX_PER_PASS: a backlog (a long holiday, a scheduler down for a day)
                # reaches the mailboxes a pass at a time instead of all at once.
                .limit(settings.escalation_max_per_pass)
            )
        )
    if len(ids) == settings.escalation_max_per_pass:
        log.warning("escalation pass full (%d cases): the rest wait for the next pass", len(ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        done = EscalationOutcome()
        try:
            with sf.begin() as session:
                for case_id in chunk:
                    _escalate_case(session, case_id, config=config, settings=settings, now=now, outcome=done)
        except Exception:  # noqa: BLE001 - one bad case must not stop every escalation behind it
            log.exception("escalating %d cases failed; trying them one by one", len(chunk))
            done = EscalationOutcome()
            for case_id in chunk:
                try:
                    with sf.begin() as session:
                        _escalate_case(session, case_id, config=config, settings=settings, now=now, outcome=done)
                except Exception:  # noqa: BLE001 - logged; the case is tried again at the next pass
                    log.exception("escalating case %s failed", case_id)
        outcome.add(done)
    return outcome


def _escalated(level: int) -> Exists:
    """The case's current entry into its step has an escalation of ``level``."""
    return exists().where(
        Escalation.complaint_id == Complaint.id,
        Escalation.step == Complaint.step,
        Escalation.entry_version == Complaint.version,
        Escalation.level == level,
    )


def _escalate_case(
    session: Session,
    case_id: str,
    *,
    config: CityConfig,
    settings: Settings,
    now: datetime,
    outcome: EscalationOutcome,
) -> None:
    case = session.get(Complaint, case_id, with_for_update=True, populate_existing=True)
    if case is None or case.step_deadline_at is None or case.step_deadline_at >= now or case.closed_at is not None:
        return  # moved on between the look-up and the lock
    if case.status not in clocked_statuses(config.sop):
        return
    late = _late_words(late_minutes(case, config, now), lifecycle.step_clock(case, config.sop))
    supervisor = settings.escalation_supervisor_email
    if not _has_level(session, case, 1):
        levels = [1]  # level 2 comes at a later pass, however late this first look is
    elif supervisor and level2_due(case, config=config, settings=settings, now=now):
        levels = [2]
    else:
        return
    for level in levels:
        if not _record(session, case, level, now):
            continue  # this entry was escalated to this level already (maybe by another scheduler)
        step = _step_words(case, config)
        if level == 1:
            if case.attention is None:
                case.attention = ESCALATED  # never hide a failed answer delivery or a citizen's message
            reply_id = _mail_opd(session, case, config=config, settings=settings, now=now)
            mailed = f", e-mail to {case.opd_code}" if reply_id else ""
            _note(session, case, f"level 1: step {step} overdue by {late}; operator inbox{mailed}")
            outcome.level1.append(case.ticket)
        else:
            reply_id = _mail_supervisor(session, case, supervisor or "", config=config, settings=settings, now=now)
            _note(session, case, f"level 2: step {step} overdue by {late}; e-mail to the supervisor")
            outcome.level2.append(case.ticket)
        if reply_id:
            outcome.reply_ids.append(reply_id)
        log.info("case %s escalated to level %d", case.ticket, level)


def level2_due(case: Complaint, *, config: CityConfig, settings: Settings, now: datetime) -> bool:
    """True once ``ESCALATION_LEVEL2_AFTER_MINUTES`` have passed since the deadline on the step's clock.

    A ``clock: working`` step counts only the city's working minutes (calendar.yaml), like its
    deadline: wall minutes would put level 2 on a Friday evening for a step due at 15:00.
    """
    if case.step_deadline_at is None or case.step_deadline_at >= now:
        return False
    return late_minutes(case, config, now) >= settings.escalation_level2_after_minutes


def _has_level(session: Session, case: Complaint, level: int) -> bool:
    """The case's current entry into its step was escalated to ``level`` already (in an earlier pass)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Escalation.complaint_id == case.id,
                    Escalation.step == case.step,
                    Escalation.entry_version == case.version,
                    Escalation.level == level,
                )
            )
        )
    )


def _record(session: Session, case: Complaint, level: int, now: datetime) -> bool:
    """Insert the escalation row for the case's current entry; False when it exists."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row_id = session.scalar(
        insert(Escalation)
        .values(
            complaint_id=case.id,
            step=case.step,
            status=case.status,
            entry_version=case.version,
            level=level,
            opd_code=case.opd_code,
            deadline_at=case.step_deadline_at,
            at=now,
        )
        .on_conflict_do_nothing()
        .returning(Escalation.id)
    )
    return row_id is not None


def _note(session: Session, case: Complaint, text: str) -> None:
    # A note, not a transition: the step, its deadline and the case's version stay as they are.
    lifecycle.note(session, case, actor=ACTOR, action="escalated", note=text)


def clear_stale_flags(session: Session) -> list[str]:
    """Clear the ``escalated`` flag of cases that moved on since (no escalation of their current entry)."""
    current_entry = exists().where(
        Escalation.complaint_id == Complaint.id, Escalation.entry_version == Complaint.version
    )
    cases = list(session.scalars(select(Complaint).where(Complaint.attention == ESCALATED, ~current_entry)))
    for case in cases:
        attention.clear(session, case, actor=ACTOR, action="escalation_cleared", note="the overdue step was done")
    return [c.ticket for c in cases]


def _mail_opd(
    session: Session, case: Complaint, *, config: CityConfig, settings: Settings, now: datetime
) -> str | None:
    if config.sop.actor(case.status) != "opd":
        return None  # the operator's own step (verification, the answer review): no OPD owes it
    opd = config.opd(case.opd_code)
    address = opd.escalation_address if opd is not None else None
    if opd is None or not address or not mail_enabled(settings):
        return None
    return queue_reply(
        session,
        dedupe_key=f"{case.id}:{KIND_OPD}:{case.version}",
        kind=KIND_OPD,
        channel="email",
        provider="email",
        address=address,
        text=_render(KIND_OPD, case, config=config, settings=settings, now=now, opd=opd.name),
        complaint_id=case.id,
    )


def _mail_supervisor(
    session: Session, case: Complaint, address: str, *, config: CityConfig, settings: Settings, now: datetime
) -> str | None:
    if not mail_enabled(settings):
        return None
    opd = config.opd(case.opd_code)
    return queue_reply(
        session,
        dedupe_key=f"{case.id}:{KIND_SUPERVISOR}:{case.version}",
        kind=KIND_SUPERVISOR,
        channel="email",
        provider="email",
        address=address,
        text=_render(KIND_SUPERVISOR, case, config=config, settings=settings, now=now, opd=opd.name if opd else "-"),
        complaint_id=case.id,
    )


def late_minutes(case: Complaint, config: CityConfig, now: datetime) -> float:
    """How late the case's step is at ``now``, in minutes on the step's own clock (0 before the deadline).

    A working-hours step counts only the city's working minutes since its deadline: a step due on
    Friday at 15:00 is one working hour late on Monday at 09:00, not 66 hours.
    """
    if case.step_deadline_at is None or case.step_deadline_at >= now:
        return 0.0
    if lifecycle.step_clock(case, config.sop) == sla.WORKING:
        return sla.working_minutes_between(case.step_deadline_at, now, sla.calendar_of(config.calendar))
    return (now - case.step_deadline_at).total_seconds() / 60


def late_words(case: Complaint, config: CityConfig, now: datetime) -> str:
    """How late the step is in staff mail's words: "7 jam 30 menit kerja" (templates late_working / late_wall)."""
    hours, minutes = divmod(int(late_minutes(case, config, now)), 60)
    working = lifecycle.step_clock(case, config.sop) == sla.WORKING
    key = "late_working" if working else "late_wall"
    return render_reply(config.replies, key, "id", channel="email", hours=hours, minutes=minutes)


def _render(kind: str, case: Complaint, *, config: CityConfig, settings: Settings, now: datetime, opd: str) -> str:
    deadline = case.step_deadline_at or now
    hours, minutes = divmod(int(late_minutes(case, config, now)), 60)
    return render_reply(
        config.replies,
        kind,
        "id",  # staff mail is in Indonesian, like the OPD notice
        channel="email",
        ticket=case.ticket,
        opd=opd,
        topic=escalation_topic(case),
        step=_step_words(case, config),
        deadline=local_time_words(deadline, settings),
        late=late_words(case, config, now),
        late_hours=hours,  # what a city's wording from before {late} uses (config/loader.py)
        late_minutes=minutes,
        link=case_link(settings, case.ticket),
    )


def escalation_topic(case: Complaint) -> str:
    """The OPD notice's topic with NIKs, phone numbers and e-mail addresses masked.

    The topic is the reporter's own subject line, which may carry their NIK or phone number; an
    escalation mail goes to a head of office or the supervisor, who need the case, not the person.
    """
    return opd_notice_topic(case, clean=mask)


def mail_enabled(settings: Settings) -> bool:
    """True when the e-mail provider is configured (staff mail is a convenience, never required)."""
    return "email" in settings.check_providers()


def case_link(settings: Settings, ticket: str) -> str:
    """The case page on the staff console (login required)."""
    return f"{settings.public_base_url.rstrip('/')}/ops/kasus/{ticket}"


def local_time_words(moment: datetime, settings: Settings) -> str:
    """``05-12-2026 14:30 WIB``: a time as the city reads it (DIGEST_TIMEZONE)."""
    return moment.astimezone(ZoneInfo(settings.digest_timezone)).strftime("%d-%m-%Y %H:%M %Z")


def _step_words(case: Complaint, config: CityConfig) -> str:
    label = config.sop.label(case.status, "id") if case.status in config.sop.statuses else case.status
    return f"{case.step} ({label})"


def _late_words(minutes_late: float, clock: str) -> str:
    hours, minutes = divmod(int(minutes_late), 60)
    return f"{hours} h {minutes} min" + (" working time" if clock == sla.WORKING else "")
