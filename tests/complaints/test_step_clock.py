"""Issue 10 review: every reader counts a step on the clock its deadline was set on, with a frozen clock.

A verified case handed to the operator (AUTO_DISPOSE=false) has a working-hours deadline although
sop.yaml marks ``diverifikasi`` wall: its pause, the case page, the inbox words, the overdue
counts (/ops/status, /metrics, the inbox filter) and the digest all read ``deadline_clock``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from complaints import lifecycle
from complaints.casefile import case_file
from complaints.models import Complaint
from complaints.queries import InboxFilters, Viewer, inbox
from config.model import CityConfig
from gateway.console.clock import step_clock_words
from gateway.console.strings import STRINGS
from gateway.metrics import overdue_steps_query
from gateway.ops import operations_status
from normalizer.tickets import new_ticket
from tests.complaints.test_clock_pause import (  # noqa: F401 - fixtures
    CALENDAR,
    SOP,
    FrozenClock,
    clock,
    move,
    session,
    sqlite_sf,
    wib,
)
from tests.complaints.test_transitions import make_case
from tests.support.cases import seed_case
from tests.support.city import shipped_city
from tests.workers.test_escalation import city, mails, make_runtime  # noqa: F401 - fixture
from workers.scheduler import digest_job

CITY = shipped_city()


def handed_over(session: Session, clock: FrozenClock, at: datetime) -> Complaint:  # noqa: F811
    """A case verified by the worker at ``at`` and handed to the operator then (AUTO_DISPOSE=false)."""
    case = make_case(session, lifecycle.RECEIVED, ticket=new_ticket())
    clock.at(at)
    move(session, case, lifecycle.VERIFIED, role="system")
    assert case.deadline_clock == "wall"
    lifecycle.hand_to_staff(case, sop=SOP, calendar=CALENDAR)
    session.flush()
    return case


def test_a_handed_over_verification_pauses_with_its_working_minutes(session: Session, clock: FrozenClock) -> None:  # noqa: F811
    """Handed over Friday 15:30 (60 working min: Monday 08:30), returned at 15:45: 45 working minutes kept."""
    case = handed_over(session, clock, wib(12, 4, 15, 30))
    assert case.deadline_clock == "working" and case.step_deadline_at == wib(12, 7, 8, 30)

    clock.at(wib(12, 4, 15, 45))
    move(session, case, lifecycle.RETURNED_TO_CITIZEN)

    assert case.clock_paused_remaining_minutes == pytest.approx(45)
    assert case.deadline_clock is None


def test_the_case_page_counts_time_left_on_the_deadline_clock(session: Session, clock: FrozenClock) -> None:  # noqa: F811
    """Friday 15:40, due Monday 08:30 on working hours: 50 working minutes left, "50 menit kerja lagi"."""
    case = handed_over(session, clock, wib(12, 4, 15, 30))
    now = wib(12, 4, 15, 40)

    summary = case_file(session, case, reveal=False, user_id=1, config=CITY, now=now).summary

    assert summary.clock == "working" and summary.seconds_left == 50 * 60 and not summary.overdue
    words = step_clock_words(STRINGS["id"], CITY, summary.status, summary.step_deadline_at, now, clock=summary.clock)
    assert words == STRINGS["id"]["inbox_left_minutes_working"].format(n=50)


def test_a_working_step_late_past_closing_time_is_overdue_on_the_page(session: Session, clock: FrozenClock) -> None:  # noqa: F811
    """Due Monday 08:30, read Monday 17:00: overdue (as the escalation says), 450 working minutes late."""
    case = handed_over(session, clock, wib(12, 4, 15, 30))

    summary = case_file(session, case, reveal=False, user_id=1, config=CITY, now=wib(12, 7, 17)).summary

    assert summary.overdue and summary.seconds_left == -450 * 60


def test_overdue_counts_skip_deadlines_not_yet_recomputed(session: Session) -> None:  # noqa: F811
    """Of two cases an hour past their deadline, the one of the old wall-clock rule is counted nowhere yet."""
    now = datetime.now().astimezone()
    seed_case(session, new_ticket(), "triase", deadline_in=timedelta(hours=-1))
    seed_case(session, new_ticket(), "triase", deadline_in=timedelta(hours=-1), deadline_clock=None)

    assert operations_status(session, 60.0)["cases_overdue"] == 1
    assert [count for _, _, count in session.execute(overdue_steps_query(now))] == [1]
    late = inbox(session, Viewer("operator"), InboxFilters(overdue=True), now=now).cases
    assert len(late) == 1 and late[0].deadline_clock == "working"


def test_the_digest_says_how_late_on_the_step_clock(tmp_path: Path, city: CityConfig) -> None:  # noqa: F811
    """DLH's morning digest lists a step due Thursday 08:30 as 7 h 30 min of working time late on Friday."""
    rt = make_runtime(tmp_path, city)
    try:
        ticket = new_ticket()
        with rt.sf.begin() as s:
            seed_case(s, ticket, "dianalisa", opd_code="dlh", step=5, step_deadline_at=wib(12, 3, 8, 30))
        digest_job(rt, wib(12, 4, 8, 0))
        (digest,) = mails(rt, "opd_digest")
        line = next(line for line in digest.text.splitlines() if ticket in line)
        assert "terlambat 7 jam 30 menit kerja" in line
    finally:
        rt.close()
