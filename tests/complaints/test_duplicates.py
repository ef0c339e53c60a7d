"""complaints.duplicates.proposals on a real migrated SQLite database: which open cases a routed case's
page proposes as the same complaint, and which it leaves out (other OPD, too old, closed, elsewhere)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from complaints import duplicates
from complaints.db import make_engine, session_factory, upgrade
from complaints.models import Complaint
from complaints.queries import Viewer
from normalizer.envelope import utcnow
from normalizer.tickets import new_ticket
from tests.support.cases import seed_case
from tests.support.city import shipped_city

OPERATOR = Viewer(role="operator")
CONFIG = shipped_city()
LIGHT = "Lampu penerangan jalan di Jl. Pajajaran mati sudah 3 hari, gelap sekali kalau malam"
LIGHT_AGAIN = "PJU mati di jalan Pajajaran, lampunya padam dan gelap. Mohon diperbaiki pak"
RUBBISH = "Sampah menumpuk di pinggir jalan Pajajaran tidak diangkut seminggu"


def migrated_session(url: str) -> Iterator[Session]:
    """A migrated database at ``url`` and a session on it (and no fingerprints remembered from other tests)."""
    duplicates.forget_all()
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    """A migrated SQLite database and a session on it."""
    yield from migrated_session(f"sqlite:///{tmp_path / 'dups.sqlite3'}")


def case(db: Session, text: str, status: str = "disposisi", opd: str | None = "dishub", **fields: Any) -> Complaint:
    return seed_case(db, new_ticket(), status, opd_code=opd, text=text, subject=None, **fields)


def proposed(db: Session, main: Complaint, viewer: Viewer = OPERATOR, **kw: Any) -> list[str]:
    kw.setdefault("window_days", 14)
    kw.setdefault("min_similarity", 0.5)
    return [p.ticket for p in duplicates.proposals(db, main, viewer, config=CONFIG, **kw)]


def test_a_similar_open_case_of_the_same_opd_is_proposed_with_its_shared_words(db: Session) -> None:
    """The same dark street light reported twice: proposed, scored, with the stems both share; rubbish is not."""
    main = case(db, LIGHT)
    again = case(db, LIGHT_AGAIN, status="dianalisa")
    case(db, RUBBISH)
    [proposal] = duplicates.proposals(db, main, OPERATOR, config=CONFIG, window_days=14, min_similarity=0.5)
    assert proposal.ticket == again.ticket and proposal.status == "dianalisa"
    assert 0.5 <= proposal.score <= 1.0 and {"lampu", "mati", "gelap"} <= set(proposal.shared)
    assert "PJU mati" in proposal.excerpt


def test_other_opd_closed_unrouted_and_old_cases_are_not_proposed(db: Session) -> None:
    """Only open cases of the same OPD received within the window are candidates."""
    main = case(db, LIGHT)
    case(db, LIGHT_AGAIN, opd="dlh")
    case(db, LIGHT_AGAIN, status="selesai")
    case(db, LIGHT_AGAIN, status="triase", opd=None)
    case(db, LIGHT_AGAIN, created_at=utcnow() - timedelta(days=20))
    assert proposed(db, main) == []
    recent = case(db, LIGHT_AGAIN, created_at=utcnow() - timedelta(days=10))
    assert proposed(db, main) == [recent.ticket]
    assert proposed(db, main, window_days=5) == []


def test_the_threshold_is_the_setting(db: Session) -> None:
    """A case just below DUPLICATE_MIN_SIMILARITY is left out; lowering the setting brings it in."""
    main = case(db, LIGHT)
    rubbish = case(db, RUBBISH)
    assert proposed(db, main) == []
    assert proposed(db, main, min_similarity=0.3) == [rubbish.ticket]


def test_a_case_naming_another_kelurahan_is_not_proposed(db: Session) -> None:
    """Same words in two kelurahan are two lights; a case naming no place still matches."""
    main = case(db, LIGHT + " kelurahan Baranangsiang")
    case(db, LIGHT_AGAIN + " kel. Katulampa")
    same = case(db, LIGHT_AGAIN + " kel. Baranangsiang")
    unplaced = case(db, LIGHT_AGAIN)
    assert sorted(proposed(db, main)) == sorted([same.ticket, unplaced.ticket])


def test_only_operators_get_proposals_and_only_for_routed_open_cases(db: Session) -> None:
    """OPD staff cannot merge, so they get none; an unrouted or closed case proposes nothing."""
    main = case(db, LIGHT)
    again = case(db, LIGHT_AGAIN)
    assert proposed(db, main, Viewer(role="admin")) == [again.ticket]
    assert proposed(db, main, Viewer(role="opd", opd_code="dishub")) == []
    assert proposed(db, case(db, LIGHT, status="triase", opd=None)) == []
    assert proposed(db, case(db, LIGHT, status="selesai")) == []


def test_a_follow_up_that_makes_a_case_alike_is_seen_at_the_next_page_load(db: Session) -> None:
    """A case's text grows with a citizen's follow-up (and its updated_at moves): its words are read again."""
    main = case(db, LIGHT)
    other = case(db, RUBBISH)
    assert proposed(db, main) == []
    other.text = f"{other.text}\n\n[follow-up]\n{LIGHT_AGAIN}"
    other.updated_at = utcnow()
    db.flush()
    assert proposed(db, main) == [other.ticket]
