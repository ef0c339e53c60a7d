"""Issue 14: after a citizen's second TIDAK PUAS the operator decides; the console's ``reopen`` action."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from complaints import lifecycle
from complaints.actions import ActionInvalid, available
from complaints.rating import REOPEN_REQUESTED
from config.settings import Settings
from tests.complaints.test_actions import DLH, OPERATOR, act, db, notes, seed, settings  # noqa: F401 - fixtures


def test_the_operator_may_reopen_only_a_case_awaiting_a_decision(db: Session) -> None:  # noqa: F811
    """A plain closed case offers staff nothing; one flagged reopen_requested offers "reopen" (never to the OPD)."""
    closed = seed(db, "selesai", opd_code="dlh", deadline_in=None)
    assert "reopen" not in available(closed, OPERATOR)
    flagged = seed(db, "selesai", opd_code="dlh", deadline_in=None, attention=REOPEN_REQUESTED, reopen_count=1)
    assert "reopen" in available(flagged, OPERATOR)
    assert "reopen" not in available(flagged, DLH)


def test_reopen_sends_the_case_back_to_its_opd_with_the_operators_note(db: Session, settings: Settings) -> None:  # noqa: F811
    """The decision reopens the case to the same OPD with a fresh clock, counts it, clears the flag, notes why."""
    case = seed(db, "selesai", opd_code="dlh", deadline_in=None, attention=REOPEN_REQUESTED, reopen_count=1)
    outcome = act(db, settings, case, "reopen", note="Mohon dicek lagi di lokasi bersama pelapor.")
    assert outcome.flash == "action_done_reopen"
    assert (case.status, case.opd_code, case.reopen_count, case.attention) == ("ditindaklanjuti", "dlh", 2, None)
    assert case.step_deadline_at is not None and case.closed_at is None
    assert any("bersama pelapor" in n.text and n.internal for n in notes(db, case))


def test_reopen_needs_a_note(db: Session, settings: Settings) -> None:  # noqa: F811
    """Without a note for the OPD the decision is refused and the case stays closed."""
    case = seed(db, "selesai", opd_code="dlh", deadline_in=None, attention=REOPEN_REQUESTED, reopen_count=1)
    with pytest.raises(ActionInvalid):
        act(db, settings, case, "reopen", note=" ")
    assert case.status == lifecycle.CLOSED
