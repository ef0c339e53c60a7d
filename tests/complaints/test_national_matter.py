"""Issue 14: a case outside the city's authority tells the citizen which institution can handle it."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from complaints.actions import ActionInvalid, ActionOutcome
from complaints.models import Complaint
from config.settings import Settings
from normalizer.text import sms_segments
from tests.complaints.test_actions import DLH, act, db, replies, seed, settings  # noqa: F401 - fixtures


def return_national(db: Session, settings: Settings, case: Complaint, reason: str, **fields: str) -> ActionOutcome:  # noqa: F811
    """The operator returns ``case`` to the citizen as "bukan wewenang Pemerintah Kota Bogor"."""
    return act(
        db, settings, case, "return_to_citizen", reason_template="bukan_wewenang_pemkot", reason=reason, **fields
    )


def test_the_institution_is_found_from_the_complaint_text(db: Session, settings: Settings) -> None:  # noqa: F811
    """Returned as bukan wewenang, a complaint about BPJS names BPJS Kesehatan and its contact, by SMS."""
    case = seed(db, "diverifikasi", text="Kartu BPJS ibu saya ditolak puskesmas, katanya iuran belum masuk")
    outcome = return_national(db, settings, case, "Bukan wewenang")
    [reply] = replies(db, case)
    assert outcome.enqueue == {"send_reply": [reply.id]}
    assert case.status == "dikembalikan_ke_pelapor"
    assert reply.kind == "national_matter" and reply.channel == "sms"
    assert "BPJS Kesehatan" in reply.text and "165" in reply.text and case.ticket in reply.text
    assert sms_segments(reply.text) <= 2


def test_the_operator_picks_the_institution_in_english(db: Session, settings: Settings) -> None:  # noqa: F811
    """The operator's pick wins over the keywords; an English-speaking citizen is told in English."""
    case = seed(db, "triase", text="Ada pungli di jalan tol", language="en")
    return_national(db, settings, case, "x", institution="ombudsman")
    [reply] = replies(db, case)
    assert "Ombudsman Republik Indonesia" in reply.text and "City of Bogor" in reply.text
    assert "Kementerian Perhubungan" not in reply.text


def test_an_unknown_institution_is_refused_and_nothing_is_sent(db: Session, settings: Settings) -> None:  # noqa: F811
    """A code not in institutions.yaml is a clear field error; the case stays where it was."""
    case = seed(db, "diverifikasi")
    with pytest.raises(ActionInvalid) as exc:
        return_national(db, settings, case, "x", institution="nasa")
    assert exc.value.errors == {"institution": "institution_unknown"}
    assert case.status == "diverifikasi" and replies(db, case) == []


def test_without_a_matching_institution_the_operator_reason_is_sent(db: Session, settings: Settings) -> None:  # noqa: F811
    """No institution fits: the citizen gets the operator's edited reason, as for any other return."""
    case = seed(db, "diverifikasi", text="Lampu jalan mati di depan rumah")
    return_national(db, settings, case, "Silakan ke kantor desa")
    [reply] = replies(db, case)
    assert reply.kind == "returned_by_operator" and "Silakan ke kantor desa" in reply.text


def test_an_opd_return_confirmed_by_the_operator_names_the_institution(db: Session, settings: Settings) -> None:  # noqa: F811
    """An OPD's bukan wewenang return, confirmed as a national matter, reaches the citizen with the institution."""
    case = seed(db, "dianalisa", opd_code="dlh", text="Kereta KRL selalu terlambat di stasiun Bogor")
    act(db, settings, case, "return_to_operator", DLH, reason="Urusan KAI, bukan DLH")
    return_national(db, settings, case, "Bukan wewenang")
    assert case.status == "dikembalikan_ke_pelapor"
    rerouting, national = replies(db, case)
    assert (rerouting.kind, national.kind) == ("rerouting", "national_matter")
    assert "Kementerian Perhubungan" in national.text and "KAI" not in national.text
