"""complaints.casefile: the case page's read model on SQLite and PostgreSQL (scoping, masking, reveals,
conversation and history order, files of a case)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.casefile import attachments_of, case_attachment, load_case, pending_state
from complaints.db import make_engine, session_factory, upgrade
from complaints.masking import mask_digits, mask_email, mask_name
from complaints.models import CaseNote, HistoryEntry, InboxMessage, PersonalDataView, Reply
from complaints.queries import Viewer
from complaints.staff import StaffUser
from normalizer.envelope import new_id, utcnow
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case
from tests.support.city import shipped_city

CITY = shipped_city()
OPERATOR = Viewer(role="operator")
DLH = Viewer(role="opd", opd_code="dlh")
DISHUB = Viewer(role="opd", opd_code="dishub")
TICKET = "BGR-7KQ2XMP"
SHA = "ab" * 32


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    """A migrated SQLite database and a session on it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'cases.sqlite3'}")
    upgrade(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def _staff(db: Session, name: str, role: str, opd_code: str | None = None) -> int:
    user = StaffUser(email=f"{name.split()[0].lower()}@example.org", name=name, role=role, opd_code=opd_code)
    user.password_hash = "x"
    db.add(user)
    db.flush()
    return user.id


def _seed(db: Session) -> dict[str, int]:
    """A DLH case in ``dianalisa`` with a note photo, a citizen message, replies and history out of id order."""
    now = utcnow()
    dewi = _staff(db, "Dewi DLH", "opd", "dlh")
    rina = _staff(db, "Rina Operator", "operator")
    case = seed_case(db, TICKET, "dianalisa", opd_code="dlh", created_at=now - timedelta(hours=6))
    photo = {"files": [{"sha256": SHA, "size": 10, "content_type": "image/jpeg", "filename": "after.jpg"}]}
    db.add_all(
        [
            CaseNote(
                complaint_id=case.id,
                at=now - timedelta(hours=1),
                author_id=dewi,
                author_role="opd",
                kind="follow_up",
                text="Sudah ditambal",
                attachments=photo,
                internal=True,
            ),
            CaseNote(
                complaint_id=case.id,
                at=now - timedelta(hours=3),
                author_id=None,
                author_role="citizen",
                kind="citizen_message",
                text="Kapan diperbaiki?",
                internal=False,
            ),
            Reply(
                id=new_id(),
                dedupe_key="r1",
                complaint_id=case.id,
                kind="ack",
                channel="sms",
                provider="test",
                address=PHONE,
                text="Terima kasih",
                status="delivered",
                created_at=now - timedelta(hours=5),
                updated_at=now,
                sent_at=now - timedelta(hours=5),
            ),
            HistoryEntry(
                complaint_id=case.id,
                at=now - timedelta(hours=2),
                actor=f"staff:{dewi}",
                action="accept",
                from_status="disposisi",
                to_status="dianalisa",
            ),
            HistoryEntry(
                complaint_id=case.id,
                at=now - timedelta(hours=4),
                actor=f"staff:{rina}",
                action="dispose",
                from_status="triase",
                to_status="disposisi",
            ),
            HistoryEntry(
                complaint_id=case.id,
                at=now - timedelta(hours=6),
                actor="worker:verify_intake",
                action="verify",
                from_status="diterima",
                to_status="diverifikasi",
            ),
        ]
    )
    db.commit()
    return {"dewi": dewi, "rina": rina}


def test_masks_keep_only_what_identifies_nobody() -> None:
    """NIK and phone keep their last four digits, names their initials, e-mail its first letter and domain."""
    assert mask_digits(NIK) == "*" * 12 + "0001"
    assert mask_digits(PHONE) == "*" * 10 + "5432"
    assert mask_digits("123") == "***"
    assert mask_name(NAME) == "S*** R***"
    assert mask_email(EMAIL) == "s***@example.net"


def _check_case_file(db: Session) -> None:
    people = _seed(db)
    case = load_case(db, OPERATOR, TICKET, reveal=False, user_id=people["rina"], config=CITY)
    assert case is not None
    ident = case.identity
    assert not ident.revealed and ident.nik == "*" * 12 + "0001" and ident.address == "***"
    assert ident.name == "S*** R***" and ident.email == "s***@example.net"
    assert db.scalar(sa.select(sa.func.count()).select_from(PersonalDataView)) == 0
    assert case.summary.status_label == CITY.sop.label("dianalisa", "id")
    assert case.summary.opd_name == CITY.opds["dlh"].name
    assert [m.kind for m in case.conversation] == ["complaint", "reply", "citizen", "note"]
    citizen, note = case.conversation[2], case.conversation[3]
    assert not citizen.internal and citizen.text == "Kapan diperbaiki?"
    assert note.internal and note.author == "Dewi DLH" and [a.filename for a in note.attachments] == ["after.jpg"]
    assert case.conversation[1].reply_status == "delivered"
    assert [(h.actor_kind, h.actor_name, h.action) for h in case.history] == [
        ("worker", "verify_intake", "verify"),
        ("staff", "Rina Operator", "dispose"),
        ("staff", "Dewi DLH", "accept"),
    ]
    assert case.history[1].actor_role == "operator"
    # The OPD of the case may reveal; every reveal is one row naming the viewer.
    revealed = load_case(db, DLH, TICKET, reveal=True, user_id=people["dewi"], config=CITY, lang="en")
    db.commit()
    assert revealed is not None
    assert (revealed.identity.nik, revealed.identity.name, revealed.identity.address) == (NIK, NAME, ADDRESS)
    assert revealed.summary.status_label == CITY.sop.label("dianalisa", "en")
    views = list(db.scalars(sa.select(PersonalDataView)))
    assert [(v.user_id, v.complaint_id) for v in views] == [(people["dewi"], revealed_case_id(db))]
    # Another OPD learns nothing and records nothing.
    assert load_case(db, DISHUB, TICKET, reveal=True, user_id=people["dewi"], config=CITY) is None
    db.commit()
    assert db.scalar(sa.select(sa.func.count()).select_from(PersonalDataView)) == 1
    assert case_attachment(db, DLH, TICKET, SHA) is not None
    assert case_attachment(db, DISHUB, TICKET, SHA) is None
    assert case_attachment(db, OPERATOR, TICKET, "cd" * 32) is None


def revealed_case_id(db: Session) -> str:
    """The id of the seeded case."""
    return db.scalars(sa.text("SELECT id FROM complaints WHERE ticket = :t").bindparams(t=TICKET)).one()


def test_case_file_on_sqlite(db: Session) -> None:
    """Masked by default, revealed and recorded on request, conversation and history in time order, scoped."""
    _check_case_file(db)


def test_case_file_on_postgresql(pg_url: str) -> None:
    """The same on PostgreSQL."""
    engine = make_engine(pg_url)
    upgrade(engine)
    try:
        with session_factory(engine)() as session:
            _check_case_file(session)
    finally:
        engine.dispose()


def test_processing_only_for_an_accepted_ticket_without_a_case(db: Session) -> None:
    """An accepted message without a case is "processing" (or "failed" once dead) for operators, never for OPD users."""
    now = utcnow()
    db.add(
        InboxMessage(
            id=new_id(),
            channel="sms",
            provider="test",
            external_id="e1",
            kind="complaint",
            ticket=TICKET,
            envelope={},
            state="accepted",
            created_at=now,
            updated_at=now,
        )
    )
    db.commit()
    assert pending_state(db, OPERATOR, TICKET) == "processing"
    assert pending_state(db, DLH, TICKET) is None
    assert pending_state(db, OPERATOR, "BGR-2222222") is None
    seed_case(db, "BGR-3333333", "triase")
    db.commit()
    assert pending_state(db, OPERATOR, "BGR-3333333") is None
    db.execute(sa.update(InboxMessage).where(InboxMessage.ticket == TICKET).values(state="dead"))
    db.commit()
    assert pending_state(db, OPERATOR, TICKET) == "failed"


def test_malformed_attachment_entries_are_left_out() -> None:
    """An entry without a proper SHA-256 (it would name a path) is skipped; the others are listed."""
    stored = {"files": [{"sha256": "../../etc/passwd"}, "junk", {"sha256": SHA, "content_type": "image/png"}]}
    assert [a.sha256 for a in attachments_of(stored)] == [SHA]
    assert attachments_of(None) == () and attachments_of({"files": None}) == ()
