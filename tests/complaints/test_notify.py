"""complaints.notify: the e-mail that tells an OPD a case was disposed to it, queued and sent for real."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from channels.base import OutboundReply
from channels.email.sender import EmailSender
from complaints.db import make_engine, session_factory, upgrade
from complaints.models import Reply
from complaints.notify import queue_opd_notice
from config.loader import load_city_config
from config.model import CityConfig
from config.settings import Settings
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case
from tests.support.city import copy_config, edit
from tests.support.smtp_sink import SmtpSink

DLH_CONTACT = "pengaduan.dlh@kotabogor.go.id"
MAIL_FROM = "pengaduan@kotabogor.go.id"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    """A migrated SQLite database and a session on it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'cases.sqlite3'}")
    upgrade(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def city(tmp_path: Path) -> CityConfig:
    """The shipped config with a contact address for DLH only."""
    directory = copy_config(tmp_path / "config")
    edit(directory / "opd.yaml", "short_name: DLH\n", f"short_name: DLH\n    contact: {DLH_CONTACT}\n")
    return load_city_config(directory)


def _settings(**values: object) -> Settings:
    values.setdefault("public_base_url", "https://pengaduan.kotabogor.go.id/")
    return Settings(_env_file=None, send_timeout_seconds=2.0, **values)  # type: ignore[arg-type, call-arg]


def _mail_settings(host: str = "127.0.0.1", port: int = 25) -> Settings:
    return _settings(smtp_host=host, smtp_port=port, smtp_starttls=False, mail_from=MAIL_FROM)


def _replies(session: Session) -> list[Reply]:
    return list(session.scalars(sa.select(Reply)))


def test_notice_is_queued_to_the_opd_contact_with_ticket_topic_and_link_but_no_personal_data(
    db: Session, city: CityConfig
) -> None:
    case = seed_case(db, "BGR-7KQ2XMP", "disposisi", opd_code="dlh", subject="Sampah menumpuk di pasar")

    reply_id = queue_opd_notice(db, case, config=city, settings=_mail_settings())

    assert reply_id is not None
    (reply,) = _replies(db)
    assert (reply.id, reply.kind, reply.channel, reply.provider) == (reply_id, "opd_notice", "email", "email")
    assert reply.address == DLH_CONTACT
    assert reply.complaint_id == case.id
    assert reply.dedupe_key == f"{case.id}:opd_notice:dlh:{case.version}"
    assert "BGR-7KQ2XMP" in reply.text
    assert "Dinas Lingkungan Hidup" in reply.text
    assert "Sampah menumpuk di pasar" in reply.text
    assert "https://pengaduan.kotabogor.go.id/ops/kasus/BGR-7KQ2XMP" in reply.text
    for personal in (NIK, NAME, PHONE, EMAIL, ADDRESS, case.text):
        assert personal not in reply.text


def test_the_reporter_named_in_the_subject_is_pelapor_in_the_notice(db: Session, city: CityConfig) -> None:
    """Issue 14: the OPD's e-mail never names the reporter, even when the subject line does."""
    subject = f"{NAME} ({PHONE}) melaporkan sampah di {ADDRESS}"
    case = seed_case(db, "BGR-7KQ2XMR", "disposisi", opd_code="dlh", subject=subject)

    queue_opd_notice(db, case, config=city, settings=_mail_settings())

    (reply,) = _replies(db)
    assert "Pelapor (Pelapor) melaporkan sampah di Pelapor" in reply.text
    for personal in (NAME, "Rahmawati", PHONE, ADDRESS, "Pajajaran"):
        assert personal not in reply.text


def test_without_a_subject_the_topic_is_the_matched_words_never_the_complaint_text(
    db: Session, city: CityConfig
) -> None:
    text = f"Sampah menumpuk, NIK saya {NIK}"
    case = seed_case(db, "BGR-7KQ2XMQ", "disposisi", opd_code="dlh", subject=None, text=text, routing_matched="sampah")

    queue_opd_notice(db, case, config=city, settings=_mail_settings())

    (reply,) = _replies(db)
    assert "sampah" in reply.text
    assert NIK not in reply.text
    assert text not in reply.text


def test_the_same_disposition_queues_one_notice_and_a_re_route_queues_another(db: Session, city: CityConfig) -> None:
    case = seed_case(db, "BGR-7KQ2XMR", "disposisi", opd_code="dlh")
    settings = _mail_settings()

    first = queue_opd_notice(db, case, config=city, settings=settings)
    again = queue_opd_notice(db, case, config=city, settings=settings)
    assert first is not None and again is None

    case.version += 1  # a later disposition to the same OPD (returned and disposed again)
    db.flush()
    assert queue_opd_notice(db, case, config=city, settings=settings) is not None
    assert len(_replies(db)) == 2


def test_nothing_is_queued_without_mail_settings_or_without_a_contact(db: Session, city: CityConfig) -> None:
    to_dlh = seed_case(db, "BGR-7KQ2XMS", "disposisi", opd_code="dlh")
    to_dishub = seed_case(db, "BGR-7KQ2XMT", "disposisi", opd_code="dishub")  # no contact in opd.yaml
    unrouted = seed_case(db, "BGR-7KQ2XMU", "triase", opd_code=None)

    assert queue_opd_notice(db, to_dlh, config=city, settings=_settings()) is None
    assert queue_opd_notice(db, to_dishub, config=city, settings=_mail_settings()) is None
    assert queue_opd_notice(db, unrouted, config=city, settings=_mail_settings()) is None
    assert _replies(db) == []


def test_the_queued_notice_goes_out_through_the_email_sender_with_its_own_subject(
    db: Session, city: CityConfig
) -> None:
    case = seed_case(db, "BGR-7KQ2XMV", "disposisi", opd_code="dlh", subject="Sampah menumpuk")
    with SmtpSink() as sink:
        settings = _mail_settings(sink.host, sink.port)
        queue_opd_notice(db, case, config=city, settings=settings)
        (row,) = _replies(db)
        outbound = OutboundReply(
            id=row.id,
            channel=row.channel,
            provider=row.provider,
            address=row.address,
            text=row.text,
            thread_ref=row.thread_ref,
            ticket=case.ticket,
            kind=row.kind,
        )
        asyncio.run(EmailSender(settings).send(outbound))
        mail = sink.wait_for(lambda m: m.message["To"] == DLH_CONTACT)

    assert mail.rcpt_tos == [DLH_CONTACT]
    assert mail.message["Subject"] == "Disposisi pengaduan [BGR-7KQ2XMV]"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    body = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "https://pengaduan.kotabogor.go.id/ops/kasus/BGR-7KQ2XMV" in body
    for personal in (NIK, NAME, PHONE, EMAIL, ADDRESS):
        assert personal not in mail.raw.decode("utf-8", "replace")
