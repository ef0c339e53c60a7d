"""complaints.reports and complaints.step_times on the hand-made November of tests/support/report_cases.py.

Every expected number below was worked out by hand from that module's table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from complaints.db import alembic_config, make_engine, session_factory, upgrade
from complaints.opd_report import LateStep, build_opd_report
from complaints.queries import Viewer
from complaints.reports import OperatorReturn, Period, Report, StepFigure, build_report
from complaints.sla import calendar_of
from complaints.step_times import percentile
from tests.support.city import shipped_city
from tests.support.report_cases import RETURN_REASON, seed_november, seeded_database, wib

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """A migrated SQLite or PostgreSQL database holding the hand-made November."""
    yield from seeded_database(request, tmp_path, seed_november)


def report(session: Session, viewer: Viewer, period: Period = NOVEMBER) -> Report:
    city = shipped_city()
    return build_report(session, viewer, period, city.sop, calendar_of(city.calendar))


def test_received_counts_follow_the_city_date(db: Session) -> None:
    """A, B, C, D and F arrived in November in Bogor; E (October) and G (1 Dec WIB, 30 Nov UTC) did not."""
    r = report(db, Viewer("operator"))
    assert r.received == 5
    assert r.by_channel == (("web", 2), ("email", 1), ("sms", 1), ("telegram", 1))
    assert r.by_opd == ((None, 2), ("dlh", 2), ("dishub", 1))
    assert r.by_status == (
        ("diterima", 1),
        ("disposisi", 1),
        ("dianalisa", 1),
        ("selesai", 1),
        ("dikembalikan_ke_pelapor", 1),
    )
    assert r.per_day == (
        (date(2026, 11, 10), "sms", 1),
        (date(2026, 11, 10), "web", 1),
        (date(2026, 11, 16), "email", 1),
        (date(2026, 11, 18), "telegram", 1),
        (date(2026, 11, 30), "web", 1),
    )


def test_step_times_median_p90_and_share_within_the_standard(db: Session) -> None:
    """Per status: the stays that ended in November, on each status's own clock."""
    steps = {s.status: s for s in report(db, Viewer("operator")).steps}
    # diterima (wall): A 5, B 2, C 10, D 1, E 3960 (Fri 15:00 to Mon 09:00, ended in November).
    assert steps["diterima"] == StepFigure("diterima", 2, "wall", 30, 5, 4, 5, 3960)
    # diverifikasi (wall): A 1, B 1, C 25 (only 20 left after the wait for the citizen: late), D 29.
    assert steps["diverifikasi"] == StepFigure("diverifikasi", 3, "wall", 60, 4, 3, 13, 29)
    # disposisi (working): A 20, B at PUPR 117 (57 on Tuesday + 60 on Wednesday: late), B at Dishub 10.
    assert steps["disposisi"] == StepFigure("disposisi", 4, "working", 30, 3, 2, 20, 117)
    assert steps["dianalisa"] == StepFigure("dianalisa", 5, "working", 240, 1, 1, 240, 240)  # equal is within
    assert steps["ditindaklanjuti"] == StepFigure("ditindaklanjuti", 6, "working", 1440, 1, 1, 754, 754)
    assert steps["dijawab"].median == 20 and steps["diterima_operator"].median == 20
    assert steps["dikembalikan_ke_operator"] == StepFigure("dikembalikan_ke_operator", 5, "working", 60, 1, 1, 60, 60)
    # No stay in a status without a clock (the wait for the citizen, the closed case), none in triage.
    assert set(steps) == {
        "diterima",
        "diverifikasi",
        "disposisi",
        "dianalisa",
        "ditindaklanjuti",
        "dijawab",
        "diterima_operator",
        "dikembalikan_ke_operator",
    }
    assert [s.status for s in report(db, Viewer("operator")).steps][:3] == ["diterima", "diverifikasi", "disposisi"]


def test_opd_steps_go_to_the_opd_that_held_the_case(db: Session) -> None:
    """B's late disposition counts against PUPR, which held it, not Dishub, which has it now."""
    compliance = {c.opd_code: (c.count, c.within) for c in report(db, Viewer("operator")).opd_compliance}
    assert compliance == {"dishub": (1, 1), "dlh": (3, 3), "pupr": (1, 0)}


def test_returns_with_their_reasons(db: Session) -> None:
    """C was returned by the identity check (two findings), D by an operator with a template; B by PUPR."""
    r = report(db, Viewer("operator"))
    assert r.returned_to_citizen == 2
    assert r.citizen_reasons == (("identitas_tidak_lengkap", 1), ("nik:missing", 1), ("phone:invalid", 1))
    assert r.returned_to_operator == 1
    assert r.operator_returns_by_opd == (("pupr", 1),)
    assert r.operator_returns == (OperatorReturn("BGR-BBBBBBB", wib("2026-11-11 09:00"), "pupr", RETURN_REASON),)


def test_answers_per_channel_and_failures(db: Session) -> None:
    """Only answers (not other replies) created in November: A's by e-mail delivered, C's by SMS failed."""
    answers = {a.channel: a for a in report(db, Viewer("operator")).answers}
    assert set(answers) == {"email", "sms"}
    assert (answers["email"].total, answers["email"].delivered, answers["email"].failed) == (1, 1, 0)
    assert (answers["sms"].total, answers["sms"].delivered, answers["sms"].failed) == (1, 0, 1)


def test_an_opd_user_counts_only_cases_of_their_opd(db: Session) -> None:
    """DLH sees A and C (with DLH, past disposition): nothing of B, D, E, F or of other OPDs."""
    r = report(db, Viewer("opd", "dlh"))
    assert r.received == 2 and r.by_channel == (("email", 1), ("web", 1))
    assert {c.opd_code for c in r.opd_compliance} == {"dlh"}
    assert r.returned_to_operator == 0 and r.operator_returns == ()
    assert {a.channel for a in r.answers} == {"email", "sms"}
    assert report(db, Viewer("opd", "pupr")).received == 0  # B is Dishub's now
    # Dishub sees B, but not how PUPR did with it before the re-route: one disposition, its own.
    dishub = report(db, Viewer("opd", "dishub"))
    assert [(c.opd_code, c.count, c.within) for c in dishub.opd_compliance] == [("dishub", 1, 1)]
    assert [(s.status, s.count, s.median) for s in dishub.steps if s.status == "disposisi"] == [("disposisi", 1, 10)]
    assert report(db, Viewer("citizen")).received == 0


def test_a_period_ends_at_the_city_midnight(db: Session) -> None:
    """1 December alone holds G (00:10 WIB) and nothing of November."""
    r = report(db, Viewer("operator"), Period(date(2026, 12, 1), date(2026, 12, 1)))
    assert r.received == 1 and r.by_channel == (("sms", 1),)
    assert r.steps == ()


def test_default_period_is_the_month_before() -> None:
    """Last month, whatever day of this month it is (January looks back to December)."""
    assert Period.month_before(date(2026, 12, 6)) == NOVEMBER
    assert Period.month_before(date(2027, 1, 1)) == Period(date(2026, 12, 1), date(2026, 12, 31))
    assert Period.month(2026, 2) == Period(date(2026, 2, 1), date(2026, 2, 28))


def test_nearest_rank_percentile() -> None:
    """The 90th percentile of ten values is the ninth smallest; of one value, that value."""
    assert percentile(list(range(10, 0, -1)), 0.9) == 9
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.9) is None


def test_migration_0018_goes_down_and_up_again(tmp_path: Path) -> None:
    """0018 adds history.opd_code and the period indexes; its downgrade removes them; up again, reports work."""
    engine = make_engine(f"sqlite:///{tmp_path / 'migrate.sqlite3'}")
    upgrade(engine, "0018")
    assert "opd_code" in {c["name"] for c in sa.inspect(engine).get_columns("history")}
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0017")
    inspector = sa.inspect(engine)
    assert "opd_code" not in {c["name"] for c in inspector.get_columns("history")}
    assert "ix_history_at" not in {i["name"] for i in inspector.get_indexes("history")}
    assert "ix_replies_created" not in {i["name"] for i in inspector.get_indexes("replies")}
    upgrade(engine)
    assert "ix_complaints_created" in {i["name"] for i in sa.inspect(engine).get_indexes("complaints")}
    with session_factory(engine)() as session:
        seed_november(session)
        session.commit()
        assert report(session, Viewer("operator")).received == 5
    engine.dispose()


def test_monthly_opd_report_gives_each_step_to_the_opd_that_held_it(db: Session) -> None:
    """PUPR had B for one late disposition (117 of 30 minutes) and returned it; DLH was on time."""
    city = shipped_city()
    calendar = calendar_of(city.calendar)
    pupr = build_opd_report(db, "pupr", NOVEMBER, city.sop, calendar)
    assert (pupr.disposed, pupr.answered, pupr.returned, pupr.open_now) == (1, 0, 1, 0)
    assert pupr.steps == (StepFigure("disposisi", 4, "working", 30, 1, 0, 117, 117),)
    assert pupr.late == (
        LateStep("BGR-BBBBBBB", "disposisi", wib("2026-11-10 15:03"), wib("2026-11-11 09:00"), 117, 30),
    )
    assert [(r.ticket, r.reason) for r in pupr.returns] == [("BGR-BBBBBBB", RETURN_REASON)]
    dlh = build_opd_report(db, "dlh", NOVEMBER, city.sop, calendar)
    assert (dlh.disposed, dlh.answered, dlh.returned, dlh.open_now) == (2, 1, 0, 1)
    assert [(s.status, s.count, s.within, s.median) for s in dlh.steps] == [
        ("disposisi", 1, 1, 20),
        ("dianalisa", 1, 1, 240),
        ("ditindaklanjuti", 1, 1, 754),
    ]
    assert dlh.late == () and dlh.returns == ()
    dishub = build_opd_report(db, "dishub", NOVEMBER, city.sop, calendar)
    assert (dishub.disposed, dishub.open_now) == (1, 1)  # the re-route counts as a disposition to Dishub
