"""The step clock in the console's words (part-clock): working hours for people's steps, wall minutes for machines'."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gateway.console.clock import step_clock_words
from gateway.console.strings import STRINGS
from tests.support.city import shipped_city

ID, EN = STRINGS["id"], STRINGS["en"]
CITY = shipped_city()
WIB = timezone(timedelta(hours=7))
FRIDAY_1500 = datetime(2026, 12, 4, 15, 0, tzinfo=WIB)


@pytest.mark.parametrize(
    ("status", "deadline", "words"),
    [
        ("triase", datetime(2026, 12, 7, 10, 0, tzinfo=WIB), ID["inbox_left_hours_working"].format(n=3)),
        ("triase", datetime(2026, 12, 4, 15, 40, tzinfo=WIB), ID["inbox_left_minutes_working"].format(n=40)),
        ("disposisi", datetime(2026, 12, 3, 13, 0, tzinfo=WIB), ID["inbox_late_working"].format(n=10)),
        ("diverifikasi", datetime(2026, 12, 4, 17, 0, tzinfo=WIB), ID["inbox_left_hours"].format(n=2)),
        ("diverifikasi", datetime(2026, 12, 4, 14, 0, tzinfo=WIB), ID["inbox_late"].format(n=1)),
        ("dikembalikan_ke_pelapor", None, ID["clock_paused"]),
        ("selesai", None, "–"),
    ],
)
def test_clock_words(status: str, deadline: datetime | None, words: str) -> None:
    """On Friday 15:00: a step due Monday 10:00 has 3 working hours; a wall-clock step counts every hour."""
    assert step_clock_words(ID, CITY, status, deadline, FRIDAY_1500) == words


def test_english_words() -> None:
    """The same clock in English."""
    due = datetime(2026, 12, 7, 10, 0, tzinfo=WIB)
    assert step_clock_words(EN, CITY, "triase", due, FRIDAY_1500) == "3 working hours left"
    assert step_clock_words(EN, CITY, "dikembalikan_ke_pelapor", None, FRIDAY_1500) == EN["clock_paused"]


def test_a_step_late_for_years_is_said_in_days_without_walking_the_calendar() -> None:
    """part-escfix: two years late is "terlambat lebih dari 30 hari" (either clock); 29 days late is counted."""
    two_years_ago = FRIDAY_1500 - timedelta(days=730)
    assert step_clock_words(ID, CITY, "disposisi", two_years_ago, FRIDAY_1500) == "terlambat lebih dari 30 hari"
    assert step_clock_words(EN, CITY, "diverifikasi", two_years_ago, FRIDAY_1500) == "more than 30 days late"
    recent = step_clock_words(ID, CITY, "disposisi", FRIDAY_1500 - timedelta(days=29), FRIDAY_1500)
    assert recent.startswith("terlambat ") and "jam kerja" in recent
