"""The SOP state machine: every status change of a case goes through :func:`transition`.

A change is allowed only if the transition table (:mod:`complaints.transitions`) has the move
for the caller's role, and only if nobody else moved the case since the caller read it: the
case's ``version`` is checked and raised in the same UPDATE, so of two sessions racing on one
case exactly one wins (:class:`CaseChanged` for the other). Each change sets the case's SOP step
and the deadline of that step (from the city's ``sop.yaml``, passed in as a
:class:`config.model.SopConfig`) and writes a history row saying who did what and when.

The deadline counts on the step's clock (``clock: working`` or ``wall`` in sop.yaml) through the
city's working calendar (:class:`complaints.sla.Calendar`, passed in like the SOP). A move into a
state without a clock that is not the end (``dikembalikan_ke_pelapor``: waiting for the citizen)
pauses the clock: the time the step had left is kept in ``clock_paused_remaining_minutes``, and
the move out of it gives that time (at most the new status's own standard) to the status the
case resumes in, so a citizen's week of silence does not make the city late.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from complaints import sla, transitions
from complaints.models import Complaint, HistoryEntry, InboxMessage
from config.model import SopConfig
from config.statuses import (
    ANALYSED,
    ANSWER_RECEIVED,
    ANSWERED,
    CLOSED,
    DISPOSED,
    FOLLOWED_UP,
    RECEIVED,
    RETURNED_TO_CITIZEN,
    RETURNED_TO_OPERATOR,
    TRIAGE,
    VERIFIED,
)
from normalizer.envelope import ComplaintEnvelope, new_id, utcnow

__all__ = [
    "ANALYSED",
    "ANSWERED",
    "ANSWER_RECEIVED",
    "CLOSED",
    "DISPOSED",
    "FOLLOWED_UP",
    "RECEIVED",
    "RETURNED_TO_CITIZEN",
    "RETURNED_TO_OPERATOR",
    "TRIAGE",
    "VERIFIED",
    "CaseChanged",
    "TransitionRefused",
    "allowed_actions",
    "allows",
    "can",
    "hand_to_staff",
    "note",
    "open_case",
    "step_clock",
    "transition",
]


class TransitionRefused(Exception):
    """The transition table has no such move for this role (a 409 in the console)."""

    def __init__(self, ticket: str, from_status: str, to_status: str, role: str) -> None:
        self.ticket, self.from_status, self.to_status, self.role = ticket, from_status, to_status, role
        super().__init__(
            f"case {ticket}: moving from {from_status or '(new)'!r} to {to_status!r} is not allowed for role {role!r}"
        )


class CaseChanged(Exception):
    """Someone else changed the case since the caller read it; reload and decide again (a 409 too)."""

    def __init__(self, ticket: str, expected: int, current: int | None = None) -> None:
        self.ticket, self.expected, self.current = ticket, expected, current
        now = f"; it is now at version {current}" if current is not None else ""
        super().__init__(f"case {ticket} changed since it was read (version {expected}{now}): reload it")


def allows(complaint: Complaint, to_status: str, role: str) -> bool:
    """True when the table lets ``role`` move ``complaint`` from its current status to ``to_status``."""
    return transitions.find(complaint.status, to_status, role) is not None


def can(complaint: Complaint, action: str, role: str) -> bool:
    """True when ``role`` may take ``action`` (a table row's name) on ``complaint`` now."""
    return action in allowed_actions(complaint, role)


def allowed_actions(complaint: Complaint, role: str) -> tuple[str, ...]:
    """What ``role`` may do with ``complaint`` now, in table order (the console shows only these)."""
    return transitions.actions(transitions.moves_from(complaint.status, role))


def transition(
    session: Session,
    complaint: Complaint,
    to_status: str,
    *,
    sop: SopConfig,
    calendar: sla.Calendar,
    actor: str,
    role: str,
    action: str,
    note: str | None = None,
    expected_version: int | None = None,
) -> None:
    """Move ``complaint`` to ``to_status`` as ``role``; restart the step clock and record who did it.

    Raises :class:`TransitionRefused` when the table lacks the move for ``role``, and
    :class:`CaseChanged` when ``expected_version`` (the version the caller's page showed) is not
    the case's, or when another session moved the case after this one read it. ``actor`` is who
    (``worker:route_to_opd``, a user's id) and ``action`` the history wording.
    """
    from_status = complaint.status
    if transitions.find(from_status, to_status, role) is None:
        raise TransitionRefused(complaint.ticket, from_status, to_status, role)
    read_version = complaint.version
    if expected_version is not None and expected_version != read_version:
        raise CaseChanged(complaint.ticket, expected_version, read_version)
    if from_status != transitions.NEW:
        # The compare-and-set itself: on PostgreSQL a second session's UPDATE waits for the
        # first one's row lock, then finds the version moved on and changes no row.
        result = session.execute(
            update(Complaint)
            .where(Complaint.id == complaint.id, Complaint.version == read_version)
            .values(version=read_version + 1)
            .execution_options(synchronize_session=False)
        )
        bumped = cast("CursorResult[Any]", result).rowcount
        if bumped != 1:
            raise CaseChanged(complaint.ticket, read_version)
        set_committed_value(complaint, "version", read_version + 1)
    now = utcnow()
    complaint.status = to_status
    complaint.step = sop.step_for_status(to_status)
    _set_deadline(complaint, from_status, to_status, now, sop, calendar)
    if sop.state(to_status).terminal:
        complaint.closed_at = now
    complaint.updated_at = now
    session.add(
        HistoryEntry(
            complaint_id=complaint.id,
            at=now,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            note=note,
            opd_code=complaint.opd_code,
        )
    )


def _set_deadline(
    complaint: Complaint, from_status: str, to_status: str, now: datetime, sop: SopConfig, calendar: sla.Calendar
) -> None:
    """The new status's deadline on its clock; pause or resume the clock around a wait for the citizen."""
    minutes = sop.deadline_minutes(to_status)
    running = complaint.step_deadline_at if from_status in sop.statuses else None
    if minutes is None and not sop.state(to_status).terminal:
        # The clock stops: keep what the step had left (nothing, if it was already late), counted
        # on the clock its deadline was set on (a handed-over diverifikasi counts working time).
        if running is not None:
            left = sla.minutes_left(now, running, step_clock(complaint, sop), calendar)
            complaint.clock_paused_remaining_minutes = max(0.0, left)
        _set(complaint, None, None)
        return
    paused = complaint.clock_paused_remaining_minutes
    complaint.clock_paused_remaining_minutes = None
    if minutes is None:
        _set(complaint, None, None)
        return
    standard = float(minutes) if paused is None else min(paused, float(minutes))
    clock = sop.clock(to_status)
    _set(complaint, sla.deadline_after(now, standard, clock, calendar), clock)


def _set(complaint: Complaint, deadline: datetime | None, clock: str | None) -> None:
    complaint.step_deadline_at = deadline
    complaint.deadline_clock = clock


def step_clock(complaint: Complaint, sop: SopConfig) -> str:
    """The clock the case's current deadline counts on: the one it was set on, else its status's.

    A status's own clock (sop.yaml) is not always the deadline's: with AUTO_DISPOSE=false a
    verified case handed to the operator (:func:`hand_to_staff`) counts working time although
    sop.yaml marks ``diverifikasi`` wall. An unknown (retired) status counts wall minutes.
    """
    if complaint.deadline_clock is not None:
        return complaint.deadline_clock
    return sop.clock(complaint.status) if complaint.status in sop.statuses else sla.WALL


def hand_to_staff(complaint: Complaint, *, sop: SopConfig, calendar: sla.Calendar) -> None:
    """A person must finish the case's current step, which machines usually do (part-clock).

    A status marked ``clock: wall`` in sop.yaml counts wall minutes because the workers move a
    case out of it within seconds. With AUTO_DISPOSE=false the routing worker leaves a verified
    case to the operator instead: from this hand-over the status's standard counts in working
    hours, like every step people do.
    """
    minutes = sop.deadline_minutes(complaint.status)
    if minutes is not None:
        _set(complaint, sla.deadline_after(utcnow(), minutes, sla.WORKING, calendar), sla.WORKING)


def note(session: Session, complaint: Complaint, *, actor: str, action: str, note: str | None = None) -> None:
    """Record an event that does not change the status (a follow-up, a suppressed reply)."""
    now = utcnow()
    complaint.updated_at = now
    session.add(
        HistoryEntry(
            complaint_id=complaint.id,
            at=now,
            actor=actor,
            action=action,
            from_status=complaint.status,
            to_status=complaint.status,
            note=note,
            opd_code=complaint.opd_code,
        )
    )


def open_case(
    session: Session,
    inbox: InboxMessage,
    envelope: ComplaintEnvelope,
    *,
    sop: SopConfig,
    calendar: sla.Calendar,
    role: str = "system",
) -> Complaint:
    """Create the case for an accepted complaint message (or return the existing one).

    The case starts at SOP step 2 ("diterima"); the receipt itself (step 1) is the inbox row.
    """
    existing = session.scalar(select(Complaint).where(Complaint.inbox_id == inbox.id))
    if existing is not None:
        return existing
    ident = envelope.identity
    route = envelope.reply_route
    received_at = inbox.created_at
    complaint = Complaint(
        id=new_id(),
        ticket=inbox.ticket,
        inbox_id=inbox.id,
        channel=envelope.channel,
        provider=envelope.provider,
        reply_channel=route.channel,
        reply_provider=route.provider,
        reply_address=route.address,
        reply_thread_ref=route.thread_ref,
        language=envelope.language,
        status=transitions.NEW,
        step=1,
        version=1,
        nik=ident.nik,
        name=ident.name,
        address=ident.address,
        phone=ident.phone,
        email=ident.email,
        subject=envelope.subject,
        text=envelope.text,
        attachments={"files": [_attachment(a) for a in envelope.attachments]} if envelope.attachments else None,
        source_details=envelope.source_details,  # a manual entry's newspaper and who typed it in
        identity_sources={f: {"from": s} for f, s in envelope.identity_sources.items()}
        if envelope.identity_sources
        else None,
        rahasia=envelope.rahasia,
        anonim=envelope.anonim,
        created_at=received_at,
        updated_at=received_at,
    )
    session.add(complaint)
    session.flush()
    transition(
        session,
        complaint,
        RECEIVED,
        sop=sop,
        calendar=calendar,
        actor="system",
        role=role,
        action="received",
        note=f"via {envelope.provider}",
    )
    return complaint


def _attachment(att: object) -> dict[str, object]:
    return {name: getattr(att, name) for name in ("sha256", "size", "content_type", "filename")}
