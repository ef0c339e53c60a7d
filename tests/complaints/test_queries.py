"""complaints.queries: who sees which case, what waits for whom, filters and paging."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.db import alembic_config, make_engine, session_factory, upgrade
from complaints.queries import PAGE_SIZE, InboxFilters, Viewer, inbox, visible_cases
from normalizer.tickets import TICKET_ALPHABET
from tests.support.cases import seed_case

DLH = Viewer(role="opd", opd_code="dlh")
DISHUB = Viewer(role="opd", opd_code="dishub")
OPERATOR = Viewer(role="operator")

# Every status a case can be in, each seeded once for DLH and once for Dishub.
ALL_STATUSES = (
    "diterima",
    "diverifikasi",
    "dikembalikan_ke_pelapor",
    "triase",
    "disposisi",
    "dianalisa",
    "dikembalikan_ke_operator",
    "ditindaklanjuti",
    "dijawab",
    "diterima_operator",
    "selesai",
)


def _engine(url: str) -> Iterator[sa.Engine]:
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    """A migrated SQLite database and a session on it."""
    for engine in _engine(f"sqlite:///{tmp_path / 'cases.sqlite3'}"):
        with session_factory(engine)() as session:
            yield session


def _ticket(n: int) -> str:
    """A valid ticket number made from ``n`` (the alphabet has no 0, 1, I, L or O)."""
    digits = "".join(TICKET_ALPHABET[(n // len(TICKET_ALPHABET) ** i) % len(TICKET_ALPHABET)] for i in range(7))
    return "BGR-" + digits


def _seed_everything(session: Session) -> None:
    for n, (opd, status) in enumerate(itertools.product(("dlh", "dishub"), ALL_STATUSES)):
        late = n % 2 == 0
        seed_case(
            session,
            _ticket(n),
            status,
            opd_code=opd,
            channel="sms" if late else "email",
            deadline_in=timedelta(hours=-3 if late else 5),
        )
    session.commit()


def _every_filter(session: Session) -> Iterator[InboxFilters]:
    tickets = list(session.scalars(sa.select(sa.column("ticket")).select_from(sa.table("complaints"))))
    statuses = ("", *ALL_STATUSES)
    for status, opd, channel, overdue in itertools.product(
        statuses, ("", "dlh", "dishub"), ("", "sms", "email"), (False, True)
    ):
        yield InboxFilters(status=status, opd_code=opd, channel=channel, overdue=overdue)
    for ticket in tickets:
        yield InboxFilters(ticket=ticket)
        yield InboxFilters(ticket=ticket.lower().replace("-", " "))


def _check_opd_never_sees_another(session: Session) -> None:
    for flt in _every_filter(session):
        for auto in (True, False):
            for case in inbox(session, DLH, flt, auto_dispose=auto).cases:
                assert case.opd_code == "dlh", (flt, case.ticket)
    visible = list(session.scalars(visible_cases(DLH)))
    assert visible and all(c.opd_code == "dlh" for c in visible)
    # Cases proposed to DLH but not yet disposed, and those DLH returned, are the operator's.
    assert {c.status for c in visible} == {
        "disposisi",
        "dianalisa",
        "ditindaklanjuti",
        "dijawab",
        "diterima_operator",
        "selesai",
    }


def test_an_opd_user_never_sees_another_opds_case(db: Session) -> None:
    """With any filter combination or ticket search, the DLH inbox holds DLH cases only."""
    _seed_everything(db)
    _check_opd_never_sees_another(db)
    other = db.scalars(visible_cases(OPERATOR).where(sa.text("opd_code = 'dishub'"))).first()
    assert other is not None
    assert inbox(db, DLH, InboxFilters(ticket=other.ticket)).cases == ()
    own = db.scalars(visible_cases(DLH).where(sa.text("status = 'disposisi'"))).one()
    assert [c.ticket for c in inbox(db, DLH, InboxFilters(ticket=own.ticket)).cases] == [own.ticket]


def test_opd_scoping_on_postgresql(pg_url: str) -> None:
    """The same scoping holds on PostgreSQL."""
    for engine in _engine(pg_url):
        with session_factory(engine)() as session:
            _seed_everything(session)
            _check_opd_never_sees_another(session)


def test_users_without_an_opd_or_a_known_role_see_nothing(db: Session) -> None:
    """An OPD user with no OPD code, or an unknown role, gets an empty query, not everything."""
    _seed_everything(db)
    assert list(db.scalars(visible_cases(Viewer(role="opd")))) == []
    assert list(db.scalars(visible_cases(Viewer(role="system")))) == []
    assert len(list(db.scalars(visible_cases(Viewer(role="admin"))))) == 2 * len(ALL_STATUSES)


def test_operators_see_triage_returned_and_answered_cases(db: Session) -> None:
    """Operators get triase, returned, dijawab, diterima_operator; diverifikasi only without AUTO_DISPOSE."""
    _seed_everything(db)
    auto = {c.status for c in inbox(db, OPERATOR, InboxFilters()).cases}
    assert auto == {"triase", "dikembalikan_ke_operator", "dijawab", "diterima_operator"}
    manual = {c.status for c in inbox(db, OPERATOR, InboxFilters(), auto_dispose=False).cases}
    assert manual == auto | {"diverifikasi"}
    opd = {c.status for c in inbox(db, DLH, InboxFilters()).cases}
    assert opd == {"disposisi", "dianalisa", "ditindaklanjuti"}


def test_each_filter_narrows_the_inbox(db: Session) -> None:
    """Status, OPD, channel, overdue and ticket each keep only matching cases."""
    _seed_everything(db)
    everything = inbox(db, OPERATOR, InboxFilters()).cases
    assert len(everything) == 8
    only_triage = inbox(db, OPERATOR, InboxFilters(status="triase")).cases
    assert len(only_triage) == 2 and {c.status for c in only_triage} == {"triase"}
    dishub = inbox(db, OPERATOR, InboxFilters(opd_code="dishub")).cases
    assert len(dishub) == 4 and {c.opd_code for c in dishub} == {"dishub"}
    sms = inbox(db, OPERATOR, InboxFilters(channel="sms")).cases
    assert sms and {c.channel for c in sms} == {"sms"} and len(sms) < len(everything)
    overdue = inbox(db, OPERATOR, InboxFilters(overdue=True)).cases
    assert overdue and len(overdue) < len(everything)
    assert {c.channel for c in overdue} == {"sms"}  # the seeded late ones
    one = everything[3]
    assert [c.ticket for c in inbox(db, OPERATOR, InboxFilters(ticket=one.ticket.lower())).cases] == [one.ticket]
    assert inbox(db, OPERATOR, InboxFilters(ticket="not a ticket")).cases == ()
    # An OPD user's OPD filter is ignored: it cannot widen the scope.
    assert {c.opd_code for c in inbox(db, DLH, InboxFilters(opd_code="dishub")).cases} == {"dlh"}


def test_paging_is_stable_deadline_first_then_age(db: Session) -> None:
    """120 triage cases come 50, 50, 20 in deadline order, none repeated or skipped; no deadline comes last."""
    for n in range(119):
        seed_case(db, _ticket(1000 + n), "triase", deadline_in=timedelta(minutes=n % 7 * 10))
    seed_case(db, _ticket(5000), "triase", deadline_in=None)
    db.commit()
    pages = [inbox(db, OPERATOR, InboxFilters(), page) for page in (1, 2, 3)]
    assert [len(p.cases) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 20]
    assert [p.has_next for p in pages] == [True, True, False]
    seen = [c for p in pages for c in p.cases]
    assert len({c.ticket for c in seen}) == 120
    deadlines = [c.step_deadline_at for c in seen[:-1]]
    assert all(d is not None for d in deadlines)
    assert deadlines == sorted(deadlines)  # type: ignore[type-var]
    assert seen[-1].ticket == _ticket(5000)
    assert inbox(db, OPERATOR, InboxFilters(), 4).cases == ()


def test_inbox_indexes_are_created_and_dropped_by_the_migration(tmp_path: Path) -> None:
    """Migration 0009 adds the inbox's deadline-order indexes; downgrading to 0008 removes them."""
    from alembic import command

    inbox_indexes = {"ix_complaints_status_deadline", "ix_complaints_opd_status_deadline"}
    for engine in _engine(f"sqlite:///{tmp_path / 'idx.sqlite3'}"):
        with engine.connect() as conn:
            assert inbox_indexes <= {i["name"] for i in sa.inspect(conn).get_indexes("complaints")}
        cfg = alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
        with engine.connect() as conn:
            assert not inbox_indexes & {i["name"] for i in sa.inspect(conn).get_indexes("complaints")}
