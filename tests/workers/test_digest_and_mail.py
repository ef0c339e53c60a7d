"""part-escalation: each OPD's morning digest (frozen clock, SQLite) and staff mail at an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from complaints.models import Reply
from config.loader import load_city_config
from config.model import CityConfig
from gateway.embedded import start_workers
from normalizer.tickets import new_ticket
from tests.conftest import base_settings
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case
from tests.support.city import copy_config, edit
from tests.support.smtp_sink import SmtpSink
from workers.runtime import Runtime
from workers.scheduler import digest_job, escalation_job
from workers.setup import build_runtime

DLH_CONTACT = "pengaduan.dlh@kotabogor.go.id"
DLH_ESCALATION = "kadis.dlh@kotabogor.go.id"
SUPERVISOR = "supervisor.operator@kotabogor.go.id"
PERSONAL = (NIK, NAME, PHONE, EMAIL, ADDRESS, "Jalan berlubang di depan rumah saya")
# 07:00 WIB (UTC+7) on 7 December 2026 is 00:00 UTC.
SEVEN_WIB = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


@pytest.fixture
def city(tmp_path: Path) -> CityConfig:
    """The shipped config; DLH has a contact and an escalation address, Dishub a contact, the rest none."""
    directory = copy_config(tmp_path / "config")
    edit(
        directory / "opd.yaml",
        "short_name: DLH\n",
        f"short_name: DLH\n    contact: {DLH_CONTACT}\n    escalation: {DLH_ESCALATION}\n",
    )
    edit(directory / "opd.yaml", "short_name: Dishub\n", "short_name: Dishub\n    contact: dishub@kotabogor.go.id\n")
    return load_city_config(directory)


def make_runtime(tmp_path: Path, city: CityConfig, host: str = "127.0.0.1", port: int = 9) -> Runtime:
    """A SQLite runtime whose e-mail goes to ``host:port``."""
    settings = base_settings(
        tmp_path,
        smtp_host=host,
        smtp_port=port,
        smtp_starttls=False,
        mail_from="pengaduan@kotabogor.go.id",
        public_base_url="https://pengaduan.kotabogor.go.id",
        escalation_supervisor_email=SUPERVISOR,
        escalation_level2_after_minutes=60,
    )
    return build_runtime(settings, config=city)


@pytest.fixture
def runtime(tmp_path: Path, city: CityConfig) -> Iterator[Runtime]:
    """A SQLite runtime (nothing is sent: no worker runs)."""
    rt = make_runtime(tmp_path, city)
    yield rt
    rt.close()


def digests(rt: Runtime) -> list[Reply]:
    """Queued digest rows, oldest first."""
    with rt.sf() as session:
        return list(session.scalars(sa.select(Reply).where(Reply.kind == "opd_digest").order_by(Reply.created_at)))


def test_the_digest_lists_each_opds_open_and_overdue_cases_once_a_day(runtime: Runtime) -> None:
    """At 07:00 WIB DLH gets one digest: its open cases, the overdue ones apart; never closed, unrouted or others'."""
    now = SEVEN_WIB
    t = {name: new_ticket() for name in ("on_time", "late", "answered", "closed", "unrouted", "dishub", "pupr")}
    with runtime.sf.begin() as session:
        seed_case(session, t["on_time"], "disposisi", opd_code="dlh", step_deadline_at=now + timedelta(hours=2))
        seed_case(session, t["late"], "dianalisa", opd_code="dlh", step_deadline_at=now - timedelta(hours=3))
        seed_case(session, t["answered"], "dijawab", opd_code="dlh", step_deadline_at=now - timedelta(hours=1))
        seed_case(session, t["closed"], "selesai", opd_code="dlh", step_deadline_at=None, closed_at=now)
        seed_case(session, t["unrouted"], "triase", opd_code="dlh", step_deadline_at=now - timedelta(hours=1))
        seed_case(session, t["dishub"], "disposisi", opd_code="dishub", step_deadline_at=now - timedelta(hours=1))
        seed_case(session, t["pupr"], "disposisi", opd_code="pupr", step_deadline_at=now - timedelta(hours=1))

    assert digest_job(runtime, now - timedelta(minutes=1)) == []  # 06:59 WIB: not yet
    first = digest_job(runtime, now)
    again = digest_job(runtime, now + timedelta(hours=5))

    assert len(first) == 2 and again == []  # DLH and Dishub; PUPR has no address
    by_address = {r.address: r for r in digests(runtime)}
    assert set(by_address) == {DLH_CONTACT, "dishub@kotabogor.go.id"}
    text = by_address[DLH_CONTACT].text
    assert "07-12-2026" in text
    assert "Pengaduan terbuka: 3" in text and "Di antaranya terlambat: 1" in text
    overdue_part, open_part = text.split("Semua pengaduan terbuka:")
    assert t["late"] in overdue_part and t["on_time"] not in overdue_part and t["answered"] not in overdue_part
    for ticket in (t["on_time"], t["late"], t["answered"]):
        assert f"https://pengaduan.kotabogor.go.id/ops/kasus/{ticket}" in open_part
    for ticket in (t["closed"], t["unrouted"], t["dishub"], t["pupr"]):
        assert ticket not in text
    for personal in PERSONAL:
        assert personal not in text

    assert len(digest_job(runtime, now + timedelta(days=1))) == 2  # the next morning: the next digest


def test_staff_mail_arrives_with_ticket_and_link_but_no_personal_data(tmp_path: Path, city: CityConfig) -> None:
    """Escalations (OPD, supervisor) and the digest go out through the e-mail sender to an SMTP server."""
    with SmtpSink() as sink:
        rt = make_runtime(tmp_path, city, sink.host, sink.port)
        pool = start_workers(rt, threads=2)
        try:
            # part-escfix: frozen at Monday 7 Dec 2026 14:00 WIB, 90 working minutes after the
            # deadline; level 2 comes at the next pass. The reporter wrote their NIK, phone and
            # e-mail into the subject line: the escalation mails carry the topic masked.
            now = SEVEN_WIB + timedelta(hours=7)
            ticket = new_ticket()
            subject = f"Jalan rusak NIK {NIK} hubungi {PHONE} / {EMAIL}"
            with rt.sf.begin() as session:
                seed_case(
                    session, ticket, "disposisi", opd_code="dlh", step_deadline_at=now - timedelta(minutes=90),
                    subject=subject,
                )  # fmt: skip
            escalation_job(rt, now)
            escalation_job(rt, now + timedelta(minutes=1))
            digest_job(rt, SEVEN_WIB + timedelta(hours=1))  # 08:00 WIB, after DIGEST_TIME

            to_opd = sink.wait_for(lambda m: m.message["To"] == DLH_ESCALATION)
            to_supervisor = sink.wait_for(lambda m: m.message["To"] == SUPERVISOR)
            digest_mail = sink.wait_for(lambda m: m.message["To"] == DLH_CONTACT)
        finally:
            pool.stop()
            rt.close()

    assert to_opd.subject == f"Eskalasi: pengaduan terlambat [{ticket}]"
    assert to_supervisor.subject == f"Eskalasi tingkat 2: pengaduan terlambat [{ticket}]"
    assert digest_mail.subject == "Ringkasan harian pengaduan"
    for mail in (to_opd, to_supervisor, digest_mail):
        assert mail.message["Auto-Submitted"] == "auto-generated"
        body = mail.text()
        assert ticket in body and f"https://pengaduan.kotabogor.go.id/ops/kasus/{ticket}" in body
        raw = mail.raw.decode("utf-8", "replace")
        for personal in PERSONAL:
            assert personal not in raw
    for mail in (to_opd, to_supervisor):  # the topic: the reporter's subject line, masked
        assert "Topik: Jalan rusak NIK [NIK] hubungi [PHONE] / [EMAIL]" in mail.text()
    assert "Terlambat: 1 jam 30 menit" in to_opd.text()
