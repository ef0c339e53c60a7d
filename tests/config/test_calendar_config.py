"""calendar.yaml and the SOP's clock settings: the shipped ones load, broken ones are named by file and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from config.loader import load_city_config
from config.problems import ConfigError
from tests.support.city import copy_config, edit, shipped_city

CITY = shipped_city()


def problems_of(directory: Path) -> list[str]:
    """Every problem load_city_config reports for ``directory``, as printed."""
    with pytest.raises(ConfigError) as caught:
        load_city_config(directory)
    return [str(problem) for problem in caught.value.problems]


def test_the_shipped_calendar_is_bogor_office_hours_with_the_2026_cuti_bersama() -> None:
    """Monday-Friday 08:00-16:00 WIB, Indonesian public holidays, eight cuti bersama days of 2026."""
    calendar = CITY.calendar
    assert calendar.timezone == "Asia/Jakarta"
    assert calendar.week == ((480, 960),) * 5 + (None, None)
    assert calendar.public_holidays == "ID"
    assert len([d for d in calendar.cuti_bersama if d.year == 2026]) == 8
    assert date(2026, 3, 23) in calendar.cuti_bersama  # Idul Fitri 1447 H


def test_step_clocks_and_the_four_by_six_reading() -> None:
    """Machine steps count wall minutes; people's steps working minutes; step 6 is 4 x 6 working hours."""
    sop = CITY.sop
    assert [sop.clock(s) for s in ("diajukan", "diterima", "diverifikasi")] == ["wall"] * 3
    assert {sop.clock(s) for s in ("triase", "disposisi", "dianalisa", "ditindaklanjuti", "dijawab")} == {"working"}
    follow_up = sop.state("ditindaklanjuti")
    assert (follow_up.periods, follow_up.period_hours, follow_up.minutes) == (4, 6.0, 1440)


def test_a_longer_friday_is_one_edit(tmp_path: Path) -> None:
    """A per-day override: Friday until 16:30."""
    edit(copy_config(tmp_path) / "calendar.yaml", 'friday: "08:00-16:00"', 'friday: "08:00-16:30"')
    assert load_city_config(tmp_path).calendar.week[4] == (480, 990)


def test_periods_give_the_minutes(tmp_path: Path) -> None:
    """Changing the reading of step 6 in sop.yaml changes its standard, with no code."""
    path = copy_config(tmp_path) / "sop.yaml"
    edit(path, "    minutes: 1440  # = periods", "    # minutes: 1440  # = periods")
    edit(path, "    period_hours: 6\n", "    period_hours: 8\n")
    assert load_city_config(tmp_path).sop.deadline_minutes("ditindaklanjuti") == 4 * 8 * 60


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("calendar.yaml", "timezone: Asia/Jakarta", "timezone: Asia/Bogor", "timezone 'Asia/Bogor' is not an IANA"),
        ("calendar.yaml", 'monday: "08:00-16:00"', 'monday: "16:00-08:00"', "monday: '16:00-08:00' must be"),
        ("calendar.yaml", 'monday: "08:00-16:00"', 'senin: "08:00-16:00"', "'senin' is not a weekday"),
        ("calendar.yaml", "public_holidays: ID", "public_holidays: XX", "public_holidays 'XX': not a country"),
        ("calendar.yaml", "  - 2026-02-16", "  - 2026-02-30", "cuti_bersama[0]: '2026-02-30' is not a date"),
        ("sop.yaml", "clock: wall  # the workers", "clock: sometimes  # the", "clock 'sometimes' is not one of"),
        (
            "sop.yaml",
            "minutes: 1440  # = periods",
            "minutes: 1400  # = periods",
            "minutes 1400 disagrees with periods x period_hours",
        ),
        ("sop.yaml", "    periods: 4\n", "    periods: four\n", "periods (a positive whole number) and period_hours"),
    ],
)
def test_bad_calendar_and_clock_settings_name_their_line(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    """`intake config check` names the file and the line of a broken calendar or clock setting."""
    path = copy_config(tmp_path) / file
    line = edit(path, old, new)
    problems = problems_of(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:{line}: ") and message in problems[0], problems


def test_a_missing_calendar_file_is_named(tmp_path: Path) -> None:
    """A config directory from before the clock must add calendar.yaml (`intake config init` ships one)."""
    (copy_config(tmp_path) / "calendar.yaml").unlink()
    assert any("calendar.yaml" in p for p in problems_of(tmp_path))
