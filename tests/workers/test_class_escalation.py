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
from tests.workers.test_escalation import DLH_ESCALATION, city, mails, make_runtime, scheduler_history
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
