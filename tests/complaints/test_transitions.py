"""The SOP transition table: only its moves happen, for its roles, and two people never both win."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from complaints import lifecycle, transitions
from complaints.db import alembic_config, make_engine, session_factory, upgrade
from complaints.models import Complaint, HistoryEntry, InboxMessage
from complaints.sla import calendar_of
from complaints.transitions import NEW, ROLES, TABLE
from config.statuses import CODE_STATUSES
from tests.support.city import shipped_city

SOP = shipped_city().sop
CALENDAR = calendar_of(shipped_city().calendar)
FROM_STATUSES = (NEW, *CODE_STATUSES)
ALLOWED = {(t.from_status, t.to_status, role) for t in TABLE for role in t.roles}
REFUSED = [
    (src, dst, role)
    for src in FROM_STATUSES
    for dst in CODE_STATUSES
    for role in ROLES
    if (src, dst, role) not in ALLOWED
]
ROWS = [(t.from_status, t.to_status, role) for t in TABLE for role in sorted(t.roles)]
WHEN = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sqlite_sf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One migrated SQLite database for the table tests (each test rolls its case back)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('transitions') / 'cases.sqlite3'}")
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(sqlite_sf: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose writes are thrown away at the end of the test."""
    with sqlite_sf() as session:
        yield session
        session.rollback()


def make_case(session: Session, status: str, *, ticket: str = "BGR-TEST-0001") -> Complaint:
    """A case in ``status`` (version 1), written to the database."""
    case_id = ticket.replace("-", "").lower()
    session.add(
        InboxMessage(
            id=f"in{case_id}",
            channel="web",
            provider="web",
            external_id=case_id,
            kind="complaint",
            ticket=ticket,
            envelope={},
            state="done",
            created_at=WHEN,
            updated_at=WHEN,
        )
    )
    session.flush()
    complaint = Complaint(
        id=case_id,
        ticket=ticket,
        inbox_id=f"in{case_id}",
        channel="web",
        provider="web",
        reply_channel="email",
        reply_address="warga@example.org",
        status=status,
        step=SOP.step_for_status(status) if status else 1,
        text="Jalan berlubang di depan sekolah",
        created_at=WHEN,
        updated_at=WHEN,
    )
    session.add(complaint)
    session.flush()
    return complaint


def history(session: Session, complaint: Complaint) -> list[tuple[str | None, str | None, str]]:
    """The case's history as (from, to, actor), oldest first."""
    rows = session.execute(
        select(HistoryEntry.from_status, HistoryEntry.to_status, HistoryEntry.actor)
        .where(HistoryEntry.complaint_id == complaint.id)
        .order_by(HistoryEntry.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.mark.parametrize(("from_status", "to_status", "role"), REFUSED)
def test_a_move_the_table_lacks_is_refused(session: Session, from_status: str, to_status: str, role: str) -> None:
    """Every (from, to, role) not in the table raises TransitionRefused and changes nothing."""
    complaint = make_case(session, from_status)
    with pytest.raises(lifecycle.TransitionRefused) as refused:
        lifecycle.transition(
            session, complaint, to_status, sop=SOP, calendar=CALENDAR, actor="someone", role=role, action="try"
        )
    assert f"to {to_status!r}" in str(refused.value) and f"role {role!r}" in str(refused.value)
    session.flush()
    session.refresh(complaint)
    assert (complaint.status, complaint.version, history(session, complaint)) == (from_status, 1, [])


@pytest.mark.parametrize(("from_status", "to_status", "role"), ROWS)
def test_every_row_of_the_table_moves_the_case(session: Session, from_status: str, to_status: str, role: str) -> None:
    """Each row works for each of its roles: status, step, clock, version and one history entry."""
    complaint = make_case(session, from_status)
    lifecycle.transition(
        session,
        complaint,
        to_status,
        sop=SOP,
        calendar=CALENDAR,
        actor="user:1",
        role=role,
        action="did",
        expected_version=1,
    )
    session.flush()
    session.expire(complaint)
    assert (complaint.status, complaint.step) == (to_status, SOP.step_for_status(to_status))
    assert complaint.version == (1 if from_status == NEW else 2)
    assert (complaint.step_deadline_at is None) == (SOP.deadline_minutes(to_status) is None)
    assert (complaint.closed_at is not None) == SOP.state(to_status).terminal
    assert history(session, complaint) == [(from_status, to_status, "user:1")]


def test_a_stale_version_is_told_the_case_changed(session: Session) -> None:
    """A page showing version 1 cannot act on a case that has moved on to version 2."""
    complaint = make_case(session, lifecycle.VERIFIED)
    lifecycle.transition(
        session, complaint, lifecycle.TRIAGE, sop=SOP, calendar=CALENDAR, actor="w", role="system", action="to_triage"
    )
    with pytest.raises(lifecycle.CaseChanged, match="changed since it was read"):
        lifecycle.transition(
            session,
            complaint,
            lifecycle.DISPOSED,
            sop=SOP,
            calendar=CALENDAR,
            actor="user:1",
            role="operator",
            action="dispose",
            expected_version=1,
        )
    session.flush()
    session.expire(complaint)
    assert (complaint.status, complaint.version) == (lifecycle.TRIAGE, 2)
    assert history(session, complaint) == [(lifecycle.VERIFIED, lifecycle.TRIAGE, "w")]


def test_allowed_actions_list_only_the_roles_moves(session: Session) -> None:
    """The console's buttons: an operator and an admin see the same actions, an OPD its own, a closed case none."""
    verified = make_case(session, lifecycle.VERIFIED)
    assert lifecycle.allowed_actions(verified, "operator") == ("return_to_citizen", "dispose")
    assert lifecycle.allowed_actions(verified, "opd") == ()
    assert lifecycle.allowed_actions(verified, "system") == ("dispose", "to_triage")
    disposed = make_case(session, lifecycle.DISPOSED, ticket="BGR-TEST-0002")
    assert lifecycle.allowed_actions(disposed, "opd") == ("accept", "return_to_operator")
    assert lifecycle.allowed_actions(disposed, "operator") == ("reroute",)
    closed = make_case(session, lifecycle.CLOSED, ticket="BGR-TEST-0003")
    # Only a TIDAK PUAS moves a closed case back to its OPD: the citizen's (through the workers), or
    # the operator's decision on a second one (the console offers it only then: complaints/actions.py).
    assert all(lifecycle.allowed_actions(closed, role) == ("reopen",) for role in ("system", "operator", "admin"))
    assert lifecycle.allowed_actions(closed, "opd") == ()
    for status in FROM_STATUSES:
        operator_moves = transitions.moves_from(status, "operator")
        assert operator_moves == transitions.moves_from(status, "admin")


def test_the_table_matches_sop_yaml() -> None:
    """Every status the table uses is in sop.yaml with an id and en label and a step; the SOP's actor can move it."""
    assert transitions.statuses() == set(CODE_STATUSES)
    for status in CODE_STATUSES:
        state = SOP.state(status)
        assert 1 <= state.step <= 9 and dict(state.labels).keys() >= {"id", "en"}
        movers = {role for role in ROLES for _ in transitions.moves_from(status, role)}
        if state.terminal:
            # After the end only a TIDAK PUAS reopens: the citizen's or the operator's decision (issue 14).
            assert movers <= {"system", "operator", "admin"}, status
        else:
            # Who acts next in sop.yaml can make a move; a citizen acts through the workers.
            assert {"citizen": "system"}.get(state.actor or "", state.actor) in movers, status


def test_both_return_paths_and_the_whole_line_are_in_the_table() -> None:
    """A case can go from receipt to selesai, back to the citizen at step 3 and back to the operator at step 5."""
    main = [
        (NEW, "system"),
        (lifecycle.RECEIVED, "system"),
        (lifecycle.VERIFIED, "system"),
        (lifecycle.DISPOSED, "opd"),
        (lifecycle.ANALYSED, "opd"),
        (lifecycle.FOLLOWED_UP, "opd"),
        (lifecycle.ANSWERED, "operator"),
        (lifecycle.ANSWER_RECEIVED, "operator"),
    ]
    line = [NEW, *CODE_STATUSES[:2], *CODE_STATUSES[4:6], *CODE_STATUSES[7:]]
    for (src, role), dst in zip(main, line[1:], strict=True):
        assert transitions.find(src, dst, role) is not None, (src, dst)
    assert transitions.find(lifecycle.RECEIVED, lifecycle.RETURNED_TO_CITIZEN, "system") is not None
    assert transitions.find(lifecycle.RETURNED_TO_CITIZEN, lifecycle.VERIFIED, "system") is not None
    assert transitions.find(lifecycle.ANALYSED, lifecycle.RETURNED_TO_OPERATOR, "opd") is not None
    assert transitions.find(lifecycle.RETURNED_TO_OPERATOR, lifecycle.DISPOSED, "operator") is not None
    assert transitions.find(lifecycle.ANSWER_RECEIVED, lifecycle.FOLLOWED_UP, "admin") is not None


def test_two_staff_on_one_case_in_postgresql_exactly_one_wins(pg_url: str) -> None:
    """Two sessions both read version 1 and dispose at once: one succeeds, the other gets CaseChanged."""
    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        sf = session_factory(engine)
        with sf.begin() as session:
            case_id = make_case(session, lifecycle.TRIAGE).id
        both_read = threading.Barrier(2, timeout=60)
        outcomes: dict[str, str] = {}

        def act(user: str) -> None:
            with sf() as session:
                complaint = session.get(Complaint, case_id)
                assert complaint is not None
                both_read.wait()
                try:
                    lifecycle.transition(
                        session,
                        complaint,
                        lifecycle.DISPOSED,
                        sop=SOP,
                        calendar=CALENDAR,
                        actor=user,
                        role="operator",
                        action="dispose",
                        expected_version=1,
                    )
                    session.commit()
                    outcomes[user] = "won"
                except lifecycle.CaseChanged:
                    session.rollback()
                    outcomes[user] = "told the case changed"

        threads = [threading.Thread(target=act, args=(f"user:{n}",)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()) == ["told the case changed", "won"]
        [winner] = [user for user, outcome in outcomes.items() if outcome == "won"]
        with sf() as session:
            complaint = session.get(Complaint, case_id)
            assert complaint is not None and (complaint.status, complaint.version) == (lifecycle.DISPOSED, 2)
            assert history(session, complaint) == [(lifecycle.TRIAGE, lifecycle.DISPOSED, winner)]
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0008_gives_existing_cases_version_1(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """Upgrading sets version 1 on cases already stored; downgrading removes the column again."""
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    try:
        upgrade(engine, "0007")
        with Session(engine) as session, session.begin():
            session.execute(
                sa.text(
                    "INSERT INTO inbox (id, channel, provider, external_id, kind, ticket, envelope, state, attempts,"
                    " created_at, updated_at) VALUES ('i1', 'web', 'web', 'x1', 'complaint', 'BGR-1', '{}', 'done',"
                    " 0, :t, :t)"
                ),
                {"t": WHEN},
            )
            session.execute(
                sa.text(
                    "INSERT INTO complaints (id, ticket, inbox_id, channel, provider, reply_channel, reply_address,"
                    " language, status, step, text, created_at, updated_at) VALUES ('c1', 'BGR-1', 'i1', 'web',"
                    " 'web', 'email', 'a@b.c', 'id', 'disposisi', 4, 'teks', :t, :t)"
                ),
                {"t": WHEN},
            )
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version FROM complaints WHERE id = 'c1'")).scalar() == 1
        from alembic import command

        cfg = alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("complaints")}
            assert "version" not in columns and "status" in columns
            assert conn.execute(select(func.count()).select_from(sa.table("complaints"))).scalar() == 1
    finally:
        engine.dispose()
