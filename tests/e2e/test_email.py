"""E-mail end to end: a real Dovecot mailbox in, our SMTP server in, replies out to a real SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import smtplib
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from channels.base import AcceptResult, PollContext
from channels.email.imap_poller import ImapPoller, ThreadContext, mailbox_key, parse_position
from channels.email.smtp_server import start_smtp_server
from complaints.models import ChannelCursor, Complaint, HistoryEntry, InboxMessage, PollerState, Reply
from gateway.accept import GroupCommitAcceptor
from gateway.pollers import poll_context
from tests.conftest import base_settings
from tests.support.dovecot import DovecotHarness
from tests.support.smtp_sink import SmtpSink
from tests.support.system import SystemThread, free_port, running_system
from workers.runtime import Runtime
from workers.setup import build_runtime

CITIZEN = "siti.aminah@example.org"
MAILBOX = "lapor@bogorkota.go.id"
NIK = "3271014505900002"
IDENTITY = f"NIK: {NIK}\nNama: Siti Aminah\nAlamat: Jl. Pajajaran No. 5, Bogor Tengah\nTelp: 0812-3456-7890\n"


def mail(subject: str, body: str, *, sender: str = CITIZEN, headers: dict[str, str] | None = None) -> EmailMessage:
    """A citizen's mail as a mail client would write it."""
    message = EmailMessage()
    message["From"] = f"Siti Aminah <{sender}>"
    message["To"] = MAILBOX
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.org")
    message["Date"] = "Sun, 29 Nov 2026 10:00:00 +0700"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message


def email_settings(tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink, **extra: Any) -> Any:
    values: dict[str, Any] = {
        **mailbox.poller_settings(),
        "smtp_host": sink.host,
        "smtp_port": sink.port,
        "smtp_starttls": False,
        "mail_from": MAILBOX,
    }
    values.update(extra)
    return base_settings(tmp_path, **values)


def count(system: SystemThread, model: Any, *where: Any) -> int:
    return int(system.db(lambda s: s.scalar(select(func.count()).select_from(model).where(*where))) or 0)


def imap_health(system: SystemThread) -> PollerState | None:
    """The IMAP poller's row in poller_state."""
    return system.db(lambda s: s.scalar(select(PollerState).where(PollerState.provider == "imap")))


def imap_position(system: SystemThread) -> tuple[int, int] | None:
    """(UIDVALIDITY, last UID) as the poller stored it in channel_cursors."""
    row = system.db(lambda s: s.get(ChannelCursor, mailbox_key(system.settings)))
    return parse_position(row.value) if row is not None else None


@contextlib.contextmanager
def gateway_context(runtime: Runtime) -> Iterator[tuple[PollContext, asyncio.AbstractEventLoop]]:
    """The gateway's real poll context (group-commit acceptor, cursors, health) on a loop in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[GroupCommitAcceptor, PollContext]:
        acceptor = GroupCommitAcceptor(runtime)
        acceptor.start()
        return acceptor, poll_context(acceptor, asyncio.Event())

    acceptor, ctx = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield ctx, loop
    finally:
        asyncio.run_coroutine_threadsafe(acceptor.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_imap_mail_gets_threaded_ack_and_is_flagged_seen(
    tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink
) -> None:
    """A mail in the city's mailbox becomes a case; the ack arrives in the citizen's thread; the mail is \\Seen."""
    with running_system(email_settings(tmp_path, mailbox, sink)) as system:
        original = mail(
            "Jalan berlubang di Jl. Pajajaran", IDENTITY + "Isi: Jalan berlubang besar, bahaya untuk motor."
        )
        started = time.monotonic()
        uid = mailbox.deliver(original.as_bytes())
        ack = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20)
        print(f"\nIMAP delivery -> ack in the citizen's mailbox: {(time.monotonic() - started) * 1000:.0f} ms")
        message = ack.message
        assert message["In-Reply-To"] == original["Message-ID"]
        assert original["Message-ID"] in message["References"]
        assert message["Subject"].startswith("Re: Jalan berlubang di Jl. Pajajaran [BGR-")
        assert message["Auto-Submitted"] == "auto-replied"
        assert "PUPR" in message.get_content()
        case = system.db(lambda s: s.scalar(select(Complaint)))
        assert case.ticket in message["Subject"] and case.email == CITIZEN and case.opd_code == "pupr"
        system.wait_for(lambda s: b"\\Seen" in mailbox.flags(uid))
        system.wait_for(lambda s: (imap_position(system) or (0, 0))[1] == uid)
        state = imap_health(system)
        assert state is not None and state.status == "connected" and state.last_poll_at


def test_reply_with_missing_nik_completes_the_same_case(
    tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink
) -> None:
    """A complaint without NIK gets asked for it; the citizen's answer in the thread completes that same case."""
    with running_system(email_settings(tmp_path, mailbox, sink)) as system:
        first = mail(
            "Sampah menumpuk",
            "Nama: Siti Aminah\nAlamat: Jl. Pajajaran 5\nTelp: 081234567890\n\nSampah menumpuk di TPS dekat pasar.",
        )
        mailbox.deliver(first.as_bytes())
        asked = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20).message
        assert "NIK" in asked.get_content()
        answer = mail(
            f"Re: {first['Subject']}",
            f"NIK: {NIK}\n\n> {asked.get_content()[:40]}",
            headers={"In-Reply-To": asked["Message-ID"], "References": f"{first['Message-ID']} {asked['Message-ID']}"},
        )
        mailbox.deliver(answer.as_bytes())
        ack = sink.wait_for(
            lambda m: (
                CITIZEN in m.rcpt_tos
                and "[BGR-" in m.message["Subject"]
                and m.message["Message-ID"] != asked["Message-ID"]
            ),
            timeout=20,
        ).message
        case = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.status == "disposisi")))
        assert case.nik == NIK and case.opd_code == "dlh"
        assert case.ticket in ack["Subject"]
        assert count(system, Complaint) == 1
        history = system.db(lambda s: list(s.scalars(select(HistoryEntry.action))))
        assert "citizen_follow_up" in history


def test_out_of_office_answer_gets_no_reply(tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink) -> None:
    """An automatic out-of-office answer to our ack opens no case and gets no reply (RFC 3834)."""
    with running_system(email_settings(tmp_path, mailbox, sink)) as system:
        original = mail("Lampu PJU mati", IDENTITY + "Isi: Lampu PJU mati sejak seminggu di depan rumah.")
        mailbox.deliver(original.as_bytes())
        ack = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20).message
        ooo = mail(
            f"Automatic reply: {ack['Subject']}",
            "Saya sedang cuti sampai 5 Desember.",
            headers={"Auto-Submitted": "auto-replied", "In-Reply-To": ack["Message-ID"]},
        )
        uid = mailbox.deliver(ooo.as_bytes())
        system.wait_for(lambda s: b"\\Seen" in mailbox.flags(uid))
        system.wait_for(lambda s: s.scalar(select(InboxMessage).where(InboxMessage.state == "ignored")))
        time.sleep(1.0)
        assert len(sink.messages) == 1
        assert count(system, Complaint) == 1


def test_unreadable_mail_is_kept_and_does_not_block_the_next(
    tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink
) -> None:
    """A mail that cannot be read is kept as unreadable and flagged; the mail behind it is processed."""
    with running_system(email_settings(tmp_path, mailbox, sink)) as system:
        bad_uid = mailbox.deliver(b"\r\n\r\n")
        # Readable, but with nobody to answer: kept as unreadable too, never blocking the folder.
        no_sender_uid = mailbox.deliver(b"Subject: jalan rusak\r\nMessage-ID: <nofrom@x>\r\n\r\nJalan rusak parah.\r\n")
        good = mail("PDAM mati", IDENTITY + "Isi: Air PDAM tidak mengalir tiga hari.")
        mailbox.deliver(good.as_bytes())
        sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20)
        system.wait_for(
            lambda s: (
                s.scalar(select(func.count()).select_from(InboxMessage).where(InboxMessage.state == "unreadable")) == 2
            )
        )
        assert b"\\Seen" in mailbox.flags(bad_uid) and b"\\Seen" in mailbox.flags(no_sender_uid)
        assert count(system, Complaint) == 1


def test_uidvalidity_change_rescans_without_doubles(tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink) -> None:
    """When the server renumbers the folder, the poller starts over and nothing is imported twice."""
    settings = email_settings(tmp_path, mailbox, sink)
    with running_system(settings) as system:
        mailbox.deliver(mail("Parkir liar", IDENTITY + "Isi: Parkir liar di trotoar depan stasiun.").as_bytes())
        sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20)
        old = imap_position(system)
        assert old is not None
    mailbox.reset_uidvalidity()
    with running_system(settings) as system:
        mailbox.deliver(mail("Angkot ngetem", IDENTITY + "Isi: Angkot ngetem sembarangan di Jl. Juanda.").as_bytes())
        system.wait_for(lambda s: s.scalar(select(func.count()).select_from(Complaint)) == 2)
        system.wait_for(lambda s: (imap_position(system) or old)[0] != old[0])
        time.sleep(1.5)
        assert count(system, Complaint) == 2


def test_poller_restart_mid_mailbox_loses_and_doubles_nothing(
    tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink
) -> None:
    """A poller that dies after storing part of a mailbox, before flagging it, resumes with nothing lost or doubled."""

    for i in range(25):
        mailbox.deliver(mail(f"Keluhan {i}", IDENTITY + f"Isi: Jalan rusak nomor {i}.").as_bytes())
    settings = email_settings(tmp_path, mailbox, sink)
    runtime = build_runtime(settings)

    with gateway_context(runtime) as (ctx, loop):
        calls = {"n": 0}

        async def crashing_accept(envelopes: Any) -> list[AcceptResult]:
            outcomes = await ctx.accept(envelopes)
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("power cut after the commit, before the flags")
            return outcomes

        poller = ImapPoller(settings, ThreadContext(dataclasses.replace(ctx, accept=crashing_accept), loop))
        client = poller._connect()
        with pytest.raises(RuntimeError):
            poller.sync(client)
        client.logout()
        stored_first = runtime.read_sf().scalar(select(func.count()).select_from(InboxMessage))
        assert 0 < stored_first < 25
        poller2 = ImapPoller(settings, ThreadContext(ctx, loop))
        client = poller2._connect()
        poller2.sync(client)
        client.logout()
    with runtime.read_sf() as session:
        assert session.scalar(select(func.count()).select_from(InboxMessage)) == 25
        assert session.scalar(select(func.count(func.distinct(InboxMessage.external_id)))) == 25
        position = session.get(ChannelCursor, mailbox_key(settings))
        assert position is not None and parse_position(position.value) == (
            mailbox.uidvalidity(),
            max(mailbox.list_uids()),
        )
    assert all(b"\\Seen" in mailbox.flags(uid) for uid in mailbox.list_uids())
    runtime.close()


def test_smtp_intake_accepts_our_domains_only_and_replies(
    tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink
) -> None:
    """Our SMTP server refuses other domains with 550, over-size mail with 552, and accepts ours with 250."""
    port = free_port()
    settings = email_settings(
        tmp_path,
        mailbox,
        sink,
        smtp_intake_port=port,
        smtp_intake_domains="bogorkota.go.id",
        smtp_intake_max_bytes=200_000,
        imap_host=None,
        imap_port=None,
        imap_user=None,
        imap_password=None,
    )
    with running_system(settings) as system, smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("mx.example.org")
        code, _ = client.docmd("MAIL FROM:<siti.aminah@example.org>")
        assert code == 250
        code, text = client.docmd("RCPT TO:<someone@elsewhere.example>")
        assert code == 550 and b"bogorkota.go.id" in text
        client.rset()
        big = mail("Besar", "x" * 300_000)
        with pytest.raises(smtplib.SMTPException) as excinfo:
            client.send_message(big, to_addrs=[MAILBOX])
        assert "552" in str(excinfo.value)
        client.rset()
        refused = client.send_message(
            mail("Pohon tumbang", IDENTITY + "Isi: Pohon tumbang menutup jalan di Tanah Sareal."), to_addrs=[MAILBOX]
        )
        assert refused == {}
        ack = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20).message
        assert "[BGR-" in ack["Subject"]
        case = system.db(lambda s: s.scalar(select(Complaint)))
        assert case.provider == "smtp" and case.opd_code == "dlh"
        # part-instrument: each outcome counted once on the e-mail channel (/metrics)
        inbound = _metric_values(system, "intake_inbound_messages_total", "outcome")
        assert inbound == {"refused": 1, "too_large": 1, "accepted": 1}


def test_bounce_of_our_reply_marks_it_failed(tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink) -> None:
    """A delivery failure report (DSN) for one of our replies marks that reply failed, and gets no answer."""
    with running_system(email_settings(tmp_path, mailbox, sink)) as system:
        mailbox.deliver(mail("Banjir", IDENTITY + "Isi: Banjir setinggi lutut di perumahan.").as_bytes())
        ack = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20).message
        ours = ack["Message-ID"]
        dsn = (
            "From: Mail Delivery System <MAILER-DAEMON@example.org>\r\n"
            f"To: {MAILBOX}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: {make_msgid(domain='example.org')}\r\nAuto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
            "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.org\r\n\r\n"
            f"Final-Recipient: rfc822; {CITIZEN}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
            "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: {MAILBOX}\r\nTo: {CITIZEN}\r\nMessage-ID: {ours}\r\nSubject: {ack['Subject']}\r\n"
            "--b1--\r\n"
        ).encode()
        mailbox.deliver(dsn)
        reply = system.wait_for(lambda s: s.scalar(select(Reply).where(Reply.status == "failed")))
        assert "5.1.1" in (reply.error or "")
        # part-instrument: one reply sent, then settled as failed by the bounce (/metrics)
        system.wait_for(lambda s: s.scalar(select(InboxMessage).where(InboxMessage.state == "ignored")))
        assert _metric_values(system, "intake_outbound_replies_total", "result") == {"sent": 1, "failed": 1}
        time.sleep(0.5)
        assert len(sink.messages) == 1


def test_smtp_intake_answers_451_when_we_cannot_store(tmp_path: Path) -> None:
    """If storing fails on our side the sending server gets 451 (retry later), never a permanent 5xx."""
    port = free_port()
    settings = base_settings(
        tmp_path, smtp_intake_port=port, smtp_intake_domains="bogorkota.go.id", smtp_intake_max_recipients=2
    )
    runtime = build_runtime(settings)

    async def broken_accept(envelopes: Any) -> list[AcceptResult]:
        raise RuntimeError("database unreachable")

    async def unused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not expected here")

    loop = asyncio.new_event_loop()
    ctx = PollContext(
        accept=broken_accept,
        apply_updates=unused,
        cursor_get=unused,
        cursor_set=unused,
        stopping=asyncio.Event(),
        keep_unreadable=unused,
    )
    server = loop.run_until_complete(start_smtp_server(settings, ctx))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("mx.example.org")
            client.mail(CITIZEN)
            assert client.rcpt("a@bogorkota.go.id")[0] == 250
            assert client.rcpt("b@bogorkota.go.id")[0] == 250
            assert client.rcpt("c@bogorkota.go.id")[0] == 452  # too many recipients: sent again later
            code, text = client.data(mail("Jalan rusak", IDENTITY + "Isi: jalan rusak").as_bytes())
            assert code == 451 and b"retry" in text
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        runtime.close()


def test_ticket_in_subject_adds_to_the_case_only_from_its_own_address(
    tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink
) -> None:
    """A mail naming the ticket in its subject joins the case from the case's own address; a stranger's does not."""
    with running_system(email_settings(tmp_path, mailbox, sink)) as system:
        mailbox.deliver(mail("Drainase mampet", IDENTITY + "Isi: Got mampet di depan rumah.").as_bytes())
        ack = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20).message
        ticket = ack["Subject"].rsplit("[", 1)[1].rstrip("]")
        mailbox.deliver(mail(f"Tambahan info {ticket}", "Airnya sudah masuk ke rumah warga.").as_bytes())
        stranger = mail(f"Soal {ticket}", IDENTITY + "Isi: Saya mau ikut menambahkan.", sender="orang.lain@example.net")
        mailbox.deliver(stranger.as_bytes())
        system.wait_for(lambda s: s.scalar(select(func.count()).select_from(Complaint)) == 2)
        case = system.wait_for(
            lambda s: s.scalar(
                select(Complaint).where(Complaint.ticket == ticket, Complaint.text.contains("masuk ke rumah"))
            )
        )
        assert "Saya mau ikut" not in case.text


def test_hourly_reply_limit_per_sender(tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink) -> None:
    """At most MAIL_AUTO_REPLIES_PER_HOUR automatic replies go to one sender; the rest are recorded, not sent."""
    with running_system(email_settings(tmp_path, mailbox, sink, mail_auto_replies_per_hour=2)) as system:
        for i in range(4):
            mailbox.deliver(mail(f"Keluhan {i}", IDENTITY + f"Isi: Sampah menumpuk di TPS {i}.").as_bytes())
        system.wait_for(
            lambda s: s.scalar(select(func.count()).select_from(Complaint).where(Complaint.status == "disposisi")) == 4
        )
        system.wait_for(
            lambda s: (
                s.scalar(
                    select(func.count()).select_from(HistoryEntry).where(HistoryEntry.action == "reply_suppressed")
                )
                == 2
            )
        )
        time.sleep(0.5)
        assert len([m for m in sink.messages if CITIZEN in m.rcpt_tos]) == 2


def test_processed_mail_is_moved_and_poller_reconnects(tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink) -> None:
    """With IMAP_PROCESSED_FOLDER accepted mail is moved there; after the server restarts the poller reconnects."""
    mailbox.create_folder("Diproses")
    with running_system(email_settings(tmp_path, mailbox, sink, imap_processed_folder="Diproses")) as system:
        mailbox.deliver(mail("Pohon tumbang", IDENTITY + "Isi: Pohon tumbang di Jl. Sudirman.").as_bytes())
        sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20)
        system.wait_for(lambda s: mailbox.list_uids() == [] and len(mailbox.list_uids("Diproses")) == 1)
        mailbox.restart()
        mailbox.deliver(
            mail("Lampu merah mati", IDENTITY + "Isi: Lampu lalu lintas mati di simpang Tugu Kujang.").as_bytes()
        )
        system.wait_for(lambda s: s.scalar(select(func.count()).select_from(Complaint)) == 2, timeout=30)
        state = imap_health(system)
        assert state is not None and state.last_error  # the restart was seen and reported


def test_operators_see_mailbox_and_queue_health(tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink) -> None:
    """GET /ops/status (bearer OPS_TOKEN) shows the poller connected, its last poll, and queue counts; no token, 401."""
    import json
    import urllib.error
    import urllib.request

    with running_system(email_settings(tmp_path, mailbox, sink, ops_token="ops-secret")) as system:
        mailbox.deliver(mail("Parkir liar", IDENTITY + "Isi: Parkir liar di trotoar.").as_bytes())
        sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20)
        request = urllib.request.Request(system.url + "/ops/status", headers={"Authorization": "Bearer ops-secret"})
        deadline = time.monotonic() + 10
        while True:
            with urllib.request.urlopen(request, timeout=5) as resp:
                status = json.load(resp)
            if status["replies"].get("sent") == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status["inbox"]["done"] == 1 and status["cases"]["disposisi"] == 1
        [imap] = [p for p in status["pollers"] if p["provider"] == "imap"]
        assert imap["poller"] == mailbox_key(system.settings)
        assert imap["status"] == "connected" and imap["last_poll_at"]
        assert status["cursors"][mailbox_key(system.settings)]["value"].startswith(f"{mailbox.uidvalidity()}:")
        assert CITIZEN not in json.dumps(status) and NIK not in json.dumps(status)
        try:
            urllib.request.urlopen(system.url + "/ops/status", timeout=5)
            raise AssertionError("no token must be refused")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401


def _metric_values(system: SystemThread, name: str, by: str) -> dict[str, float]:
    """part-instrument: the non-zero samples of one /metrics counter, keyed by one label."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{system.url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        sample.labels[by]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and sample.value
    }
