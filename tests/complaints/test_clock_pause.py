"""The lifecycle sets step deadlines on the working-hours clock, and a case waiting for the citizen pauses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session, sessionmaker

from complaints import lifecycle
from complaints.db import alembic_config, make_engine, session_factory, upgrade
from complaints.models import Complaint
from complaints.sla import calendar_of
from tests.complaints.test_transitions import make_case
from tests.support.city import shipped_city

SOP = shipped_city().sop
CALENDAR = calendar_of(shipped_city().calendar)
WIB = timezone(timedelta(hours=7))


def wib(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Bogor time in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


@pytest.fixture(scope="module")
def sqlite_sf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One migrated SQLite database (migration 0013 included)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('clock') / 'cases.sqlite3'}")
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(sqlite_sf: sessionmaker[Session]) -> Iterator[Session]:
    """A session thrown away after the test."""
    with sqlite_sf() as session:
        yield session
        session.rollback()


class FrozenClock:
    """Sets the lifecycle's "now" (the test walks the calendar)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = wib(12, 7, 9)
        monkeypatch.setattr(lifecycle, "utcnow", lambda: self.now)

    def at(self, moment: datetime) -> None:
        """Move the frozen clock to ``moment``."""
        self.now = moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """The frozen clock."""
    return FrozenClock(monkeypatch)


def move(session: Session, case: Complaint, to_status: str, role: str = "operator") -> None:
    """One transition with the shipped SOP and calendar, flushed and read back."""
    lifecycle.transition(session, case, to_status, sop=SOP, calendar=CALENDAR, actor="test", role=role, action="test")
    session.flush()
    session.refresh(case)


def due(case: Complaint) -> datetime | None:
    """The case's step deadline as an aware datetime (SQLite reads back naive UTC)."""
    value = case.step_deadline_at
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def test_an_opd_step_entered_on_friday_afternoon_is_due_on_monday(session: Session, clock: FrozenClock) -> None:
    """Disposisi (30 working minutes) entered Friday 15:50 is due Monday 08:20, not Friday 16:20."""
    case = make_case(session, lifecycle.VERIFIED)
    clock.at(wib(12, 4, 15, 50))
    move(session, case, lifecycle.DISPOSED)
    assert due(case) == wib(12, 7, 8, 20)


def test_follow_up_is_four_periods_of_six_working_hours(session: Session, clock: FrozenClock) -> None:
    """Step 6 entered Wednesday 12:00 is due 24 working hours later: Monday 12:00."""
    case = make_case(session, lifecycle.ANALYSED)
    clock.at(wib(12, 9, 12))
    move(session, case, lifecycle.FOLLOWED_UP, role="opd")
    assert due(case) == wib(12, 14, 12)


def test_machine_steps_keep_wall_clock_minutes(session: Session, clock: FrozenClock) -> None:
    """Diverifikasi (the routing worker's step, clock: wall) entered Saturday night is due an hour later."""
    case = make_case(session, lifecycle.RECEIVED)
    clock.at(wib(12, 5, 22))
    move(session, case, lifecycle.VERIFIED, role="system")
    assert due(case) == wib(12, 5, 23)


def test_a_case_returned_to_the_citizen_stops_its_clock_and_resumes_with_what_was_left(
    session: Session, clock: FrozenClock
) -> None:
    """Triage (60 working min) returned after 20 min waits a week with no deadline, then resumes with 40."""
    case = make_case(session, lifecycle.VERIFIED)
    clock.at(wib(12, 7, 9))
    move(session, case, lifecycle.TRIAGE, role="system")
    assert due(case) == wib(12, 7, 10)

    clock.at(wib(12, 7, 9, 20))
    move(session, case, lifecycle.RETURNED_TO_CITIZEN)
    assert case.step_deadline_at is None  # no deadline: the inbox and the scheduler see no late case
    assert case.clock_paused_remaining_minutes == pytest.approx(40)

    # A week later, Monday 14:00, the citizen completes the identity: the step resumes with 40 minutes.
    clock.at(wib(12, 14, 14))
    move(session, case, lifecycle.VERIFIED, role="system")
    assert due(case) == wib(12, 14, 14, 40)
    assert case.clock_paused_remaining_minutes is None

    # The next step starts a clock of its own, with its full standard.
    clock.at(wib(12, 14, 14, 5))
    move(session, case, lifecycle.TRIAGE, role="system")
    assert due(case) == wib(12, 14, 15, 5)


def test_a_case_already_late_when_returned_resumes_late(session: Session, clock: FrozenClock) -> None:
    """A step that ran over before the return has no time left: it is overdue as soon as it resumes."""
    case = make_case(session, lifecycle.VERIFIED)
    clock.at(wib(12, 7, 9))
    move(session, case, lifecycle.TRIAGE, role="system")
    clock.at(wib(12, 7, 11))
    move(session, case, lifecycle.RETURNED_TO_CITIZEN)
    assert case.clock_paused_remaining_minutes == 0
    clock.at(wib(12, 8, 9))
    move(session, case, lifecycle.VERIFIED, role="system")
    assert due(case) == wib(12, 8, 9)


def test_the_migration_adds_and_removes_the_paused_minutes(tmp_path: Path) -> None:
    """Migration 0013_clock adds complaints.clock_paused_remaining_minutes; downgrading to 0012 drops it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    try:
        upgrade(engine)
        assert "clock_paused_remaining_minutes" in _columns(engine)
        cfg = alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0012")
        assert "clock_paused_remaining_minutes" not in _columns(engine)
    finally:
        engine.dispose()


def _columns(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns("complaints")}
