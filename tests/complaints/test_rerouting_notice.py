"""Issue 14: an OPD returning a case as "bukan wewenang" never leaves the citizen at a dead end."""

from __future__ import annotations

from sqlalchemy.orm import Session

from complaints.replies import SMS_SINGLE
from config.settings import Settings
from normalizer.text import sms_segments
from tests.complaints.test_actions import DLH, act, db, replies, seed, settings  # noqa: F401 - fixtures


def test_return_to_operator_tells_the_citizen_the_case_is_being_rerouted(db: Session, settings: Settings) -> None:  # noqa: F811
    """The citizen gets one SMS in plain words naming the OPD and the way to check; the OPD's reason stays internal."""
    case = seed(db, "dianalisa", opd_code="dlh")
    outcome = act(db, settings, case, "return_to_operator", DLH, reason="Saluran ini milik BBWS, bukan DLH")
    [reply] = replies(db, case)
    assert outcome.enqueue == {"send_reply": [reply.id]}
    assert reply.kind == "rerouting" and reply.channel == "sms"
    assert "bukan kewenangan DLH" in reply.text and f"CEK {case.ticket}" in reply.text
    assert "BBWS" not in reply.text
    assert sms_segments(reply.text) == 1 and len(reply.text) <= SMS_SINGLE
