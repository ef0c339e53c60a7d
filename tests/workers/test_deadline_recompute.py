"""Issue 10 review: deadlines of the old wall-clock rule are recomputed before anything escalates.

Given / When / Then with a frozen clock: legacy cases (``deadline_clock`` NULL, deadline = entry +
wall minutes) are seeded with the history row of their entry; the scheduler's jobs run as a pass
would (``run_jobs(runtime, now)``), on SQLite and on real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from complaints.models import Complaint, Escalation, HistoryEntry
from config.model import CityConfig
from normalizer.tickets import new_ticket
from tests.gateway.test_cli import intake
from tests.support.cases import seed_case
from tests.workers.test_escalation import case_of, city, escalations, mails, make_runtime, seed  # noqa: F401 - fixture
from workers.runtime import Runtime
from workers.scheduler import escalation_job, run_jobs

WIB = timezone(timedelta(hours=7))
FRIDAY_1000 = datetime(2026, 12, 4, 10, 0, tzinfo=WIB)
MONDAY_1000 = datetime(2026, 12, 7, 10, 0, tzinfo=WIB)
WEDNESDAY_1000 = datetime(2026, 12, 9, 10, 0, tzinfo=WIB)  # Friday 10:00 + 24 working hours (3 days of 8)


@pytest.fixture(params=["sqlite", "postgresql"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path, city: CityConfig) -> Iterator[Runtime]:  # noqa: F811
    """A runtime with e-mail configured, on SQLite and on a fresh PostgreSQL database."""
    overrides: dict[str, object] = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    rt = make_runtime(tmp_path, city, **overrides)
    yield rt
    rt.close()


def seed_legacy(
    rt: Runtime, status: str, entered: datetime, minutes: int, *, came_from: str = "dianalisa", action: str = "x"
) -> str:
    """A DLH case that entered ``status`` at ``entered`` with the old rule's deadline (entry + wall minutes)."""
    ticket = new_ticket()
    with rt.sf.begin() as session:
        case = seed_case(
            session,
            ticket,
            status,
            opd_code="dlh",
            step=6,
            step_deadline_at=entered + timedelta(minutes=minutes),
            deadline_clock=None,
            created_at=entered - timedelta(days=1),
        )
        session.add_all(
            [
                HistoryEntry(
                    complaint_id=case.id,
                    at=entered - timedelta(hours=5),
                    actor="user:1",
                    action="accept",
                    from_status="disposisi",
                    to_status=came_from,
                ),
                HistoryEntry(
                    complaint_id=case.id,
                    at=entered,
                    actor="user:7",
                    action=action,
                    from_status=came_from,
                    to_status=status,
                ),
                # A note on the step later on (same status both sides) is not an entry into it.
                HistoryEntry(
                    complaint_id=case.id,
                    at=entered + timedelta(hours=2),
                    actor="user:7",
                    action="follow_up",
                    from_status=status,
                    to_status=status,
                ),
            ]
        )
    return ticket


def test_a_legacy_deadline_is_recomputed_on_working_hours_before_the_first_pass_escalates(runtime: Runtime) -> None:
    """Entered Friday 10:00 with 4 x 6 working hours: the old rule said Saturday; Monday's pass escalates nothing."""
    ticket = seed_legacy(runtime, "ditindaklanjuti", FRIDAY_1000, 1440)

    results = run_jobs(runtime, MONDAY_1000)

    assert escalations(runtime, ticket) == [] and mails(runtime, "escalation") == []
    case = case_of(runtime, ticket)
    assert case.step_deadline_at == WEDNESDAY_1000 and case.deadline_clock == "working"
    assert results["deadlines"].recomputed == 1  # type: ignore[attr-defined]
    with runtime.sf() as session:
        note = session.scalar(sa.select(HistoryEntry.note).where(HistoryEntry.action == "deadline_recomputed"))
    assert note is not None and "working clock" in note

    run_jobs(runtime, WEDNESDAY_1000 - timedelta(minutes=1))
    assert escalations(runtime, ticket) == []
    run_jobs(runtime, WEDNESDAY_1000 + timedelta(minutes=1))
    assert escalations(runtime, ticket) == [(1, 1)]


def test_escalation_skips_rows_not_yet_recomputed(runtime: Runtime) -> None:
    """The escalation job alone never acts on a deadline of the old rule, however late it looks."""
    legacy = seed_legacy(runtime, "ditindaklanjuti", FRIDAY_1000, 1440)
    current = seed(runtime, "disposisi", timedelta(minutes=45), MONDAY_1000)

    outcome = escalation_job(runtime, MONDAY_1000)

    assert outcome.level1 == [current]
    assert escalations(runtime, legacy) == []


def test_a_rerouted_case_counts_from_the_re_route_and_a_wall_step_keeps_its_deadline(runtime: Runtime) -> None:
    """disposisi -> disposisi (re-route) is an entry; a machine step (diterima, wall) is only marked."""
    rerouted = seed_legacy(runtime, "disposisi", FRIDAY_1000, 30, came_from="disposisi", action="reroute")
    machine = seed_legacy(runtime, "diterima", MONDAY_1000 - timedelta(hours=2), 30, came_from="diajukan")

    run_jobs(runtime, MONDAY_1000)

    assert case_of(runtime, rerouted).step_deadline_at == FRIDAY_1000 + timedelta(minutes=30)
    assert escalations(runtime, rerouted) == [(1, 1)]  # really late: Friday 10:30
    case = case_of(runtime, machine)
    assert case.deadline_clock == "wall"
    assert case.step_deadline_at == MONDAY_1000 - timedelta(hours=1, minutes=30)


def test_a_legacy_case_without_history_undoes_the_old_rule(runtime: Runtime) -> None:
    """No entry row: the entry is the old deadline less the wall minutes, then counted in working hours."""
    ticket = new_ticket()
    with runtime.sf.begin() as session:
        seed_case(
            session,
            ticket,
            "dianalisa",
            opd_code="dlh",
            step=5,
            step_deadline_at=FRIDAY_1000 + timedelta(hours=4),
            deadline_clock=None,
        )
    run_jobs(runtime, MONDAY_1000)
    # Friday 10:00 + 240 working minutes = Friday 14:00, as the wall rule happened to say.
    case = case_of(runtime, ticket)
    assert case.step_deadline_at == FRIDAY_1000 + timedelta(hours=4) and case.deadline_clock == "working"


def test_a_verified_handed_over_case_is_recomputed_on_working_hours(tmp_path: Path, city: CityConfig) -> None:  # noqa: F811
    """With AUTO_DISPOSE=false a proposed (opd set) diverifikasi waits for a person: working clock."""
    rt = make_runtime(tmp_path, city, auto_dispose=False)
    try:
        ticket = seed_legacy(rt, "diverifikasi", datetime(2026, 12, 4, 15, 30, tzinfo=WIB), 60, came_from="diterima")
        run_jobs(rt, MONDAY_1000)
        case = case_of(rt, ticket)
        assert case.deadline_clock == "working"
        assert case.step_deadline_at == datetime(2026, 12, 7, 8, 30, tzinfo=WIB)
    finally:
        rt.close()


def test_escalations_per_pass_are_capped(tmp_path: Path, city: CityConfig) -> None:  # noqa: F811
    """ESCALATION_MAX_PER_PASS=2 and five overdue steps: 2, then 2, then the last one; each once."""
    rt = make_runtime(tmp_path, city, escalation_max_per_pass=2)
    try:
        tickets = [seed(rt, "disposisi", timedelta(minutes=m), MONDAY_1000) for m in (50, 40, 30, 20, 10)]
        counts = [len(escalation_job(rt, MONDAY_1000 + timedelta(seconds=s)).level1) for s in range(4)]
        assert counts == [2, 2, 1, 0]
        assert all(escalations(rt, t) == [(1, 1)] for t in tickets)
        assert len(mails(rt, "escalation")) == 5
        with rt.sf() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 5
    finally:
        rt.close()


def test_intake_sla_recompute_prints_its_progress(tmp_path: Path, city: CityConfig) -> None:  # noqa: F811
    """`intake sla recompute --page 2` on five legacy cases: 2/5, 4/5, 5/5, then the total."""
    rt = make_runtime(tmp_path, city)
    try:
        for _ in range(5):
            seed_legacy(rt, "ditindaklanjuti", FRIDAY_1000, 1440)
        result = intake("sla", "recompute", "--page", "2", env={"DATA_DIR": str(tmp_path / "var")})
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert "5 open case(s)" in lines[0]
        assert [line.strip() for line in lines[1:4]] == ["2/5 recomputed", "4/5 recomputed", "5/5 recomputed"]
        assert "5 recomputed, 5 deadline(s) moved" in lines[4]
        with rt.sf() as session:
            assert session.scalar(sa.select(sa.func.count()).where(Complaint.deadline_clock.is_(None))) == 0
    finally:
        rt.close()


def test_migrations_from_the_head_go_down_to_0016_and_up_again_with_cases_stored(tmp_path: Path) -> None:
    """Down to 0016 with cases and their history stored (SQLite's foreign keys on), then up again: rows kept."""
    from alembic import command

    from complaints.db import alembic_config, make_engine, session_factory, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    try:
        upgrade(engine)
        with session_factory(engine).begin() as session:
            case = seed_case(session, new_ticket(), "disposisi", opd_code="dlh", step=4)
            session.add(
                HistoryEntry(complaint_id=case.id, at=case.created_at, actor="t", action="x", to_status="disposisi")
            )
        cfg = alembic_config(engine)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0016")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("complaints")}
        assert "deadline_clock" not in columns and "identity_sources" not in columns
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM complaints WHERE deadline_clock IS NULL")) == 1
    finally:
        engine.dispose()
