"""Issue 14, close the loop: the citizen's PUAS / TIDAK PUAS reply to a delivered answer.

Each message goes in as an accepted SMS through the verify worker, as in production.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from complaints import sla
from complaints.models import CaseNote, CaseRating, Complaint, HistoryEntry, Reply
from complaints.queries import InboxFilters, Viewer, inbox
from complaints.rating import parse_rating, rating_open_until
from normalizer.envelope import utcnow
from tests.conftest import base_settings
from tests.support.cases import seed_case
from tests.support.city import shipped_city
from tests.workers.test_answer_delivery import _incoming, runtime  # noqa: F401 - runtime is a fixture
from tests.workers.test_conversation_any_channel import CHANNEL, CHAT, Chat
from workers import scheduler
from workers.runtime import Runtime
from workers.setup import build_runtime

TICKET = "BGR-4C4C4C2"


def _closed_case(rt: Runtime, *, closed_ago: timedelta = timedelta(hours=1), **fields: Any) -> str:
    """A PUPR case answered and closed ``closed_ago``, to the SMS sender of tests.support.cases (or ``fields``)."""
    fields.setdefault("channel", "sms")
    with rt.sf.begin() as session:
        case = seed_case(
            session,
            TICKET,
            "selesai",
            opd_code="pupr",
            deadline_in=None,
            answer_text="Lubang sudah ditambal.",
            closed_at=utcnow() - closed_ago,
            **fields,
        )
        return case.id


def _case(rt: Runtime, case_id: str) -> Complaint:
    with rt.read_sf() as session:
        case = session.get(Complaint, case_id)
        assert case is not None
        return case


def _ratings(rt: Runtime, case_id: str) -> list[CaseRating]:
    with rt.read_sf() as session:
        return list(session.scalars(select(CaseRating).where(CaseRating.complaint_id == case_id)))


def _reply_texts(rt: Runtime, ids: list[str]) -> list[str]:
    with rt.read_sf() as session:
        return list(session.scalars(select(Reply.text).where(Reply.id.in_(ids))))


def test_parse_rating_reads_keywords_scores_and_reasons() -> None:
    """PUAS, TIDAK PUAS with its reason, BELUM SELESAI and 1–5 are ratings; other text is not."""
    assert parse_rating("puas") is not None and parse_rating("Puas!").satisfied  # type: ignore[union-attr]
    unhappy = parse_rating("TIDAK PUAS, lubangnya masih ada")
    assert unhappy is not None and not unhappy.satisfied and unhappy.reason == "lubangnya masih ada"
    assert parse_rating("belum selesai: lampu masih mati").satisfied is False  # type: ignore[union-attr]
    two = parse_rating("2 jalannya masih rusak")
    assert two is not None and (two.score, two.satisfied, two.reason) == (2, False, "jalannya masih rusak")
    assert parse_rating("4").satisfied and parse_rating("4").score == 4  # type: ignore[union-attr]
    assert parse_rating("12 lampu mati") is None
    assert parse_rating("puasa ramadan jalan macet") is None
    assert parse_rating("Lampu PJU mati") is None


def test_rating_period_counts_working_days_past_a_holiday() -> None:
    """Ten working days after closing skip weekends and holidays (Christmas 2026 falls on a Friday)."""
    calendar = sla.calendar_of(shipped_city().calendar)
    closed = utcnow().replace(year=2026, month=12, day=17, hour=3, minute=0, second=0, microsecond=0)  # Thursday
    until = calendar.local_date(rating_open_until(closed, 10, calendar))
    # Fri 18, Mon 21 .. Thu 24, (25 Christmas, 24/26 may be cuti bersama), Mon 28 .. : at least two weeks later.
    assert (until - calendar.local_date(closed)).days >= 14
    assert calendar.is_working_day(until)


def test_puas_by_sms_records_the_rating_and_thanks_the_citizen(runtime: Runtime) -> None:  # noqa: F811
    """A plain PUAS from the case's phone is a rating of its answer: stored, case stays closed, citizen thanked."""
    case_id = _closed_case(runtime)
    sent = _incoming(runtime, "PUAS")
    (rating,) = _ratings(runtime, case_id)
    assert rating.satisfied and rating.outcome == "recorded" and rating.opd_code == "pupr"
    assert _case(runtime, case_id).status == "selesai"
    assert any("Terima kasih atas penilaian" in t and TICKET in t for t in _reply_texts(runtime, sent))
    with runtime.read_sf() as session:
        assert session.scalars(select(Complaint)).all().__len__() == 1  # no new complaint "PUAS"


def test_tidak_puas_with_a_reason_reopens_the_case_to_the_same_opd(runtime: Runtime) -> None:  # noqa: F811
    """TIDAK PUAS with a reason: back to the OPD's follow-up with a fresh clock, counted, shown to the operator."""
    case_id = _closed_case(runtime)
    sent = _incoming(runtime, "TIDAK PUAS lubangnya masih ada dan makin besar")
    case = _case(runtime, case_id)
    assert (case.status, case.opd_code, case.reopen_count) == ("ditindaklanjuti", "pupr", 1)
    assert case.step == 6 and case.step_deadline_at is not None and case.step_deadline_at > utcnow()
    assert case.closed_at is None and case.attention == "reopened"
    assert any("dibuka kembali" in t for t in _reply_texts(runtime, sent))
    with runtime.read_sf() as session:
        notes = list(session.scalars(select(CaseNote.text).where(CaseNote.complaint_id == case_id)))
        assert any("makin besar" in n for n in notes)  # the reason is in the case's conversation
        listed = inbox(session, Viewer(role="operator"), InboxFilters(attention=True)).cases
        assert TICKET in {c.ticket for c in listed}


def test_tidak_puas_without_a_reason_only_records(runtime: Runtime) -> None:  # noqa: F811
    """A bare TIDAK PUAS (or 1) is recorded but does not reopen: the OPD would not know what to fix."""
    case_id = _closed_case(runtime)
    _incoming(runtime, "1")
    assert _case(runtime, case_id).status == "selesai"
    (rating,) = _ratings(runtime, case_id)
    assert (rating.score, rating.satisfied, rating.outcome) == (1, False, "recorded")


def test_second_reopen_goes_to_the_operator(runtime: Runtime) -> None:  # noqa: F811
    """A case already reopened once stays closed on a second TIDAK PUAS and waits for the operator's decision."""
    case_id = _closed_case(runtime, reopen_count=1)
    sent = _incoming(runtime, "TIDAK PUAS masih belum diperbaiki")
    case = _case(runtime, case_id)
    assert (case.status, case.reopen_count, case.attention) == ("selesai", 1, "reopen_requested")
    (rating,) = _ratings(runtime, case_id)
    assert rating.outcome == "to_operator"
    assert any("petugas" in t for t in _reply_texts(runtime, sent))


def test_a_rating_after_the_period_is_not_taken(runtime: Runtime) -> None:  # noqa: F811
    """Past RATING_PERIOD_WORKING_DAYS a TIDAK PUAS no longer reopens the old case."""
    case_id = _closed_case(runtime, closed_ago=timedelta(days=30))
    _incoming(runtime, "TIDAK PUAS lubangnya masih ada")
    assert _case(runtime, case_id).status == "selesai"
    assert _ratings(runtime, case_id) == []


def test_a_new_complaint_starting_with_a_number_is_not_a_rating(runtime: Runtime) -> None:  # noqa: F811
    """ "2 lampu PJU mati ..." in a long message is a new complaint, not a rating of 2."""
    case_id = _closed_case(runtime)
    _incoming(
        runtime,
        "2 lampu PJU mati di depan SDN Pajajaran sejak seminggu yang lalu, jalan jadi gelap dan rawan "
        "kecelakaan bagi anak-anak yang pulang mengaji pada malam hari",
    )
    assert _ratings(runtime, case_id) == []
    with runtime.read_sf() as session:
        assert len(session.scalars(select(Complaint)).all()) == 2


def _history(rt: Runtime, case_id: str) -> list[str]:
    with rt.read_sf() as session:
        return list(session.scalars(select(HistoryEntry.action).where(HistoryEntry.complaint_id == case_id)))


def test_scheduler_finishes_a_silent_case_after_the_rating_period(runtime: Runtime) -> None:  # noqa: F811
    """Frozen clock: a minute before the tenth working day's close the case is untouched; a minute
    after, the scheduler finishes it once (history says unrated); later passes leave it alone."""
    case_id = _closed_case(runtime, closed_ago=timedelta(0))
    closed = datetime(2026, 12, 17, 3, 0, tzinfo=UTC)  # Thursday before Christmas, 10:00 WIB
    with runtime.sf.begin() as session:
        case = session.get(Complaint, case_id)
        assert case is not None
        case.closed_at = closed
    end = rating_open_until(closed, 10, sla.calendar_of(runtime.config.calendar))
    assert scheduler.rating_period_job(runtime, end - timedelta(minutes=1)) == ([], [])
    assert _case(runtime, case_id).rating_ended_at is None
    assert scheduler.rating_period_job(runtime, end + timedelta(minutes=1)) == ([TICKET], [])
    assert _case(runtime, case_id).rating_ended_at is not None
    assert _history(runtime, case_id).count("finished_unrated") == 1
    assert scheduler.rating_period_job(runtime, end + timedelta(days=3)) == ([], [])
    assert _history(runtime, case_id).count("finished_unrated") == 1


def test_a_finished_case_takes_no_rating(runtime: Runtime) -> None:  # noqa: F811
    """After the scheduler finished a rated case, a late TIDAK PUAS neither rates nor reopens it."""
    case_id = _closed_case(runtime)
    _incoming(runtime, "PUAS")
    assert scheduler.rating_period_job(runtime, utcnow() + timedelta(days=40)) == ([], [TICKET])
    _incoming(runtime, "TIDAK PUAS ternyata rusak lagi")
    assert _case(runtime, case_id).status == "selesai"
    assert len(_ratings(runtime, case_id)) == 1
    assert "rating_period_ended" in _history(runtime, case_id)


def test_tidak_puas_in_a_chat_reopens_the_chats_case(tmp_path: Path) -> None:
    """On a chat channel, TIDAK PUAS with a reason outside a report reopens the chat's answered case."""
    rt = build_runtime(base_settings(tmp_path))
    try:
        case_id = _closed_case(rt, channel=CHANNEL, reply_channel=CHANNEL, reply_address=CHAT)
        told = Chat(rt).send("tidak puas, lubangnya masih ada")
        assert TICKET in told and "dibuka kembali" in told
        assert (_case(rt, case_id).status, _case(rt, case_id).reopen_count) == ("ditindaklanjuti", 1)
    finally:
        rt.close()
