"""The figures of the staff report for a period (issue 10, ``/ops/reports``).

:func:`build_report` reads what a viewer may see (every query is scoped by
:func:`complaints.queries.visible_cases`, so an OPD user's report holds only their OPD's cases)
and returns plain numbers:

- complaints received in the period per channel, per OPD and per current status, and per day
  (a case merged into another counts as received, and under :data:`MERGED_STATUS`, not its old status);
- time per SOP step (median and 90th percentile, on each status's clock) and the share of steps
  done within the standard, per step and per OPD (:mod:`complaints.step_times`); a step counts in
  the period in which it *ended*;
- returns to the citizen (by reason) and to the operator (by OPD, with the OPD's words);
- answers sent per channel: delivered, still on their way, failed;
- class deadlines (issue 14) due in the period and met, per class (:mod:`complaints.class_report`);
- answers rated PUAS and cases reopened, per OPD (issue 14, :mod:`complaints.rating_report`).

The period is a range of city dates (``calendar.yaml``'s time zone), both ends included.
Nothing here formats words: :mod:`gateway.console.report_tables` does that.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from complaints import sla
from complaints.answers import ANSWER
from complaints.class_report import ClassCompliance, class_compliance
from complaints.models import CaseNote, Complaint, HistoryEntry, Reply
from complaints.queries import Viewer, visible_cases
from complaints.rating_report import OpdRatings, opd_ratings
from complaints.step_times import Change, Stay, median, percentile, stays
from config.model import SopConfig
from config.statuses import RETURNED_TO_CITIZEN, RETURNED_TO_OPERATOR

MAX_DAYS = 400
"""The longest period one report covers (a year and a bit): the step walk reads every history row in it."""

P90 = 0.9

DELIVERED = "delivered"
FAILED = ("failed", "unknown")
"""Reply states that mean the citizen may not have the answer (an operator must act)."""
ON_THE_WAY = ("queued", "sending")

MERGED_STATUS = "digabung"
"""The per-status key of cases merged into another (``merged_into_id`` set), in place of their status.

Why (issue 10): a merged case is answered with its main case and its own status stays where the
merge froze it, so counted under that status it would look like an open case forever. Counted with
the main case's status instead, one street light reported by thirty people would count as thirty
answers (within the standard or late) for one piece of work. An auditor counts every report as
received and every case's outcome once: so a merged case is received, then "merged into another
case" (its own line, so the statuses still add up to the received total), and its outcome is the
main case's, counted once there. Steps finished on it before the merge stay in the step figures:
that work was done against the clock, and a merge must not hide a late step.
"""

OTHER_REASON = "lainnya"
"""The reason key of a return without one (an operator who wrote their own words)."""


@dataclass(frozen=True, slots=True)
class Period:
    """City dates from ``first`` to ``last``, both included."""

    first: date
    last: date

    @classmethod
    def month_before(cls, today: date) -> Period:
        """The calendar month before the one ``today`` is in (the report's default)."""
        first_this = today.replace(day=1)
        last = first_this - timedelta(days=1)
        return cls(last.replace(day=1), last)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """One calendar month."""
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return cls(first, following - timedelta(days=1))

    def bounds(self, calendar: sla.Calendar) -> tuple[datetime, datetime]:
        """The period as UTC [start, end): local midnight of ``first`` to local midnight after ``last``."""
        start = datetime.combine(self.first, time(0), tzinfo=calendar.zone).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=calendar.zone).astimezone(UTC)
        return start, end

    @property
    def days(self) -> int:
        """How many dates the period covers."""
        return (self.last - self.first).days + 1


@dataclass(frozen=True, slots=True)
class StepFigure:
    """Time taken in one status over the period's finished steps."""

    status: str
    step: int
    clock: str
    standard: int
    count: int
    within: int
    median: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class OpdCompliance:
    """An OPD's own steps (statuses whose actor is ``opd``) finished in the period."""

    opd_code: str
    count: int
    within: int


@dataclass(frozen=True, slots=True)
class OperatorReturn:
    """One case an OPD returned to the operator as not its authority, with the OPD's reason."""

    ticket: str
    at: datetime
    opd_code: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class AnswerDelivery:
    """Answers sent to citizens on one channel in the period, by what became of them."""

    channel: str
    total: int
    delivered: int
    sent: int
    """Handed to the provider, no delivery report (yet)."""
    on_the_way: int
    failed: int


@dataclass(frozen=True, slots=True)
class Report:
    """Every figure of the report for one period and one viewer."""

    period: Period
    received: int
    by_channel: tuple[tuple[str, int], ...]
    by_opd: tuple[tuple[str | None, int], ...]
    by_status: tuple[tuple[str, int], ...]
    per_day: tuple[tuple[date, str, int], ...]
    """(city date, channel, complaints received) for every day and channel with at least one."""
    steps: tuple[StepFigure, ...]
    opd_compliance: tuple[OpdCompliance, ...]
    returned_to_citizen: int
    citizen_reasons: tuple[tuple[str, int], ...]
    """(reason, count): an identity problem ``field:code`` or the operator's reason template key."""
    returned_to_operator: int
    operator_returns_by_opd: tuple[tuple[str | None, int], ...]
    operator_returns: tuple[OperatorReturn, ...]
    answers: tuple[AnswerDelivery, ...]
    class_compliance: tuple[ClassCompliance, ...] = ()
    ratings: tuple[OpdRatings, ...] = ()
    """Issue 14: per OPD, answers closed, the citizens' ratings and the reopens (:mod:`complaints.rating_report`)."""
    """Issue 14: class deadlines due in the period (and passed) and how many were met, per class."""


def status_key(status: str, merged_into_id: str | None) -> str:
    """The line a case counts on in a per-status figure: its status, or :data:`MERGED_STATUS` once merged."""
    return MERGED_STATUS if merged_into_id is not None else status


def statuses_in_order(counts: Counter[str], sop: SopConfig) -> tuple[tuple[str, int], ...]:
    """(status, count) in sop.yaml's order, the merged cases last; statuses with none left out."""
    return tuple((s, counts[s]) for s in (*sop.statuses, MERGED_STATUS) if counts[s])


def _ids(viewer: Viewer) -> Select[tuple[str]]:
    return visible_cases(viewer).with_only_columns(Complaint.id)


def _by_count(counter: Counter[str] | Counter[str | None]) -> tuple[tuple[str, int], ...]:
    # Most first, then by name, so the order is the same on every database.
    return tuple(sorted(counter.items(), key=lambda item: (-item[1], str(item[0] or ""))))  # type: ignore[arg-type]


@dataclass(slots=True)
class _Received:
    total: int = 0
    channels: Counter[str] = field(default_factory=Counter)
    opds: Counter[str | None] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    days: Counter[tuple[date, str]] = field(default_factory=Counter)


def _received(session: Session, viewer: Viewer, start: datetime, end: datetime, calendar: sla.Calendar) -> _Received:
    rows = session.execute(
        visible_cases(viewer)
        .with_only_columns(
            Complaint.created_at, Complaint.channel, Complaint.opd_code, Complaint.status, Complaint.merged_into_id
        )
        .where(Complaint.created_at >= start, Complaint.created_at < end)
    ).all()
    found = _Received(total=len(rows))
    for created, channel, opd, status, merged_into in rows:
        found.channels[channel] += 1
        found.opds[opd] += 1
        found.statuses[status_key(status, merged_into)] += 1
        found.days[(calendar.local_date(created), channel)] += 1
    return found


def finished_stays(
    session: Session, viewer: Viewer, start: datetime, end: datetime, sop: SopConfig, calendar: sla.Calendar
) -> list[Stay]:
    """Every step of a visible case that ended in [start, end)."""
    moved = (
        select(HistoryEntry.complaint_id)
        .where(HistoryEntry.at >= start, HistoryEntry.at < end, HistoryEntry.complaint_id.in_(_ids(viewer)))
        .distinct()
    )
    current: dict[str, str | None] = {
        case_id: opd
        for case_id, opd in session.execute(select(Complaint.id, Complaint.opd_code).where(Complaint.id.in_(moved)))
    }
    rows = session.execute(
        select(
            HistoryEntry.complaint_id,
            HistoryEntry.at,
            HistoryEntry.action,
            HistoryEntry.from_status,
            HistoryEntry.to_status,
            HistoryEntry.opd_code,
        )
        .where(HistoryEntry.complaint_id.in_(moved), HistoryEntry.at < end)
        .order_by(HistoryEntry.complaint_id, HistoryEntry.id)
    )
    changes = (Change(*row) for row in rows)
    return [s for s in stays(changes, sop, calendar, current) if s.ended >= start]


def step_figures(found: Iterable[Stay], sop: SopConfig) -> tuple[StepFigure, ...]:
    """Median, 90th percentile and share within the standard per status, in sop.yaml's order."""
    by_status: dict[str, list[Stay]] = defaultdict(list)
    for stay in found:
        by_status[stay.status].append(stay)
    figures = []
    for state in sop.states:
        done = by_status.get(state.status)
        if not done or state.minutes is None:
            continue
        minutes = [s.minutes for s in done]
        figures.append(
            StepFigure(
                status=state.status,
                step=state.step,
                clock=state.clock,
                standard=state.minutes,
                count=len(done),
                within=sum(s.within for s in done),
                median=median(minutes),
                p90=percentile(minutes, P90),
            )
        )
    return tuple(figures)


def opd_compliance(found: Iterable[Stay], sop: SopConfig) -> tuple[OpdCompliance, ...]:
    """Per OPD, its own steps (actor ``opd``) and how many were within the standard, by OPD code."""
    done: Counter[str] = Counter()
    within: Counter[str] = Counter()
    for stay in found:
        if stay.opd_code is None or sop.actor(stay.status) != "opd":
            continue
        done[stay.opd_code] += 1
        within[stay.opd_code] += stay.within
    return tuple(OpdCompliance(code, done[code], within[code]) for code in sorted(done))


def _returns_to_citizen(session: Session, viewer: Viewer, start: datetime, end: datetime) -> tuple[int, Counter[str]]:
    notes = session.scalars(
        select(HistoryEntry.note).where(
            HistoryEntry.to_status == RETURNED_TO_CITIZEN,
            HistoryEntry.from_status != RETURNED_TO_CITIZEN,
            HistoryEntry.at >= start,
            HistoryEntry.at < end,
            HistoryEntry.complaint_id.in_(_ids(viewer)),
        )
    ).all()
    reasons: Counter[str] = Counter()
    for note in notes:
        # The identity check writes its findings ("nik:missing,phone:invalid"); an operator the template key.
        for reason in (note or OTHER_REASON).split(","):
            reasons[reason.strip() or OTHER_REASON] += 1
    return len(notes), reasons


def returns_to_operator(session: Session, viewer: Viewer, start: datetime, end: datetime) -> list[OperatorReturn]:
    """Cases returned to the operator in [start, end), with the OPD that returned them and its reason."""
    moves = session.execute(
        select(HistoryEntry.complaint_id, HistoryEntry.at, HistoryEntry.opd_code, Complaint.ticket, Complaint.opd_code)
        .join(Complaint, Complaint.id == HistoryEntry.complaint_id)
        .where(
            HistoryEntry.to_status == RETURNED_TO_OPERATOR,
            HistoryEntry.from_status != RETURNED_TO_OPERATOR,
            HistoryEntry.at >= start,
            HistoryEntry.at < end,
            HistoryEntry.complaint_id.in_(_ids(viewer)),
        )
        .order_by(HistoryEntry.at, HistoryEntry.id)
    ).all()
    if not moves:
        return []
    # The OPD's reason is the case note written in the same action (kind return_reason, by the OPD).
    reasons: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for case_id, at, text in session.execute(
        select(CaseNote.complaint_id, CaseNote.at, CaseNote.text)
        .where(
            CaseNote.kind == "return_reason",
            CaseNote.author_role == "opd",
            CaseNote.complaint_id.in_({m[0] for m in moves}),
        )
        .order_by(CaseNote.id)
    ):
        reasons[case_id].append((at, text))
    found = []
    for case_id, at, held_by, ticket, opd_now in moves:
        text = next((t for when, t in reasons[case_id] if abs((when - at).total_seconds()) < 60), "")
        found.append(OperatorReturn(ticket, at, held_by if held_by is not None else opd_now, text))
    return found


def _answers(session: Session, viewer: Viewer, start: datetime, end: datetime) -> tuple[AnswerDelivery, ...]:
    rows = session.execute(
        select(Reply.channel, Reply.status).where(
            Reply.kind == ANSWER,
            Reply.created_at >= start,
            Reply.created_at < end,
            Reply.complaint_id.in_(_ids(viewer)),
        )
    ).all()
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    for channel, status in rows:
        by_channel[channel][status] += 1
    return tuple(
        AnswerDelivery(
            channel=channel,
            total=sum(c.values()),
            delivered=c[DELIVERED],
            sent=c["sent"],
            on_the_way=sum(c[s] for s in ON_THE_WAY),
            failed=sum(c[s] for s in FAILED),
        )
        for channel, c in sorted(by_channel.items())
    )


def build_report(
    session: Session,
    viewer: Viewer,
    period: Period,
    sop: SopConfig,
    calendar: sla.Calendar,
    *,
    class_order: tuple[str, ...] = (),
    now: datetime | None = None,
) -> Report:
    """Every figure of the report for ``period`` over the cases ``viewer`` may see (blocking: run in a thread).

    ``class_order`` lists the complaint classes in the config's order; ``now`` (default: the clock)
    bounds the class deadlines counted (one still ahead may yet be met).
    """
    start, end = period.bounds(calendar)
    received = _received(session, viewer, start, end, calendar)
    found = finished_stays(session, viewer, start, end, sop, calendar)
    if viewer.role == "opd":
        # An OPD user's figures are their OPD's own work (and the city's steps on their cases),
        # not how another OPD did with a case it held before a re-route.
        found = [s for s in found if s.opd_code == viewer.opd_code or sop.actor(s.status) != "opd"]
    returned, reasons = _returns_to_citizen(session, viewer, start, end)
    operator_returns = returns_to_operator(session, viewer, start, end)
    return Report(
        period=period,
        received=received.total,
        by_channel=_by_count(received.channels),
        by_opd=_by_count(received.opds),
        by_status=statuses_in_order(received.statuses, sop),
        per_day=tuple((day, channel, n) for (day, channel), n in sorted(received.days.items())),
        steps=step_figures(found, sop),
        opd_compliance=opd_compliance(found, sop),
        returned_to_citizen=returned,
        citizen_reasons=_by_count(reasons),
        returned_to_operator=len(operator_returns),
        operator_returns_by_opd=_by_count(Counter(r.opd_code for r in operator_returns)),
        operator_returns=tuple(operator_returns),
        answers=_answers(session, viewer, start, end),
        class_compliance=class_compliance(session, viewer, start, end, now or datetime.now(UTC), class_order),
        ratings=opd_ratings(session, viewer, start, end),
    )
