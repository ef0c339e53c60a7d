"""Issue 14 end to end through a real Kannel: the answer invites a rating, TIDAK PUAS reopens the case.

Runs on both ways to run the system (SQLite + in-process queue, PostgreSQL + Redis).
"""

from __future__ import annotations

from sqlalchemy import select

from complaints.models import CaseRating, Complaint
from normalizer.envelope import utcnow
from tests.e2e.test_sms_kannel import PHONE, SHORT_CODE, _approve, _sms_complaint, sms_system  # noqa: F401
from tests.support.kannel import KannelHarness
from tests.support.system import SystemThread


def test_tidak_puas_by_sms_reopens_the_answered_case(sms_system: tuple[KannelHarness, SystemThread]) -> None:  # noqa: F811
    """The answer SMS says how to rate; TIDAK PUAS with a reason from the same phone reopens the case to PUPR."""
    kannel, system = sms_system
    # Given a complaint whose answer was approved (closed) and delivered by SMS
    ticket = _sms_complaint(kannel)
    assert system.system is not None
    with system.system.runtime.sf.begin() as session:
        case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        case.status, case.closed_at = "selesai", utcnow()  # as the operator's approval leaves it
    _approve(system, ticket, "Lubang di depan Kebun Raya sudah ditambal.")
    answer = kannel.wait_for_mt(PHONE, timeout=20)
    assert "PUAS/TIDAK PUAS" in answer.text, answer.text
    # When the citizen replies from the same phone, without the ticket
    kannel.inject(PHONE, SHORT_CODE, "TIDAK PUAS tambalannya sudah lepas lagi")
    # Then they are told the case is reopened, and it is back with the same OPD
    told = kannel.wait_for_mt(PHONE, timeout=20)
    assert ticket in told.text and "dibuka kembali" in told.text, told.text
    reopened = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.status == "ditindaklanjuti")))
    assert reopened.ticket == ticket and reopened.opd_code == "pupr" and reopened.reopen_count == 1
    rating = system.db(lambda s: s.scalar(select(CaseRating).where(CaseRating.complaint_id == reopened.id)))
    assert rating is not None and not rating.satisfied and rating.via == "kannel"
    assert system.db(lambda s: len(s.scalars(select(Complaint)).all())) == 1
