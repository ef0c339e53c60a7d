"""Completing a returned complaint by a short reply (issue 13), through the real verify and route stages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from complaints import store
from complaints.models import CaseNote, Complaint, HistoryEntry, Reply
from normalizer.envelope import Identity, Intake, ReplyRoute, new_id
from normalizer.normalize import build_envelope
from tests.conftest import base_settings
from workers.route import route_batch
from workers.runtime import Runtime
from workers.setup import build_runtime
from workers.verify import verify_batch

PHONE = "+6281234567890"
OTHER_PHONE = "+6281399998888"
NIK = "3271014505900002"
COMPLAINT = "Lampu PJU mati di Jl. Pajajaran depan sekolah sudah seminggu, gelap dan rawan kecelakaan."


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on SQLite (3-day window, as by default)."""
    rt = build_runtime(base_settings(tmp_path))
    yield rt
    rt.close()


def sms(
    runtime: Runtime, text: str, sender: str = PHONE, *, channel: str = "sms", identity: Identity | None = None
) -> None:
    """An SMS (or another channel's message) accepted and taken through the verify stage, and routing if due."""
    envelope = build_envelope(
        Intake(
            channel=channel,
            provider="test",
            external_id=new_id(),
            sender=sender,
            text=text,
            reply_route=ReplyRoute(channel=channel, address=sender, provider="test"),
            identity=identity or Identity(),
        )
    )
    (outcome,) = store.accept_batch(runtime.sf, [envelope])
    result = verify_batch(runtime, [outcome.inbox_id])
    assert not result.failed
    if result.follow_ups.get("route_to_opd"):
        assert not route_batch(runtime, result.follow_ups["route_to_opd"]).failed


def cases(runtime: Runtime) -> list[Complaint]:
    with runtime.read_sf() as session:
        return list(session.scalars(select(Complaint).order_by(Complaint.created_at)))


def replies_to(runtime: Runtime, case: Complaint) -> list[str]:
    with runtime.read_sf() as session:
        return list(session.scalars(select(Reply.text).where(Reply.complaint_id == case.id).order_by(Reply.created_at)))


def test_a_short_reply_with_the_missing_nik_completes_the_same_case(runtime: Runtime) -> None:
    """Returned for its NIK; "NIK 3271..." from the same phone verifies and routes that case, same ticket."""
    sms(runtime, f"nama Siti Aminah alamat Jl. Pajajaran 10. {COMPLAINT}")
    (case,) = cases(runtime)
    assert case.status == "dikembalikan_ke_pelapor" and case.identity_problems == "nik:missing"
    (returned,) = replies_to(runtime, case)
    assert returned.startswith(f"{case.ticket} dikembalikan.") and "Balas: NIK <16 angka>" in returned
    sms(runtime, f"NIK {NIK}")
    (after,) = cases(runtime)
    assert after.id == case.id and after.ticket == case.ticket
    assert after.status == "disposisi" and after.nik == NIK and after.name == "Siti Aminah"
    assert after.text == case.text  # the reply adds no words to the complaint
    assert after.step_deadline_at is not None  # the clock runs again
    assert case.ticket in replies_to(runtime, after)[-1]
    # The case's history and conversation say which field the reply brought, never its value
    with runtime.read_sf() as session:
        notes = session.scalars(select(HistoryEntry.note).where(HistoryEntry.action == "citizen_follow_up")).all()
        said = session.scalars(select(CaseNote.text).where(CaseNote.kind == "citizen_message")).all()
    assert notes == ["via test; identity: nik"] and said == ["(NIK)"]


def test_a_reply_that_does_not_complete_it_says_once_more_what_is_missing(runtime: Runtime) -> None:
    """Name and address missing; a reply with only the name keeps the case waiting and asks for the address."""
    sms(runtime, f"NIK {NIK}. {COMPLAINT}")
    sms(runtime, "nama Siti Aminah")
    (case,) = cases(runtime)
    assert case.status == "dikembalikan_ke_pelapor" and case.name == "Siti Aminah"
    first, second = replies_to(runtime, case)
    assert "Kurang: Nama, Alamat." in first
    assert "Kurang: Alamat." in second and "Nama S.A." in second and "Siti" not in second
    sms(runtime, "alamat Jl. Pajajaran 10 Bogor Tengah")
    (case,) = cases(runtime)
    assert case.status == "disposisi" and case.address == "Jl. Pajajaran 10 Bogor Tengah"


def test_after_the_window_a_message_is_a_new_complaint(runtime: Runtime) -> None:
    """Four days after the return (window 3), the same reply opens a new case; the old one stays returned."""
    sms(runtime, f"nama Siti Aminah alamat Jl. Pajajaran 10. {COMPLAINT}")
    (old,) = cases(runtime)
    with runtime.sf.begin() as session:  # as if it had been returned four days ago
        for entry in session.scalars(select(HistoryEntry).where(HistoryEntry.complaint_id == old.id)):
            entry.at = entry.at - timedelta(days=4)
    sms(runtime, f"NIK {NIK}")
    old_after, new = cases(runtime)
    assert old_after.id == old.id and old_after.status == "dikembalikan_ke_pelapor" and old_after.nik is None
    assert new.ticket != old.ticket and new.nik == NIK


def test_a_long_message_within_the_window_is_a_new_complaint(runtime: Runtime) -> None:
    """A whole new complaint from the same phone is not merged into the returned one."""
    sms(runtime, f"nama Siti Aminah alamat Jl. Pajajaran 10. {COMPLAINT}")
    sms(
        runtime,
        f"NIK {NIK} nama Siti Aminah alamat Jl. Pajajaran 10. Sampah menumpuk di TPS dekat pasar Bogor, "
        "sudah dua minggu tidak diangkut dan baunya sampai ke rumah warga sekitar.",
    )
    returned, new = cases(runtime)
    assert returned.status == "dikembalikan_ke_pelapor" and returned.nik is None
    assert new.status == "disposisi" and new.opd_code == "dlh"


def test_another_phone_does_not_complete_someone_elses_case(runtime: Runtime) -> None:
    """The same short reply from another number opens its own case."""
    sms(runtime, f"nama Siti Aminah alamat Jl. Pajajaran 10. {COMPLAINT}")
    sms(runtime, f"NIK {NIK}", sender=OTHER_PHONE)
    first, second = cases(runtime)
    assert first.status == "dikembalikan_ke_pelapor" and first.nik is None
    assert second.reply_address == OTHER_PHONE


def _returned_by_operator(runtime: Runtime) -> Complaint:
    sms(runtime, f"NIK {NIK} nama Siti alamat Jl. Pajajaran 10. {COMPLAINT}")
    (case,) = cases(runtime)
    with runtime.sf.begin() as session:
        row = session.get(Complaint, case.id)
        assert row is not None
        row.status, row.identity_problems = "dikembalikan_ke_pelapor", None
        session.add(
            HistoryEntry(
                complaint_id=row.id,
                at=row.updated_at,
                actor="staff:1",
                action="return_to_citizen",
                from_status="disposisi",
                to_status="dikembalikan_ke_pelapor",
            )
        )
    return case


def test_a_case_returned_by_an_operator_is_not_reopened_by_a_short_message(runtime: Runtime) -> None:
    """An operator's return (not the identity check's) is not completed by "terima kasih"."""
    _returned_by_operator(runtime)
    sms(runtime, "terima kasih")
    assert len(cases(runtime)) == 2


def test_a_case_returned_by_an_operator_takes_a_reply_that_names_the_field(runtime: Runtime) -> None:
    """Returned by hand for the name; "nama Siti Aminah" from the same phone corrects it and routes the case again."""
    case = _returned_by_operator(runtime)
    sms(runtime, "nama Siti Aminah")
    (after,) = cases(runtime)
    assert after.id == case.id and after.name == "Siti Aminah" and after.status == "disposisi"
    assert len(replies_to(runtime, after)) == 2  # the acknowledgement again, for the completed case


def test_an_e_mail_display_name_does_not_overwrite_the_name_the_citizen_wrote(runtime: Runtime) -> None:
    """The reply's From name ("Bu Siti") only fills gaps; the NIK it carries in its text completes the case."""
    mailer = "siti@example.org"
    sms(
        runtime,
        f"Nama: Siti Aminah\nAlamat: Jl. Pajajaran 10\nTelp: 081234567890\n\n{COMPLAINT}",
        mailer,
        channel="email",
    )
    sms(runtime, f"NIK {NIK}", mailer, channel="email", identity=Identity(name="Bu Siti", email=mailer))
    (case,) = cases(runtime)
    assert case.status == "disposisi" and case.nik == NIK and case.name == "Siti Aminah" and case.email == mailer


def test_a_labelled_complaint_within_the_window_is_a_new_complaint(runtime: Runtime) -> None:
    """ "Isi: ..." (or LAPOR#) marks a whole complaint, however short: it is not taken as the missing NIK."""
    sms(runtime, f"nama Siti Aminah alamat Jl. Pajajaran 10. {COMPLAINT}")
    sms(runtime, f"NIK {NIK} nama Siti Aminah alamat Jl. Pajajaran 10 Isi: sampah menumpuk di TPS pasar")
    returned, new = cases(runtime)
    assert returned.status == "dikembalikan_ke_pelapor" and returned.nik is None
    assert new.nik == NIK and new.text == "sampah menumpuk di TPS pasar"


def test_an_x_dm_with_the_missing_fields_completes_the_mentions_case(runtime: Runtime) -> None:
    """A mention returned for identity (asked by DM); the citizen's DM "NIK ... nama ... alamat ..." completes it."""
    user = "1900000000000000001"
    sms(runtime, "@KotaBogor jalan berlubang besar di depan Kebun Raya", user, channel="x")
    (case,) = cases(runtime)
    assert case.status == "dikembalikan_ke_pelapor"
    sms(runtime, f"NIK {NIK} nama Siti Aminah alamat Jl. Pajajaran 10 telp 081234567890", user, channel="x")
    (after,) = cases(runtime)
    assert after.id == case.id and after.status == "disposisi" and after.nik == NIK


def test_anonymous_web_form_complaints_are_never_merged(runtime: Runtime) -> None:
    """Web-form senders without e-mail or phone share one address ("-"): each submission stays its own case."""
    sms(runtime, f"Got mampet. {COMPLAINT}", "-", channel="web")
    sms(runtime, f"NIK {NIK} nama Siti Aminah", "-", channel="web")
    first, second = cases(runtime)
    assert first.status == second.status == "dikembalikan_ke_pelapor" and first.nik is None
