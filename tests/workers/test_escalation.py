"""part-escalation: overdue SOP steps escalated by the scheduler's job, with a frozen clock.

Given / When / Then: cases are seeded straight into a migrated database with a deadline relative
to a frozen ``now``; the job runs as the scheduler would (``escalation_job(runtime, now)``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from complaints import escalation, lifecycle
from complaints.models import Complaint, Escalation, HistoryEntry, Reply
from complaints.sla import calendar_of
from config.loader import load_city_config
from config.model import CityConfig
from normalizer.envelope import utcnow
from normalizer.tickets import new_ticket
from tests.conftest import base_settings
from tests.support.cases import seed_case
from tests.support.city import copy_config, edit
from tests.support.system import running_system
from workers.runtime import Runtime
from workers.scheduler import Scheduler, digest_job, escalation_job
from workers.setup import build_runtime

DLH_ESCALATION = "kadis.dlh@kotabogor.go.id"
SUPERVISOR = "supervisor.operator@kotabogor.go.id"
DIGEST_DUE = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 08:00 WIB
WIB = timezone(timedelta(hours=7))
MONDAY_1000 = datetime(2026, 12, 7, 10, 0, tzinfo=WIB)


@pytest.fixture
def city(tmp_path: Path) -> CityConfig:
    """The shipped config with an escalation address for DLH."""
    directory = copy_config(tmp_path / "config")
    edit(directory / "opd.yaml", "short_name: DLH\n", f"short_name: DLH\n    escalation: {DLH_ESCALATION}\n")
    return load_city_config(directory)


def make_runtime(tmp_path: Path, city: CityConfig, **overrides: object) -> Runtime:
    """A runtime with e-mail configured (nothing is sent: no worker runs) and a supervisor address."""
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": 9,
        "smtp_starttls": False,
        "mail_from": "pengaduan@kotabogor.go.id",
        "public_base_url": "https://pengaduan.kotabogor.go.id",
        "escalation_supervisor_email": SUPERVISOR,
        "escalation_level2_after_minutes": 120,
    }
    values.update(overrides)
    return build_runtime(base_settings(tmp_path, **values), config=city)


@pytest.fixture
def runtime(tmp_path: Path, city: CityConfig) -> Iterator[Runtime]:
    """A runtime on SQLite."""
    rt = make_runtime(tmp_path, city)
    yield rt
    rt.close()


def seed(rt: Runtime, status: str, late: timedelta, now_: object, **fields: object) -> str:
    """One case of DLH in ``status`` whose step deadline was ``late`` before ``now_``; returns its ticket."""
    ticket = new_ticket()
    with rt.sf.begin() as session:
        seed_case(session, ticket, status, opd_code="dlh", step=5, step_deadline_at=now_ - late, **fields)  # type: ignore[operator, arg-type]
    return ticket


def escalations(rt: Runtime, ticket: str) -> list[tuple[int, int]]:
    """(level, entry version) of every escalation row of the case."""
    with rt.sf() as session:
        return [
            (e.level, e.entry_version)
            for e in session.scalars(
                sa.select(Escalation)
                .join(Complaint, Complaint.id == Escalation.complaint_id)
                .where(Complaint.ticket == ticket)
                .order_by(Escalation.id)
            )
        ]


def scheduler_history(rt: Runtime, ticket: str) -> list[tuple[str, str]]:
    """(action, note) of the history rows the scheduler wrote for the case."""
    with rt.sf() as session:
        return [
            (h.action, h.note or "")
            for h in session.scalars(
                sa.select(HistoryEntry)
                .join(Complaint, Complaint.id == HistoryEntry.complaint_id)
                .where(Complaint.ticket == ticket, HistoryEntry.actor == "system:scheduler")
                .order_by(HistoryEntry.id)
            )
        ]


def mails(rt: Runtime, kind: str) -> list[Reply]:
    """Queued outbox rows of ``kind``."""
    with rt.sf() as session:
        return list(session.scalars(sa.select(Reply).where(Reply.kind == kind)))


def case_of(rt: Runtime, ticket: str) -> Complaint:
    """The case row as stored now."""
    with rt.sf() as session:
        case = session.scalar(sa.select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        session.expunge(case)
        return case


def test_an_overdue_step_escalates_once_to_the_inbox_the_opd_and_the_history(runtime: Runtime) -> None:
    """Level 1: the case is flagged, DLH's escalation address is mailed once, history written; reruns add nothing."""
    now = MONDAY_1000  # inside working hours: disposisi's lateness counts working minutes
    late = seed(runtime, "disposisi", timedelta(minutes=45), now)
    on_time = seed(runtime, "disposisi", timedelta(minutes=-30), now)

    escalation_job(runtime, now)
    escalation_job(runtime, now + timedelta(minutes=1))

    assert escalations(runtime, late) == [(1, 1)]
    assert escalations(runtime, on_time) == []
    assert case_of(runtime, late).attention == "escalated"
    assert case_of(runtime, on_time).attention is None
    ((action, note),) = scheduler_history(runtime, late)
    assert action == "escalated" and "level 1" in note and "0 h 45 min working time" in note
    (mail,) = mails(runtime, "escalation")
    assert mail.address == DLH_ESCALATION and late in mail.text
    assert "Terlambat: 0 jam 45 menit kerja" in mail.text


def test_level_two_goes_to_the_supervisor_after_the_second_delay_once(runtime: Runtime) -> None:
    """ESCALATION_LEVEL2_AFTER_MINUTES after the deadline the supervisor gets one e-mail, not before."""
    now = MONDAY_1000  # part-escfix: frozen inside working hours (dianalisa counts working minutes)
    ticket = seed(runtime, "dianalisa", timedelta(minutes=30), now)

    escalation_job(runtime, now)
    escalation_job(runtime, now + timedelta(minutes=89))  # 119 minutes late: not yet
    assert escalations(runtime, ticket) == [(1, 1)]
    assert mails(runtime, "escalation_supervisor") == []

    escalation_job(runtime, now + timedelta(minutes=90))
    escalation_job(runtime, now + timedelta(minutes=150))

    assert escalations(runtime, ticket) == [(1, 1), (2, 1)]
    (mail,) = mails(runtime, "escalation_supervisor")
    assert mail.address == SUPERVISOR and ticket in mail.text and "Dinas Lingkungan Hidup" in mail.text
    assert [a for a, _ in scheduler_history(runtime, ticket)] == ["escalated", "escalated"]
    assert "level 2" in scheduler_history(runtime, ticket)[1][1]


def test_a_case_that_moves_on_is_not_escalated_and_its_flag_is_cleared(runtime: Runtime, city: CityConfig) -> None:
    """A step done before the job runs is not escalated; once an escalated step is done, the flag goes."""
    now = utcnow()
    done_in_time = seed(runtime, "disposisi", timedelta(minutes=10), now)
    escalated = seed(runtime, "disposisi", timedelta(minutes=10), now)
    with runtime.sf.begin() as session:
        case = session.scalar(sa.select(Complaint).where(Complaint.ticket == done_in_time))
        assert case is not None
        lifecycle.transition(
            session,
            case,
            "dianalisa",
            sop=city.sop,
            calendar=calendar_of(city.calendar),
            actor="user:7",
            role="opd",
            action="accept",
        )

    escalation_job(runtime, now)
    assert escalations(runtime, done_in_time) == []
    assert escalations(runtime, escalated) == [(1, 1)]

    with runtime.sf.begin() as session:
        case = session.scalar(sa.select(Complaint).where(Complaint.ticket == escalated))
        assert case is not None
        lifecycle.transition(
            session,
            case,
            "dianalisa",
            sop=city.sop,
            calendar=calendar_of(city.calendar),
            actor="user:7",
            role="opd",
            action="accept",
        )
    escalation_job(runtime, now + timedelta(minutes=1))

    assert case_of(runtime, escalated).attention is None
    assert [a for a, _ in scheduler_history(runtime, escalated)] == ["escalated", "escalation_cleared"]
    assert len(mails(runtime, "escalation")) == 1


def test_a_case_that_re_enters_a_step_may_escalate_again(runtime: Runtime, city: CityConfig) -> None:
    """Re-routed (disposisi again) and late again: a new entry into the step is escalated anew."""
    now = utcnow()
    ticket = seed(runtime, "disposisi", timedelta(minutes=10), now)
    escalation_job(runtime, now)
    with runtime.sf.begin() as session:
        case = session.scalar(sa.select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        lifecycle.transition(
            session,
            case,
            "disposisi",
            sop=city.sop,
            calendar=calendar_of(city.calendar),
            actor="user:1",
            role="operator",
            action="reroute",
        )
        deadline = case.step_deadline_at
    assert deadline is not None

    escalation_job(runtime, deadline + timedelta(minutes=5))

    assert escalations(runtime, ticket) == [(1, 1), (1, 2)]
    assert len(mails(runtime, "escalation")) == 2


def test_cases_waiting_for_the_citizen_or_closed_are_never_escalated(runtime: Runtime) -> None:
    """No promise runs while the citizen holds the case, nor after it is closed."""
    now = utcnow()
    waiting = seed(runtime, "dikembalikan_ke_pelapor", timedelta(hours=3), now)
    closed = seed(runtime, "selesai", timedelta(hours=3), now, closed_at=now - timedelta(hours=1))

    escalation_job(runtime, now)

    assert escalations(runtime, waiting) == [] and escalations(runtime, closed) == []


def test_two_schedulers_on_postgresql_escalate_an_overdue_step_exactly_once(
    tmp_path: Path, city: CityConfig, pg_url: str
) -> None:
    """Two runtimes (as two processes) run the jobs at once, three times: one escalation of each level, one digest."""
    first = make_runtime(tmp_path / "a", city, database_url=pg_url)
    second = make_runtime(tmp_path / "b", city, database_url=pg_url, escalation_level2_after_minutes=0)
    try:
        now = utcnow()
        tickets = [seed(first, "disposisi", timedelta(minutes=m), now) for m in (5, 50, 500)]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(rt: Runtime) -> None:
            try:
                for _ in range(3):
                    barrier.wait(10)
                    escalation_job(rt, now)
                    digest_job(rt, DIGEST_DUE)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(rt,)) for rt in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

        assert errors == []
        for ticket in tickets:
            assert escalations(first, ticket) == [(1, 1), (2, 1)]
            assert [a for a, _ in scheduler_history(first, ticket)] == ["escalated", "escalated"]
        assert len(mails(first, "escalation")) == 3
        assert len(mails(first, "escalation_supervisor")) == 3
        (digest,) = mails(first, "opd_digest")  # one morning digest for DLH, whichever scheduler wrote it
        assert digest.address == DLH_ESCALATION and all(ticket in digest.text for ticket in tickets)
    finally:
        first.close()
        second.close()


def test_of_two_schedulers_only_the_lease_holder_runs_and_the_other_takes_over_when_it_stops(
    tmp_path: Path, city: CityConfig, pg_url: str
) -> None:
    """Passes started at once by two schedulers: exactly one holds the lease; after a clean stop the other one does."""
    first = make_runtime(tmp_path / "a", city, database_url=pg_url)
    second = make_runtime(tmp_path / "b", city, database_url=pg_url)
    a, b = Scheduler(first, holder="a"), Scheduler(second, holder="b")
    try:
        results: dict[str, bool] = {}
        barrier = threading.Barrier(2)

        def tick(name: str, scheduler: Scheduler) -> None:
            barrier.wait(10)
            results[name] = scheduler.tick()

        threads = [threading.Thread(target=tick, args=item) for item in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results.values()) == [False, True]
        holder, other = (a, b) if results["a"] else (b, a)
        assert holder.tick() and not other.tick()  # the holder renews; the other still waits

        holder.stop()  # releases the lease (the thread was never started)
        assert other.tick()
        assert not holder.tick()
    finally:
        first.close()
        second.close()


def test_serve_runs_the_scheduler_and_gateway_only_processes_do_not(tmp_path: Path) -> None:
    """`intake serve`'s system escalates an overdue case by itself; a web-only system (`intake gateway`) does not."""
    settings = base_settings(tmp_path, scheduler_interval_seconds=0.2, scheduler_lease_seconds=5.0)
    with running_system(settings) as st:
        assert st.system is not None and st.system.scheduler is not None
        ticket = new_ticket()
        with st.system.runtime.sf.begin() as session:
            seed_case(session, ticket, "disposisi", opd_code="dlh", deadline_in=timedelta(minutes=-5))
        st.wait_for(lambda s: s.scalar(sa.select(Complaint.attention).where(Complaint.ticket == ticket)) == "escalated")
    with running_system(settings, with_workers=False) as st:
        assert st.system is not None and st.system.scheduler is None


def test_cases_escalated_already_never_crowd_a_newly_overdue_one_out(tmp_path: Path, city: CityConfig) -> None:
    """With room for two cases per pass, the next pass takes the third overdue case, not the two done ones again."""
    runtime = make_runtime(tmp_path, city, escalation_max_per_pass=2)
    try:
        now = utcnow()
        tickets = [seed(runtime, "disposisi", timedelta(minutes=m), now) for m in (30, 20, 10)]

        escalation_job(runtime, now)
        assert [bool(escalations(runtime, t)) for t in tickets] == [True, True, False]
        escalation_job(runtime, now)
        assert [escalations(runtime, t) for t in tickets] == [[(1, 1)], [(1, 1)], [(1, 1)]]
    finally:
        runtime.close()


def test_one_case_that_cannot_be_escalated_does_not_hold_up_the_others(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case whose escalation fails (here: its mail cannot be written) is skipped; the others escalate."""
    now = utcnow()
    bad, good = (
        seed(runtime, "disposisi", timedelta(minutes=30), now),
        seed(runtime, "disposisi", timedelta(minutes=20), now),
    )
    real_mail = escalation._mail_opd

    def failing_mail(session, case, **kwargs):  # type: ignore[no-untyped-def]
        if case.ticket == bad:
            raise RuntimeError("broken case")
        return real_mail(session, case, **kwargs)

    monkeypatch.setattr(escalation, "_mail_opd", failing_mail)
    outcome = escalation_job(runtime, now)

    assert outcome.level1 == [good]
    assert escalations(runtime, bad) == [] and escalations(runtime, good) == [(1, 1)]
    assert case_of(runtime, bad).attention is None


# --- part-escfix: level 2 on the step's own clock, and OPD mail only for the OPD's own steps ---


def test_level_two_of_a_working_hours_step_counts_working_minutes_after_the_deadline(runtime: Runtime) -> None:
    """Due Friday 15:00 WIB: Friday 19:01 is level 1 only; level 2 (120 working minutes) comes on Monday at 09:00."""
    friday_1500 = datetime(2026, 12, 4, 15, 0, tzinfo=WIB)
    ticket = seed(runtime, "disposisi", timedelta(0), friday_1500)

    escalation_job(runtime, datetime(2026, 12, 4, 19, 1, tzinfo=WIB))  # 4 h 1 min wall, 60 working minutes
    escalation_job(runtime, datetime(2026, 12, 5, 10, 0, tzinfo=WIB))  # Saturday: still 60 working minutes
    escalation_job(runtime, datetime(2026, 12, 7, 8, 59, tzinfo=WIB))  # Monday 08:59: 119
    assert escalations(runtime, ticket) == [(1, 1)]
    assert mails(runtime, "escalation_supervisor") == []

    escalation_job(runtime, datetime(2026, 12, 7, 9, 0, tzinfo=WIB))

    assert escalations(runtime, ticket) == [(1, 1), (2, 1)]
    (mail,) = mails(runtime, "escalation_supervisor")
    assert ticket in mail.text


def test_level_one_and_level_two_are_never_written_in_the_same_pass(runtime: Runtime) -> None:
    """A wall-clock step first seen ten hours late gets level 1 in this pass and level 2 only in the next."""
    now = MONDAY_1000
    ticket = seed(runtime, "diverifikasi", timedelta(hours=10), now)

    first = escalation_job(runtime, now)
    assert first.level1 == [ticket] and first.level2 == []
    assert escalations(runtime, ticket) == [(1, 1)]

    second = escalation_job(runtime, now + timedelta(minutes=1))
    assert second.level1 == [] and second.level2 == [ticket]
    assert escalations(runtime, ticket) == [(1, 1), (2, 1)]


OPERATOR_STEPS = ["diverifikasi", "triase", "dikembalikan_ke_operator", "dijawab", "diterima_operator"]


@pytest.mark.parametrize("status", OPERATOR_STEPS)
def test_a_late_operator_step_flags_the_inbox_and_reaches_the_supervisor_but_never_mails_the_opd(
    runtime: Runtime, status: str
) -> None:
    """The operator's own late step (even of a case that names DLH) mails no OPD; inbox flag and level 2 stay."""
    now = MONDAY_1000
    ticket = seed(runtime, status, timedelta(minutes=30), now)

    escalation_job(runtime, now)
    escalation_job(runtime, now + timedelta(hours=3))

    assert escalations(runtime, ticket) == [(1, 1), (2, 1)]
    assert case_of(runtime, ticket).attention == "escalated"
    assert mails(runtime, "escalation") == []
    (supervisor,) = mails(runtime, "escalation_supervisor")
    assert ticket in supervisor.text
    ((_, note), _) = scheduler_history(runtime, ticket)
    assert "level 1" in note and "e-mail to" not in note


def test_an_opd_step_mails_that_opd_with_the_topic_masked(runtime: Runtime) -> None:
    """A late OPD step mails the OPD it is at; a NIK, phone or e-mail in the reporter's subject is masked."""
    now = MONDAY_1000
    seed(
        runtime, "ditindaklanjuti", timedelta(minutes=5), now,
        subject="Sampah menumpuk 3271010101900001 telp 081298765432 siti@example.net",
    )  # fmt: skip

    escalation_job(runtime, now)
    escalation_job(runtime, now + timedelta(hours=3))

    (mail,) = mails(runtime, "escalation")
    (supervisor,) = mails(runtime, "escalation_supervisor")
    assert mail.address == DLH_ESCALATION
    for text in (mail.text, supervisor.text):
        assert "Sampah menumpuk [NIK] telp [PHONE] [EMAIL]" in text
        assert "3271010101900001" not in text and "081298765432" not in text and "siti@example" not in text


# --- issue 10 review: how late, said on the step's own clock ---


def test_escalation_mails_say_the_lateness_of_a_working_step_in_working_time(runtime: Runtime) -> None:
    """Due Thursday 08:30 WIB, escalated Friday 08:00: 7 h 30 min of working time, not 23 h 30 min."""
    ticket = seed(runtime, "dianalisa", timedelta(0), datetime(2026, 12, 3, 8, 30, tzinfo=WIB))
    friday_0800 = datetime(2026, 12, 4, 8, 0, tzinfo=WIB)

    escalation_job(runtime, friday_0800)
    escalation_job(runtime, friday_0800 + timedelta(minutes=1))  # level 2: 120 working minutes are long past

    (opd_mail,) = mails(runtime, "escalation")
    assert ticket in opd_mail.text and "Terlambat: 7 jam 30 menit kerja" in opd_mail.text
    (supervisor,) = mails(runtime, "escalation_supervisor")
    assert "Terlambat: 7 jam 31 menit kerja" in supervisor.text
    assert "overdue by 7 h 30 min working time" in scheduler_history(runtime, ticket)[0][1]


def test_escalation_mails_say_the_lateness_of_a_machine_step_in_plain_time(runtime: Runtime) -> None:
    """A wall-clock step (diverifikasi left by the workers) stuck since Sunday night is late in every minute."""
    ticket = seed(runtime, "diverifikasi", timedelta(hours=10), MONDAY_1000)

    escalation_job(runtime, MONDAY_1000)
    escalation_job(runtime, MONDAY_1000 + timedelta(minutes=1))

    (mail,) = mails(runtime, "escalation_supervisor")
    assert ticket in mail.text and "Terlambat: 10 jam 1 menit\n" in mail.text


def test_a_city_wording_from_before_the_working_time_words_still_renders(tmp_path: Path) -> None:
    """A city's escalation text with {late_hours} / {late_minutes} passes `config check` and renders."""
    directory = copy_config(tmp_path / "config")
    edit(directory / "opd.yaml", "short_name: DLH\n", f"short_name: DLH\n    escalation: {DLH_ESCALATION}\n")
    edit(directory / "replies" / "id.yaml", "Terlambat: {late}", "Terlambat: {late_hours} jam {late_minutes} menit")
    config = load_city_config(directory)
    rt = make_runtime(tmp_path, config)
    try:
        ticket = seed(rt, "dianalisa", timedelta(0), datetime(2026, 12, 3, 8, 30, tzinfo=WIB))
        escalation_job(rt, datetime(2026, 12, 4, 8, 0, tzinfo=WIB))
        (mail,) = mails(rt, "escalation")
        assert ticket in mail.text and "Terlambat: 7 jam 30 menit\n" in mail.text
    finally:
        rt.close()
