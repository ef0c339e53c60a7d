"""A citizen writing again on a case merged into another (issue 10): no list shows a merged case, so
their message flags it for the operator, where the same message on an ordinary open case does not."""

from __future__ import annotations

from sqlalchemy import select

from complaints.models import CaseNote, Complaint
from complaints.queries import InboxFilters, Viewer, inbox
from tests.support.cases import seed_case
from tests.workers.test_answer_delivery import _incoming, runtime  # noqa: F401 - runtime is a fixture
from workers.runtime import Runtime


def test_message_on_a_merged_case_brings_it_back_to_the_operator(runtime: Runtime) -> None:  # noqa: F811
    """The follow-up is noted on the merged case and flags it, so the operator inbox lists it again."""
    with runtime.sf.begin() as session:
        main = seed_case(session, "BGR-3B3B3C2", "dianalisa", opd_code="pupr")
        merged = seed_case(session, "BGR-3B3B3C3", "disposisi", opd_code="pupr", merged_into_id=main.id)
        merged_id = merged.id
    operator = Viewer(role="operator")
    with runtime.read_sf() as session:
        assert "BGR-3B3B3C3" not in {c.ticket for c in inbox(session, operator, InboxFilters(attention=True)).cases}
    _incoming(runtime, "BGR-3B3B3C3 tambahan: lubangnya makin besar")
    with runtime.read_sf() as session:
        case = session.get(Complaint, merged_id)
        assert case is not None and case.attention == "citizen_message"
        notes = list(session.scalars(select(CaseNote.text).where(CaseNote.complaint_id == merged_id)))
        assert any("makin besar" in n for n in notes)
        assert "BGR-3B3B3C3" in {c.ticket for c in inbox(session, operator, InboxFilters(attention=True)).cases}
