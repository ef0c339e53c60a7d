"""The working-hours SLA clock (complaints/sla.py) on the shipped Kota Bogor calendar, with frozen times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from complaints.sla import (
    WALL,
    WORKING,
    Calendar,
    add_working_minutes,
    calendar_of,
    deadline_after,
    minutes_left,
    working_minutes_between,
)
from config.model import CalendarConfig
from tests.support.city import shipped_city

WIB = timezone(timedelta(hours=7))


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Bogor wall-clock time (tests read like the city's calendar)."""
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


@pytest.fixture(scope="module")
def bogor() -> Calendar:
    """The shipped calendar: Monday-Friday 08:00-16:00 WIB, ID holidays, 2026 cuti bersama."""
    return calendar_of(shipped_city().calendar)


@pytest.mark.parametrize(
    ("label", "start", "minutes", "due"),
    [
        ("within one morning", wib(2026, 12, 7, 9, 0), 60, wib(2026, 12, 7, 10, 0)),
        ("ends exactly at closing, not next morning", wib(2026, 12, 7, 15, 0), 60, wib(2026, 12, 7, 16, 0)),
        ("Friday 16:00 complaint waits for Monday", wib(2026, 12, 4, 16, 0), 30, wib(2026, 12, 7, 8, 30)),
        ("across a weekend", wib(2026, 12, 4, 15, 30), 60, wib(2026, 12, 7, 8, 30)),
        ("before opening counts from 08:00", wib(2026, 12, 8, 6, 15), 30, wib(2026, 12, 8, 8, 30)),
        ("exactly at opening", wib(2026, 12, 8, 8, 0), 30, wib(2026, 12, 8, 8, 30)),
        ("after closing counts from next morning", wib(2026, 12, 8, 19, 0), 30, wib(2026, 12, 9, 8, 30)),
        ("Saturday counts from Monday", wib(2026, 12, 5, 10, 0), 240, wib(2026, 12, 7, 12, 0)),
        # 17 August 2026 (Monday) is Independence Day in the holidays package's list for ID.
        ("across a national holiday", wib(2026, 8, 14, 15, 0), 120, wib(2026, 8, 18, 9, 0)),
        # 24 December 2026 (Thursday) is cuti bersama (calendar.yaml), 25 December Christmas.
        ("across cuti bersama and Christmas", wib(2026, 12, 23, 15, 0), 120, wib(2026, 12, 28, 9, 0)),
        # Step 6, "4 x 6 jam": 24 working hours = three whole working days.
        ("step 6 from Wednesday morning", wib(2026, 12, 9, 8, 0), 1440, wib(2026, 12, 11, 16, 0)),
        ("step 6 from Wednesday noon", wib(2026, 12, 9, 12, 0), 1440, wib(2026, 12, 14, 12, 0)),
        # Idul Fitri 2026: cuti bersama 20, 23, 24 March around the holidays of 21-22 March.
        ("Idul Fitri week", wib(2026, 3, 19, 9, 0), 60, wib(2026, 3, 25, 9, 0)),
    ],
)
def test_deadlines(label: str, start: datetime, minutes: int, due: datetime, bogor: Calendar) -> None:
    """Working minutes skip nights, weekends, holidays and cuti bersama; boundaries are exact."""
    assert add_working_minutes(start, minutes, bogor) == due, label


def test_results_are_utc_and_jakarta_has_no_dst(bogor: Calendar) -> None:
    """A deadline comes back in UTC, seven hours behind WIB in June and in December alike."""
    for month in (6, 12):
        due = add_working_minutes(wib(2026, month, 8, 8, 0), 60, bogor)
        assert due.utcoffset() == timedelta(0)
        assert due == datetime(2026, month, 8, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        (wib(2026, 12, 7, 9, 0), wib(2026, 12, 7, 10, 30), 90),
        (wib(2026, 12, 4, 15, 0), wib(2026, 12, 7, 9, 0), 120),  # Friday to Monday: 60 + 60
        (wib(2026, 12, 5, 9, 0), wib(2026, 12, 6, 15, 0), 0),  # a weekend has no working time
        (wib(2026, 8, 17, 9, 0), wib(2026, 8, 17, 15, 0), 0),  # Independence Day
        (wib(2026, 12, 24, 9, 0), wib(2026, 12, 24, 15, 0), 0),  # cuti bersama
        (wib(2026, 12, 7, 18, 0), wib(2026, 12, 8, 7, 0), 0),  # overnight
        (wib(2026, 12, 7, 10, 0), wib(2026, 12, 7, 9, 0), -60),  # past deadline: negative
    ],
)
def test_working_minutes_between(start: datetime, end: datetime, minutes: float, bogor: Calendar) -> None:
    """The working time between two moments counts only open hours, signed."""
    assert working_minutes_between(start, end, bogor) == minutes


def test_adding_then_measuring_gives_the_minutes_back(bogor: Calendar) -> None:
    """For any start, the working time from start to its deadline is the standard itself."""
    start = wib(2026, 3, 16, 7, 13)
    for minutes in (1, 30, 240, 479, 480, 481, 1440, 10_000):
        due = add_working_minutes(start, minutes, bogor)
        assert working_minutes_between(start, due, bogor) == pytest.approx(minutes)


def test_a_year_of_working_days_is_counted_by_days_not_minutes(bogor: Calendar) -> None:
    """2026: 261 weekdays, less 13 public holidays on weekdays and 8 cuti bersama days, is 240 working days."""
    minutes = working_minutes_between(wib(2026, 1, 1), wib(2027, 1, 1), bogor)
    assert minutes == 240 * 480


def test_wall_clock_steps_count_every_minute(bogor: Calendar) -> None:
    """A `clock: wall` step started on Friday evening is due the same evening."""
    start = wib(2026, 12, 4, 20, 0)
    assert deadline_after(start, 30, WALL, bogor) == wib(2026, 12, 4, 20, 30)
    assert deadline_after(start, 30, WORKING, bogor) == wib(2026, 12, 7, 8, 30)
    assert minutes_left(wib(2026, 12, 4, 20, 10), wib(2026, 12, 4, 20, 30), WALL, bogor) == 20
    assert minutes_left(wib(2026, 12, 4, 20, 10), wib(2026, 12, 7, 8, 30), WORKING, bogor) == 30


def test_per_day_hours_and_local_days_off() -> None:
    """A longer Friday and a city day off, as calendar.yaml can say them."""
    friday_long = ((480, 960),) * 4 + ((480, 990), None, None)
    config = CalendarConfig(week=friday_long, local_days_off=(wib(2026, 12, 7).date(),))
    calendar = Calendar.from_config(config)
    assert add_working_minutes(wib(2026, 12, 4, 16, 0), 30, calendar) == wib(2026, 12, 4, 16, 30)
    # Monday 7 December is the city's day off: Friday 16:30 + 30 minutes is Tuesday 08:30.
    assert add_working_minutes(wib(2026, 12, 4, 16, 30), 30, calendar) == wib(2026, 12, 8, 8, 30)


def test_a_calendar_without_working_days_fails_loudly() -> None:
    """No working day at all is an error, not an endless loop."""
    calendar = Calendar.from_config(CalendarConfig(week=(None,) * 7))
    with pytest.raises(ValueError, match="calendar.yaml"):
        add_working_minutes(wib(2026, 12, 7, 9, 0), 30, calendar)
