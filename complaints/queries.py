"""The one place a staff user's case queries are scoped: every console query starts from :func:`visible_cases`.

- ``operator`` and ``admin`` see every case.
- ``opd`` users see only cases whose ``opd_code`` is their OPD *and* that have reached their OPD:
  a routing proposal on a case still waiting for the operator (``diverifikasi``, ``triase``...)
  and a case they returned to the operator (``dikembalikan_ke_operator``) are not theirs.
- Any other role, or an OPD user without an OPD, sees nothing.

:func:`inbox` narrows that to the cases waiting for the user's role to act (the SOP's actor per
status, from the transition table), with filters and paging by ``LIMIT 51`` (no full count).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session

from complaints import deadlines, transitions
from complaints.models import Complaint
from config.statuses import RETURNED_TO_OPERATOR
from normalizer.envelope import utcnow
from normalizer.tickets import normalize_ticket

PAGE_SIZE = 50

STAFF_ROLES = frozenset({"operator", "admin"})

# Statuses in which a case is with an OPD (disposed to it, or past that with the OPD's answer).
_OPD_STATUSES: tuple[str, ...] = tuple(
    s
    for s in ("disposisi", "dianalisa", "ditindaklanjuti", "dijawab", "diterima_operator", "selesai")
    if s in transitions.statuses()
)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: the role and, for OPD users, their OPD code."""

    role: str
    opd_code: str | None = None


@dataclass(frozen=True, slots=True)
class InboxFilters:
    """What the inbox form asks for; empty values mean "any"."""

    status: str = ""
    opd_code: str = ""
    channel: str = ""
    overdue: bool = False
    ticket: str = ""
    attention: bool = False
    """Only cases flagged for an operator (a failed answer delivery, a citizen's new message)."""


@dataclass(frozen=True, slots=True)
class InboxPage:
    """One page of the inbox: up to :data:`PAGE_SIZE` cases and whether more follow."""

    cases: tuple[Complaint, ...]
    page: int
    has_next: bool


def visible_cases(user: Viewer) -> Select[Complaint]:
    """``select(Complaint)`` limited to the cases ``user`` may see at all (see the module docstring)."""
    query = select(Complaint)
    if user.role in STAFF_ROLES:
        return query
    if user.role == "opd" and user.opd_code:
        return query.where(Complaint.opd_code == user.opd_code, Complaint.status.in_(_OPD_STATUSES))
    return query.where(false())


def waiting_statuses(role: str, *, auto_dispose: bool = True) -> tuple[str, ...]:
    """The statuses in which a case waits for ``role`` to act next.

    From the transition table: every status from which the role has a move, minus those where
    it only may step in (re-route, return) while another actor has the step. With
    ``auto_dispose`` the routing worker disposes verified cases, so ``diverifikasi`` is not the
    operator's; without it, the operator disposes every verified case.
    """
    if role in STAFF_ROLES:
        wanted = {"triase", RETURNED_TO_OPERATOR, "dijawab", "diterima_operator"}
        if not auto_dispose:
            wanted.add("diverifikasi")
        role_for_table = "operator"
    elif role == "opd":
        wanted = {"disposisi", "dianalisa", "ditindaklanjuti"}
        role_for_table = "opd"
    else:
        return ()
    # Keep only statuses where the table really lets the role move the case (a check on the set above).
    return tuple(s for s in sorted(wanted) if transitions.moves_from(s, role_for_table))


def inbox(
    session: Session,
    user: Viewer,
    filters: InboxFilters,
    page: int = 1,
    *,
    auto_dispose: bool = True,
    now: datetime | None = None,
) -> InboxPage:
    """The cases waiting for ``user``'s role, filtered, deadline first then oldest, 50 a page.

    Operators and admins also get every case flagged ``attention`` (whatever its status, a
    closed one included); both halves of the OR have their own index.
    """
    page = max(1, page)
    waiting = waiting_statuses(user.role, auto_dispose=auto_dispose)
    staff = user.role in STAFF_ROLES
    waits = Complaint.status.in_(waiting)
    query = visible_cases(user).where(or_(waits, Complaint.attention.is_not(None)) if staff else waits)
    # issue 10: a case merged into another leaves the inbox, unless the main case's answer failed to reach it.
    query = query.where(
        or_(Complaint.merged_into_id.is_(None), Complaint.attention.is_not(None))
        if staff
        else Complaint.merged_into_id.is_(None)
    )
    if filters.attention:
        query = query.where(Complaint.attention.is_not(None)) if staff else query.where(false())
    if filters.status:
        query = query.where(Complaint.status == filters.status)
    if filters.opd_code and user.role in STAFF_ROLES:
        query = query.where(Complaint.opd_code == filters.opd_code)
    if filters.channel:
        query = query.where(Complaint.channel == filters.channel)
    if filters.overdue:
        query = query.where(deadlines.overdue(now or utcnow()))
    if filters.ticket:
        ticket = normalize_ticket(filters.ticket)
        query = query.where(Complaint.ticket == ticket) if ticket else query.where(false())
    query = (
        query.order_by(
            Complaint.step_deadline_at.is_(None),  # cases with a deadline first
            Complaint.step_deadline_at,
            Complaint.created_at,
            Complaint.id,  # a total order: paging never repeats or skips a row
        )
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = tuple(session.scalars(query))
    return InboxPage(cases=rows[:PAGE_SIZE], page=page, has_next=len(rows) > PAGE_SIZE)


# part-escalation: the statuses in which a case is with an OPD, for the morning digest (complaints/digest.py).
def opd_statuses() -> tuple[str, ...]:
    """The statuses in which a case is with its OPD (disposed to it or past that); see :func:`visible_cases`."""
    return _OPD_STATUSES
