"""The SLA clock: time standards counted in the city's working hours (issue 10).

Pure functions of (start, minutes, calendar): no database, no "now" of their own, so a test
freezes time by passing it. A :class:`Calendar` is built once from the city's
``calendar.yaml`` (:class:`config.model.CalendarConfig`) by :func:`calendar_of`; public holidays
come from the ``holidays`` package, looked up once per year and kept.

Counting walks day by day (never minute by minute): each day contributes its working window,
clipped to the interval, so a step of 24 working hours costs a handful of iterations and a
month-long report interval about thirty.

All datetimes in and out are timezone-aware; results are in UTC like the database columns.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from config.model import CalendarConfig

__all__ = [
    "LATE_COUNT_DAYS",
    "WALL",
    "WORKING",
    "Calendar",
    "add_working_days",
    "add_working_minutes",
    "as_utc",
    "calendar_of",
    "deadline_after",
    "minutes_left",
    "working_minutes_between",
]

WORKING = "working"
"""A time standard counted in working hours (sop.yaml ``clock: working``)."""
WALL = "wall"
"""A time standard counted in every minute (sop.yaml ``clock: wall``: steps machines do)."""

LATE_COUNT_DAYS = 30
"""part-escfix: a step late by more than this many calendar days is said as "more than N days late".

Counting working hours walks the calendar day by day; on the event loop, fifty rows two years
late cost about 95 ms per page. Past a month the exact count of working hours helps nobody.
"""

_MAX_DAYS = 3 * 366
"""How far a count may walk before giving up: a calendar without a working day in three years is broken."""


@dataclass(frozen=True, eq=False)
class Calendar:
    """When the city works: a weekly window per weekday, less holidays and listed days off."""

    zone: ZoneInfo
    week: tuple[tuple[int, int] | None, ...]
    """Per weekday (Monday first): (start, end) minutes after local midnight, or None."""
    listed_days_off: frozenset[date] = frozenset()
    """Cuti bersama and local days off from calendar.yaml."""
    holiday_country: str | None = None
    _holidays: dict[int, frozenset[date]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _windows: dict[date, tuple[datetime, datetime] | None] = field(default_factory=dict, repr=False)
    """part-reports: each day's window, worked out once (a month's report asks for the same days ~100,000 times)."""

    @classmethod
    def from_config(cls, config: CalendarConfig) -> Calendar:
        """The calendar a city's calendar.yaml describes (prefer the cached :func:`calendar_of`)."""
        days_off = frozenset(config.cuti_bersama) | frozenset(config.local_days_off)
        return cls(ZoneInfo(config.timezone), config.week, days_off, config.public_holidays)

    def public_holidays(self, year: int) -> frozenset[date]:
        """The national public holidays of ``year`` (empty when the calendar names no country)."""
        found = self._holidays.get(year)
        if found is None:
            with self._lock:
                if self.holiday_country is None:
                    found = frozenset()
                else:
                    found = frozenset(holidays.country_holidays(self.holiday_country, years=year).keys())
                self._holidays[year] = found
        return found

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` has working hours: a working weekday, no holiday, not a listed day off."""
        return (
            self.week[day.weekday()] is not None
            and day not in self.listed_days_off
            and day not in self.public_holidays(day.year)
        )

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working hours of local ``day`` as UTC (open, close), or None on a day off."""
        if day in self._windows:
            return self._windows[day]
        hours = self.week[day.weekday()]
        found: tuple[datetime, datetime] | None = None
        if hours is not None and self.is_working_day(day):
            midnight = datetime.combine(day, time(0), tzinfo=self.zone)
            opens = (midnight + timedelta(minutes=hours[0])).astimezone(UTC)
            closes = (midnight + timedelta(minutes=hours[1])).astimezone(UTC)
            found = (opens, closes)
        self._windows[day] = found  # the same answer whoever writes it first: no lock needed
        return found

    def local_date(self, moment: datetime) -> date:
        """The calendar date of ``moment`` in the city."""
        return _aware(moment).astimezone(self.zone).date()


@functools.lru_cache(maxsize=8)
def calendar_of(config: CalendarConfig) -> Calendar:
    """The :class:`Calendar` of a city's calendar config, built once per config (holidays stay cached)."""
    return Calendar.from_config(config)


def add_working_minutes(start: datetime, minutes: float, calendar: Calendar) -> datetime:
    """The moment ``minutes`` of working time after ``start`` (UTC).

    A start outside working hours counts from the next opening; a count that ends exactly at
    closing time ends then, not at the next opening. ``minutes`` <= 0 returns ``start``.
    """
    cursor = _aware(start).astimezone(UTC)
    if minutes <= 0:
        return cursor
    remaining = timedelta(minutes=minutes)
    day = calendar.local_date(cursor)
    for _ in range(_MAX_DAYS):
        window = calendar.window(day)
        day += timedelta(days=1)
        if window is None or cursor >= window[1]:
            continue
        cursor = max(cursor, window[0])
        available = window[1] - cursor
        if remaining <= available:
            return cursor + remaining
        remaining -= available
    raise ValueError(f"no working time within {_MAX_DAYS} days of {start.isoformat()}: check calendar.yaml")


def add_working_days(start: datetime, days: int, calendar: Calendar) -> datetime:
    """Close of office on the ``days``-th working day after the local day of ``start`` (UTC).

    Issue 14's class deadline: "5 working days" from a complaint received on Thursday is the
    fifth working day after that Thursday, at closing time, whatever hour it came in; weekends,
    public holidays and cuti bersama do not count.
    """
    day = calendar.local_date(start)
    counted = 0
    for _ in range(_MAX_DAYS):
        day += timedelta(days=1)
        window = calendar.window(day)
        if window is None:
            continue
        counted += 1
        if counted >= days:
            return window[1]
    raise ValueError(f"no {days} working days within {_MAX_DAYS} days of {start.isoformat()}: check calendar.yaml")


def working_minutes_between(start: datetime, end: datetime, calendar: Calendar) -> float:
    """Working minutes from ``start`` to ``end``; negative when ``end`` is before ``start``."""
    begin, finish = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
    if finish < begin:
        return -working_minutes_between(finish, begin, calendar)
    total = timedelta()
    day, last = calendar.local_date(begin), calendar.local_date(finish)
    while day <= last:
        window = calendar.window(day)
        if window is not None:
            overlap = min(finish, window[1]) - max(begin, window[0])
            if overlap > timedelta():
                total += overlap
        day += timedelta(days=1)
    return total.total_seconds() / 60


def deadline_after(start: datetime, minutes: float, clock: str, calendar: Calendar) -> datetime:
    """When a step started at ``start`` with a standard of ``minutes`` on ``clock`` is due."""
    if clock == WALL:
        return _aware(start).astimezone(UTC) + timedelta(minutes=minutes)
    return add_working_minutes(start, minutes, calendar)


def minutes_left(now: datetime, deadline: datetime, clock: str, calendar: Calendar) -> float:
    """Minutes on ``clock`` from ``now`` to ``deadline``; negative once the deadline has passed."""
    if clock == WALL:
        return (_aware(deadline) - _aware(now)).total_seconds() / 60
    return working_minutes_between(now, deadline, calendar)


def as_utc(moment: datetime) -> datetime:
    """``moment`` made aware: SQLite hands back naive datetimes for timezone=True columns, stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_aware = as_utc
