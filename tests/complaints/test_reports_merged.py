"""Merged duplicate cases in the reports, the monthly OPD report and the public statistics (issue 10).

The hand-made November (tests/support/report_cases.py, cases A-G) plus one street light reported
three times to DLH: K the main case (answered on time), L merged while still disposed, M merged
after DLH had answered it with a late disposition. Every expected number was worked out by hand:
a merged case counts as received and as "merged", never under the status the merge froze, and
its answer is the main case's, counted once; steps finished before the merge stay counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from complaints.opd_report import LateStep, build_opd_report
from complaints.queries import Viewer
from complaints.reports import MERGED_STATUS, Period, Report, build_report
from complaints.sla import calendar_of
from complaints.statistics import OpdFigure, PublicFigures, public_figures
from gateway.console.report_tables import build_tables
from gateway.console.strings import STRINGS
from tests.support.city import shipped_city
from tests.support.report_cases import seed_merged, seed_november, seeded_database, wib

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
TODAY = date(2026, 12, 6)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """A migrated SQLite or PostgreSQL database holding the November and the merged street light."""
    yield from seeded_database(request, tmp_path, seed_november, seed_merged)


def report(session: Session, viewer: Viewer) -> Report:
    city = shipped_city()
    return build_report(session, viewer, NOVEMBER, city.sop, calendar_of(city.calendar))


def statistics(session: Session) -> PublicFigures:
    city = shipped_city()
    return public_figures(session, city.sop, calendar_of(city.calendar), TODAY, 1)


def test_merged_cases_are_received_and_counted_as_merged_not_under_their_old_status(db: Session) -> None:
    """8 received (A-D, F, K, L, M); L and M on the merged line, not under disposisi and dijawab."""
    r = report(db, Viewer("operator"))
    assert r.received == 8
    assert r.by_channel == (("web", 3), ("sms", 2), ("telegram", 2), ("email", 1))
    assert r.by_status == (
        ("diterima", 1),
        ("disposisi", 1),  # C only
        ("dianalisa", 1),
        ("selesai", 2),  # A and K
        ("dikembalikan_ke_pelapor", 1),
        (MERGED_STATUS, 2),
    )
    assert sum(n for _, n in r.by_status) == r.received
    dlh = report(db, Viewer("opd", "dlh"))  # A, C, K, L, M
    assert dlh.received == 5
    assert dlh.by_status == (("disposisi", 1), ("selesai", 2), (MERGED_STATUS, 2))


def test_steps_done_before_the_merge_still_count(db: Session) -> None:
    """DLH: A 3 on time, K 3 on time, M 3 with one late (60 of 30 minutes); L's open disposition is not a step."""
    compliance = {c.opd_code: (c.count, c.within) for c in report(db, Viewer("operator")).opd_compliance}
    assert compliance["dlh"] == (9, 8)
    steps = {s.status: s for s in report(db, Viewer("operator")).steps}
    # disposisi: A 20, B at PUPR 117, B at Dishub 10, K 20, M 60.
    assert (steps["disposisi"].count, steps["disposisi"].within, steps["disposisi"].median) == (5, 3, 20)


def test_monthly_opd_report_shows_merged_cases_and_does_not_call_them_open(db: Session) -> None:
    """DLH: 5 dispositions (A, C, K, L, M), 3 answers sent (A, K, M), 2 merged, 1 open (C: L and M are not)."""
    city = shipped_city()
    dlh = build_opd_report(db, "dlh", NOVEMBER, city.sop, calendar_of(city.calendar))
    assert (dlh.disposed, dlh.answered, dlh.merged, dlh.open_now) == (5, 3, 2, 1)
    assert dlh.late == (LateStep("BGR-MMMMMMM", "disposisi", wib("2026-11-02 09:11"), wib("2026-11-02 10:11"), 60, 30),)
    pupr = build_opd_report(db, "pupr", NOVEMBER, city.sop, calendar_of(city.calendar))
    assert pupr.merged == 0  # a merge counts for the OPD that had the cases


def test_public_statistics_count_a_merged_case_once_with_its_main_case(db: Session) -> None:
    """DLH received 5 in the window, 2 of them merged; answered A and K (both within), not M as well."""
    f = statistics(db)
    assert dict(f.per_month)[date(2026, 11, 1)] == 8
    assert f.per_status[-1] == (MERGED_STATUS, 2)
    assert "dijawab" not in dict(f.per_status)  # M waits for nobody: it is on the merged line
    assert ("disposisi", 1) in f.per_status and sum(n for _, n in f.per_status) == 10  # E and G too
    assert {o.opd_code: o for o in f.per_opd}["dlh"] == OpdFigure("dlh", 5, 2, 2, merged=2)


def test_report_tables_name_the_merged_line_in_words(db: Session) -> None:
    """The status table (page, CSV, XLSX) says "Merged into another case", never the internal key."""
    t = STRINGS["en"]
    tables = build_tables(report(db, Viewer("operator")), shipped_city(), "en", t)
    assert (t["report_status_merged"], 2) in tables["statuses"].rows
    assert not any(MERGED_STATUS in str(row[0]) for row in tables["statuses"].rows)
