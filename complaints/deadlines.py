"""Recompute deadlines set by the old wall-clock rule on the working-hours clock (issue 10 review).

Before the working-hours clock a step's deadline was its entry time plus sop.yaml's minutes of
wall time: a case that entered ``ditindaklanjuti`` (1,440 minutes) on Friday at 10:00 was due on
Saturday at 10:00 instead of Wednesday at 10:00. Such rows carry ``deadline_clock`` NULL
(migration 0017) and the escalation leaves them alone until :func:`recompute_legacy_deadlines`
has given them the deadline the current rule would have: the entry into the current status (the
latest history row that moved the case into it) plus the status's standard on its own clock.

Runs by itself in the scheduler before each escalation pass and by hand as ``intake sla
recompute``. Works in pages (one transaction each) over the rows still to do (a partial index
holds only those), so a page that fails costs only that page, and a second scheduler or a
concurrent status change is harmless: a row is written only if it is still at the version read
and still unmarked (on PostgreSQL rows locked by someone else are skipped, for the next pass).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from complaints import sla, transitions
from complaints.models import Complaint, HistoryEntry
from config.model import CityConfig
from config.statuses import VERIFIED
from normalizer.envelope import utcnow

__all__ = [
    "ACTOR",
    "PAGE",
    "RecomputeOutcome",
    "is_overdue",
    "legacy_count",
    "overdue",
    "recompute_legacy_deadlines",
    "recomputed_deadline",
]

ACTOR = "system:deadlines"
PAGE = 500
"""Rows recomputed per transaction."""


@dataclass
class RecomputeOutcome:
    """What a run did: rows marked, rows whose deadline moved, and whether rows are left."""

    recomputed: int = 0
    moved: int = 0
    remaining: bool = False


def overdue(now: datetime) -> ColumnElement[bool]:
    """The SQL condition "the current step is late at ``now``", as the escalation reads it.

    A deadline is a moment, so being late is ``deadline < now`` on every clock; a deadline of
    the old wall-clock rule is not trusted (not late, not on time) until it is recomputed. The
    console, /ops/status, /metrics and the digest count with this, so none of them calls a case
    late that the escalation would not.
    """
    return and_(Complaint.step_deadline_at < now, Complaint.deadline_clock.is_not(None))


def is_overdue(case: Complaint, now: datetime) -> bool:
    """:func:`overdue` for a loaded case."""
    deadline = case.step_deadline_at
    return deadline is not None and case.deadline_clock is not None and sla.as_utc(deadline) < now


def legacy_count(session: Session) -> int:
    """Open cases whose deadline still follows the old wall-clock rule."""
    return session.scalar(select(func.count()).select_from(Complaint).where(_legacy())) or 0


def recompute_legacy_deadlines(
    sf: sessionmaker[Session],
    *,
    config: CityConfig,
    auto_dispose: bool,
    page: int = PAGE,
    max_seconds: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> RecomputeOutcome:
    """Recompute every legacy deadline, ``page`` rows a transaction; ``progress`` gets the running total.

    ``max_seconds`` stops starting new pages after that long (the scheduler's pass must still
    escalate); ``remaining`` then says rows are left for the next run. ``auto_dispose`` is the
    setting: without it a verified case waits for the operator, whose clock is working time.
    """
    outcome = RecomputeOutcome()
    started = time.monotonic()
    after = ""  # keyset: each run passes each row once; one it could not write waits for the next run
    while True:
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            with sf() as session:
                outcome.remaining = legacy_count(session) > 0
            return outcome
        with sf.begin() as session:
            cases = list(session.scalars(_page(page, session, after)))
            if not cases:
                return outcome
            done, moved = _recompute_page(session, cases, config=config, auto_dispose=auto_dispose)
        outcome.recomputed += done
        outcome.moved += moved
        if progress is not None:
            progress(outcome.recomputed)
        if len(cases) < page:
            return outcome
        after = cases[-1].id


def recomputed_deadline(
    case: Complaint, entered_at: datetime | None, *, config: CityConfig, auto_dispose: bool
) -> tuple[datetime | None, str | None]:
    """(deadline, clock) the current rule gives the case's current step, entered at ``entered_at``.

    Without a known entry the old rule is undone (its deadline less the standard's wall minutes).
    """
    sop = config.sop
    minutes = sop.deadline_minutes(case.status) if case.status in sop.statuses else None
    if minutes is None or case.step_deadline_at is None:
        return None, None
    clock = sop.clock(case.status)
    if case.status == VERIFIED and not auto_dispose and case.opd_code is not None:
        clock = sla.WORKING  # handed to the operator (lifecycle.hand_to_staff)
    start = entered_at or case.step_deadline_at - timedelta(minutes=minutes)
    return sla.deadline_after(start, minutes, clock, sla.calendar_of(config.calendar)), clock


def _legacy() -> ColumnElement[bool]:
    # The partial index ix_complaints_deadline_legacy has exactly this condition.
    return and_(
        Complaint.deadline_clock.is_(None), Complaint.step_deadline_at.is_not(None), Complaint.closed_at.is_(None)
    )


def _page(size: int, session: Session, after: str) -> Select[Complaint]:
    query = select(Complaint).where(_legacy(), Complaint.id > after).order_by(Complaint.id).limit(size)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # a case being moved right now waits for the next pass
    return query


def _entries(session: Session, cases: Iterable[Complaint]) -> dict[tuple[str, str], datetime]:
    """When each case last entered each status it was moved into (notes excluded), by (case id, status)."""
    # A note is written with from_status == to_status; a move from a status to itself (re-route
    # to another OPD) is told apart by its action, which the transition table names.
    self_moves = sorted({t.action for t in transitions.TABLE if t.from_status == t.to_status})
    moved_in = or_(
        HistoryEntry.from_status.is_(None),
        HistoryEntry.from_status != HistoryEntry.to_status,
        HistoryEntry.action.in_(self_moves),
    )
    rows = session.execute(
        select(HistoryEntry.complaint_id, HistoryEntry.to_status, func.max(HistoryEntry.at))
        .where(HistoryEntry.complaint_id.in_([c.id for c in cases]), moved_in)
        .group_by(HistoryEntry.complaint_id, HistoryEntry.to_status)
    )
    return {(case_id, status or ""): at for case_id, status, at in rows if at is not None}


def _recompute_page(
    session: Session, cases: list[Complaint], *, config: CityConfig, auto_dispose: bool
) -> tuple[int, int]:
    entries = _entries(session, cases)
    params: list[dict[str, object]] = []
    notes: list[dict[str, object]] = []
    now = utcnow()
    for case in cases:
        old = case.step_deadline_at
        deadline, clock = recomputed_deadline(
            case, entries.get((case.id, case.status)), config=config, auto_dispose=auto_dispose
        )
        params.append({"b_id": case.id, "b_version": case.version, "b_deadline": deadline, "b_clock": clock})
        if old is not None and deadline != old:
            when = deadline.isoformat(timespec="minutes") if deadline is not None else "none"
            notes.append(
                {
                    "complaint_id": case.id,
                    "at": now,
                    "actor": ACTOR,
                    "action": "deadline_recomputed",
                    "from_status": case.status,
                    "to_status": case.status,
                    "opd_code": case.opd_code,  # as every history row (reports give a step to its OPD)
                    "note": f"step deadline on the {clock or 'no'} clock: {when}"
                    f" (was {old.isoformat(timespec='minutes')})",
                }
            )
    # Guarded by version and the NULL mark: a case moved on since it was read keeps its new deadline.
    # Core executemany: one statement a page, not one ORM flush per row.
    table, history = cast("Table", Complaint.__table__), cast("Table", HistoryEntry.__table__)
    session.connection().execute(
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.version == bindparam("b_version"),
            table.c.deadline_clock.is_(None),
        )
        .values(step_deadline_at=bindparam("b_deadline"), deadline_clock=bindparam("b_clock")),
        params,
    )
    if notes:
        session.connection().execute(insert(history), notes)
    return len(params), len(notes)
