"""Office hours: when silence on a channel is unusual.

They are the city's working hours from calendar.yaml (:func:`office_hours_of`, issue 10 review:
one place says when the city works). ``HEALTH_OFFICE_HOURS`` may override them for the health
page alone (a call centre open longer than the offices, say): it reads like ``"mon-fri
08:00-16:00"`` in WIB; several groups are separated by commas or semicolons (``"mon-thu
07:30-16:00, fri 07:30-11:30"``). The health report asks two
things: is ``now`` inside office hours, and how much office time has passed between two moments
(so a channel last heard on Friday afternoon is not "quiet for 65 h" on Monday at 08:30).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from complaints.sla import Calendar
from config.settings import ConfigurationError

WIB = timezone(timedelta(hours=7), "WIB")  # Kota Bogor's time zone (Asia/Jakarta has no DST)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUP = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")
# Office time further back than this is not counted: a channel silent for weeks is quiet either way.
_MAX_LOOKBACK_DAYS = 31


@dataclass(frozen=True)
class OfficeHours:
    """Opening times per weekday (0 = Monday), in WIB."""

    spans: dict[int, list[tuple[time, time]]]
    closed_on: Callable[[date], bool] = lambda _day: False
    """part-escfix: days the offices are closed whatever the weekday (the city calendar's holidays)."""
    zone: tzinfo = WIB
    """The time zone of ``spans`` (calendar.yaml's ``timezone`` when read from the calendar)."""

    def is_open(self, at: datetime) -> bool:
        """True when ``at`` falls inside office hours."""
        local = at.astimezone(self.zone)
        if self.closed_on(local.date()):
            return False
        return any(start <= local.time() < end for start, end in self.spans.get(local.weekday(), []))

    def open_time_between(self, since: datetime, until: datetime) -> timedelta:
        """Office time between ``since`` and ``until`` (at most the last 31 days are counted)."""
        since = max(since, until - timedelta(days=_MAX_LOOKBACK_DAYS))
        if since >= until:
            return timedelta(0)
        total = timedelta(0)
        day: date = since.astimezone(self.zone).date()
        last: date = until.astimezone(self.zone).date()
        while day <= last:
            for start, end in [] if self.closed_on(day) else self.spans.get(day.weekday(), []):
                opens = datetime.combine(day, start, self.zone)
                closes = datetime.combine(day, end, self.zone)
                overlap = min(closes, until) - max(opens, since)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total


def _clock(text: str, spec: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ConfigurationError(f"HEALTH_OFFICE_HOURS={spec!r}: {text} is not a time of day")
    return time(hours, minutes)


def parse_office_hours(spec: str) -> OfficeHours:
    """Parse ``"mon-fri 08:00-16:00"`` (groups separated by ``,`` or ``;``); raise ConfigurationError
    saying what is wrong. An empty value means no office hours (quiet channels are never reported)."""
    spans: dict[int, list[tuple[time, time]]] = {}
    for group in re.split(r"[;,]", spec.strip().lower()):
        group = " ".join(group.split())
        if not group:
            continue
        match = _GROUP.match(group)
        if match is None:
            raise ConfigurationError(f"HEALTH_OFFICE_HOURS={spec!r}: {group!r} should look like 'mon-fri 08:00-16:00'")
        first, _, final = match["days"].partition("-")
        final = final or first
        if first not in DAYS or final not in DAYS:
            raise ConfigurationError(f"HEALTH_OFFICE_HOURS={spec!r}: days are {', '.join(DAYS)}")
        start, end = _clock(match["start"], spec), _clock(match["end"], spec)
        if start >= end:
            raise ConfigurationError(f"HEALTH_OFFICE_HOURS={spec!r}: {group!r} ends before it starts")
        lo, hi = DAYS.index(first), DAYS.index(final)
        days = range(lo, hi + 1) if lo <= hi else [*range(lo, 7), *range(0, hi + 1)]
        for day in days:
            spans.setdefault(day, []).append((start, end))
    return OfficeHours(spans)


def office_hours_of(calendar: Calendar, override: str = "") -> OfficeHours:
    """The office hours of the city's ``calendar`` (calendar.yaml: weekly hours, holidays, days off).

    ``override`` (HEALTH_OFFICE_HOURS, WIB) replaces the weekly hours when set; the calendar's
    holidays and days off stay closed either way. Raises ConfigurationError for a bad override.
    """
    closed = closed_days_of(calendar)
    if override.strip():
        return replace(parse_office_hours(override), closed_on=closed)
    spans = {
        weekday: [(_minutes_time(hours[0]), _minutes_time(hours[1]))]
        for weekday, hours in enumerate(calendar.week)
        if hours is not None
    }
    return OfficeHours(spans, closed_on=closed, zone=calendar.zone)


def _minutes_time(minutes: int) -> time:
    return time.max if minutes >= 24 * 60 else time(minutes // 60, minutes % 60)


def closed_days_of(calendar: Calendar) -> Callable[[date], bool]:
    """part-escfix: the days ``calendar`` (calendar.yaml) closes the offices: public holidays, cuti
    bersama and local days off."""
    return lambda day: day in calendar.listed_days_off or day in calendar.public_holidays(day.year)
