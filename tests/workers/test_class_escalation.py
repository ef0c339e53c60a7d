"""Issue 14: a case past its class deadline is escalated once by the scheduler (frozen clock):
flagged for the operator inbox, noted in the history, its OPD e-mailed without personal data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from complaints.models import Complaint
from config.model import CityConfig
from normalizer.tickets import new_ticket
from tests.support.cases import NIK, seed_case
from tests.workers.test_escalation import DLH_ESCALATION, SUPERVISOR, city, mails, make_runtime, scheduler_history
from workers.runtime import Runtime
from workers.scheduler import run_jobs

__all__ = ["city"]  # the fixture, shared with the step escalation's tests

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # Monday 10:00 WIB


@pytest.fixture
def runtime(tmp_path: Path, city: CityConfig) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path, city)
    yield rt
    rt.close()


def seed(rt: Runtime, class_deadline: datetime, **fields: object) -> str:
    """A DLH case in follow-up (its step deadline far ahead) of class ``ringan`` due at ``class_deadline``."""
    ticket = new_ticket()
    with rt.sf.begin() as session:
        seed_case(
            session,
            ticket,
            "ditindaklanjuti",
            opd_code="dlh",
            step=6,
            step_deadline_at=NOW + timedelta(days=3),
            complaint_class="ringan",
            class_deadline_at=class_deadline,
            subject=f"Sampah menumpuk, NIK saya {NIK}",
            **fields,
        )
    return ticket


def attention_of(rt: Runtime, ticket: str) -> str | None:
    with rt.sf() as session:
        return session.scalar(sa.select(Complaint.attention).where(Complaint.ticket == ticket))


def test_a_passed_class_deadline_escalates_once_and_mails_the_opd(runtime: Runtime) -> None:
    late = seed(runtime, NOW - timedelta(hours=1))
    on_time = seed(runtime, NOW + timedelta(hours=1))
    first = run_jobs(runtime, NOW)["class_deadlines"]
    assert first.escalated == [late]  # type: ignore[attr-defined]
    assert attention_of(runtime, late) == "class_overdue" and attention_of(runtime, on_time) is None
    [mail] = mails(runtime, "escalation_class")
    assert mail.address == DLH_ESCALATION and late in mail.text and "Ringan" in mail.text
    assert "07-12-2026 09:00 WIB" in mail.text and NIK not in mail.text  # the deadline in WIB; no NIK
    assert [a for a, _ in scheduler_history(runtime, late)] == ["class_escalated"]
    # The next passes, even an hour later, escalate nothing again.
    assert run_jobs(runtime, NOW + timedelta(hours=1))["class_deadlines"].escalated == []  # type: ignore[attr-defined]
    assert len(mails(runtime, "escalation_class")) == 1


def test_a_closed_case_is_not_escalated_and_its_flag_is_cleared(runtime: Runtime) -> None:
    closed = seed(runtime, NOW - timedelta(days=2), closed_at=NOW - timedelta(days=1))
    flagged = seed(runtime, NOW - timedelta(hours=1))
    run_jobs(runtime, NOW)
    assert attention_of(runtime, closed) is None and attention_of(runtime, flagged) == "class_overdue"
    with runtime.sf.begin() as session:
        session.execute(sa.update(Complaint).where(Complaint.ticket == flagged).values(closed_at=NOW))
    outcome = run_jobs(runtime, NOW + timedelta(minutes=5))["class_deadlines"]
    assert outcome.cleared == [flagged] and attention_of(runtime, flagged) is None  # type: ignore[attr-defined]


def test_level_two_mails_the_supervisor_once_after_the_working_delay(tmp_path: Path, city: CityConfig) -> None:
    """Level 2 waits for its own pass and CLASS_ESCALATION_LEVEL2_AFTER_MINUTES of working time (a
    weekend does not count), then e-mails the supervisor once, without personal data."""
    rt = make_runtime(tmp_path, city, class_escalation_level2_after_minutes=240)
    try:
        friday_1500 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # Friday 15:00 WIB
        ticket = seed(rt, friday_1500)
        # Monday 10:00 WIB: 1 working hour on Friday + 2 on Monday = 180 working minutes late.
        first = run_jobs(rt, NOW)["class_deadlines"]
        assert first.escalated == [ticket] and first.level2 == []  # type: ignore[attr-defined]
        assert run_jobs(rt, NOW + timedelta(minutes=30))["class_deadlines"].level2 == []  # type: ignore[attr-defined]
        assert mails(rt, "escalation_class_supervisor") == []
        # Monday 11:00 WIB: 240 working minutes late, two days and 20 hours of wall time.
        second = run_jobs(rt, NOW + timedelta(hours=1))["class_deadlines"]
        assert second.level2 == [ticket]  # type: ignore[attr-defined]
        [mail] = mails(rt, "escalation_class_supervisor")
        assert mail.address == SUPERVISOR and ticket in mail.text and "Ringan" in mail.text
        assert "4 jam 0 menit kerja" in mail.text and "04-12-2026 15:00 WIB" in mail.text and NIK not in mail.text
        later = run_jobs(rt, NOW + timedelta(days=1))["class_deadlines"]
        assert later.level2 == [] and len(mails(rt, "escalation_class_supervisor")) == 1  # type: ignore[attr-defined]
        notes = [n for a, n in scheduler_history(rt, ticket) if a == "class_escalated"]
        assert len(notes) == 2 and notes[1].startswith("level 2")
    finally:
        rt.close()


def test_no_level_two_without_a_supervisor_address(tmp_path: Path, city: CityConfig) -> None:
    """ESCALATION_SUPERVISOR_EMAIL unset: a long-overdue case gets level 1 only."""
    rt = make_runtime(tmp_path, city, escalation_supervisor_email=None, class_escalation_level2_after_minutes=0)
    try:
        ticket = seed(rt, NOW - timedelta(days=5))
        run_jobs(rt, NOW)
        assert run_jobs(rt, NOW + timedelta(days=1))["class_deadlines"].level2 == []  # type: ignore[attr-defined]
        assert mails(rt, "escalation_class_supervisor") == []
        assert [a for a, _ in scheduler_history(rt, ticket)] == ["class_escalated"]
    finally:
        rt.close()
