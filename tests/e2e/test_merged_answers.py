"""End to end (issue 10): three citizens report the same hole in the road on SMS (a real Kannel), e-mail
(a real Dovecot mailbox, replies to a real SMTP sink) and Telegram (the local fake Bot API). The page
proposes the two later reports as duplicates of the first, the operator merges them, the OPD answers
once, and each citizen receives that one answer on their own channel, under their own ticket."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from channels.telegram import SECRET_HEADER
from complaints import actions, duplicates, merging
from complaints.models import Complaint, Reply
from complaints.queries import Viewer
from gateway.embedded import EmbeddedSystem, start_system
from tests.conftest import base_settings
from tests.e2e.test_email import mail
from tests.support.dovecot import DovecotHarness, running_dovecot
from tests.support.fake_telegram import FakeTelegram
from tests.support.kannel import KannelHarness, gateway_get_url, gateway_kannel_settings, running_kannel
from tests.support.smtp_sink import SmtpSink
from tests.support.system import free_port, wait_db

PHONE = "+6281234567890"
SHORT_CODE = "1708"
KANNEL_TOKEN = "kannel-inbound-secret"
TG_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
TG_SECRET = "Bogor_webhook-secret_2026"
CHAT = 2222222
CITIZEN_MAIL = "budi.santoso@example.org"
MAILBOX = "lapor@bogorkota.go.id"
NIK = "3271014505900002"
ADDRESS = "Jl. Pajajaran No. 5, Bogor Tengah"
TICKET = re.compile(r"BGR-[2-9A-HJ-NP-Z]{7}")
HOLE = "Jalan berlubang besar di depan Kebun Raya, Jl. Pajajaran, bahaya untuk motor"
ANSWER = "Lubang di Jl. Pajajaran depan Kebun Raya sudah ditambal hari ini."
OPERATOR = Viewer(role="operator")
PUPR = Viewer(role="opd", opd_code="pupr")


@dataclass
class World:
    """The running system and the three channels' far ends."""

    system: EmbeddedSystem
    kannel: KannelHarness
    mailbox: DovecotHarness
    sink: SmtpSink
    tg: FakeTelegram
    http: aiohttp.ClientSession


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """SMS, e-mail and Telegram all enabled on one embedded system (SQLite, in-process queue, workers on)."""
    port = free_port()
    with (
        running_kannel(tmp_path / "kannel", gateway_get_url(port, KANNEL_TOKEN)) as kannel,
        running_dovecot(tmp_path / "dovecot") as mailbox,
        SmtpSink() as sink,
    ):
        async with FakeTelegram(TG_TOKEN) as tg:
            settings = base_settings(
                tmp_path,
                **gateway_kannel_settings(kannel, port, KANNEL_TOKEN, SHORT_CODE),
                **mailbox.poller_settings(),
                smtp_host=sink.host,
                smtp_port=sink.port,
                smtp_starttls=False,
                mail_from=MAILBOX,
                telegram_bot_token=TG_TOKEN,
                telegram_webhook_secret=TG_SECRET,
                telegram_api_base=tg.url,
            )
            system = await start_system(settings)
            try:
                async with aiohttp.ClientSession() as http:
                    yield World(system, kannel, mailbox, sink, tg, http)
            finally:
                await system.stop()


async def _by_sms(w: World) -> str:
    await w.kannel.inject_async(PHONE, SHORT_CODE, f"LAPOR#{NIK}#Siti Aminah#{ADDRESS}#{HOLE}")
    ack = await w.kannel.wait_for_mt_async(PHONE, timeout=30)
    found = TICKET.search(ack.text)
    assert found, ack.text
    return found.group(0)


async def _by_mail(w: World) -> str:
    body = f"NIK: {NIK}\nNama: Budi Santoso\nAlamat: {ADDRESS}\nTelp: 0812-3456-7892\nIsi: {HOLE}."
    w.mailbox.deliver(mail("Jalan berlubang di Jl. Pajajaran", body, sender=CITIZEN_MAIL).as_bytes())
    ack = await w.sink.wait_for_async(lambda m: CITIZEN_MAIL in m.rcpt_tos, timeout=30)
    found = TICKET.search(ack.subject)
    assert found, ack.subject
    return found.group(0)


async def _tg_says(w: World, update_id: int, text: str) -> str:
    """Rina writes ``text`` in her chat with the bot (update ``update_id``); returns the bot's answer."""
    before = len([m for m in w.tg.messages if m.chat_id == str(CHAT)])
    user = {"id": CHAT, "is_bot": False, "first_name": "Rina", "language_code": "id"}
    message = {"message_id": update_id, "from": user, "chat": {"id": CHAT, "type": "private"}, "date": 0}
    update = {"update_id": update_id, "message": {**message, "text": text}}
    headers = {"Content-Type": "application/json", SECRET_HEADER: TG_SECRET}
    url = w.system.urls[0] + "/channels/telegram"
    async with w.http.post(url, data=json.dumps(update).encode(), headers=headers) as resp:
        assert resp.status == 200, await resp.text()
    return (await w.tg.wait_for_message(chat_id=str(CHAT), after=before, timeout=20)).text


async def _by_telegram(w: World) -> str:
    """The guided chat: labelled fields first, then whatever the bot still asks (address, phone, skips)."""
    text = f"NIK: {NIK}, Nama: Rina Lestari\nIsi: {HOLE}"
    for update_id in range(40001, 40007):
        ask = await _tg_says(w, update_id, text)
        found = TICKET.search(ask)
        if found:
            return found.group(0)
        asked = ask.lower().rsplit("\n", 1)[-1]  # the question (the first lines say what was received)
        text = "-" if "e-mail" in asked else "0812-3456-7891" if "telepon" in asked else ADDRESS
    raise AssertionError(f"no ticket from the bot: {w.tg.messages!r}")


def _act(w: World, ticket: str, viewer: Viewer, action: str, **fields: str) -> list[str]:
    """One console action on the case, as the form's POST does it; returns the reply ids to send."""
    runtime = w.system.runtime
    with runtime.sf.begin() as db:
        case = db.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        outcome = actions.perform(
            db,
            case,
            user_id=1,
            viewer=viewer,
            request=actions.ActionRequest(action, case.version, fields),
            config=runtime.config,
            settings=runtime.settings,
            store_file=lambda data: "",
        )
    return outcome.enqueue.get("send_reply", [])


async def test_three_merged_reporters_each_get_the_one_answer_on_their_channel(world: World) -> None:
    """SMS, e-mail and Telegram reporters of one hole: merged into the first case, answered once, each
    gets the answer on their own channel with their own ticket, recorded as a reply of their own case."""
    w = world
    # Given three citizens reporting the same hole, each routed to PUPR on its own
    sms_ticket = await _by_sms(w)
    mail_ticket = await _by_mail(w)
    tg_ticket = await _by_telegram(w)
    tickets = (sms_ticket, mail_ticket, tg_ticket)
    cases = await wait_db(
        w.system,
        lambda s: (
            found
            if len(found := list(s.scalars(select(Complaint).where(Complaint.ticket.in_(tickets))))) == 3
            and all(c.status == "disposisi" and c.opd_code == "pupr" for c in found)
            else None
        ),
        timeout=30,
    )
    assert {c.reply_channel for c in cases} == {"sms", "email", "telegram"}
    runtime = w.system.runtime
    # When the operator opens the first case, the other two are proposed, and merged
    with runtime.sf.begin() as db:
        main = db.scalar(select(Complaint).where(Complaint.ticket == sms_ticket))
        assert main is not None
        settings = runtime.settings
        proposed = duplicates.proposals(
            db,
            main,
            OPERATOR,
            config=runtime.config,
            window_days=settings.duplicate_window_days,
            min_similarity=settings.duplicate_min_similarity,
        )
        assert {p.ticket for p in proposed} == {mail_ticket, tg_ticket}
        merging.merge(db, main, [mail_ticket, tg_ticket], viewer=OPERATOR, user_id=1, expected_version=main.version)
    # And PUPR answers the main case once, and the operator approves it
    _act(w, sms_ticket, PUPR, "accept")
    # A merged reporter asking for the status hears the main case's ("Dianalisa"), under their own ticket
    status = await _tg_says(w, 40100, f"/cek {tg_ticket}")
    assert tg_ticket in status and "Dianalisa" in status and "Disposisi" not in status, status
    _act(w, sms_ticket, PUPR, "follow_up", note="Tim menambal lubang.")
    _act(w, sms_ticket, PUPR, "answer", answer=ANSWER)
    tg_before = len([m for m in w.tg.messages if m.chat_id == str(CHAT)])
    reply_ids = _act(w, sms_ticket, OPERATOR, "approve", answer=ANSWER)
    assert len(reply_ids) == 3
    await asyncio.to_thread(runtime.send, "send_reply", reply_ids)
    # Then each citizen receives the one answer on their own channel, under their own ticket
    sms = await w.kannel.wait_for_mt_async(PHONE, timeout=30, predicate=lambda m: "ditambal" in m.text)
    assert sms.text == f"{sms_ticket}: {ANSWER} Balas PUAS/TIDAK PUAS+alasan"
    email = await w.sink.wait_for_async(lambda m: CITIZEN_MAIL in m.rcpt_tos and "ditambal" in m.text(), timeout=30)
    assert mail_ticket in email.subject and ANSWER in email.text() and sms_ticket not in email.text()
    chat = await w.tg.wait_for_message(chat_id=str(CHAT), after=tg_before, timeout=30)
    assert tg_ticket in chat.text and ANSWER in chat.text and sms_ticket not in chat.text
    # Each is recorded as a reply of the reporter's own case, and sent
    rows = await wait_db(
        w.system,
        lambda s: (
            rows
            if len(rows := list(s.scalars(select(Reply).where(Reply.id.in_(reply_ids))))) == 3
            and all(r.status in ("sent", "delivered") for r in rows)
            else None
        ),
        timeout=30,
    )
    by_case = {c.id: c.ticket for c in cases}
    assert {(by_case[r.complaint_id], r.channel) for r in rows if r.complaint_id} == {
        (sms_ticket, "sms"),
        (mail_ticket, "email"),
        (tg_ticket, "telegram"),
    }
    # And nobody got it twice
    await asyncio.sleep(1.0)
    assert len([m for m in w.kannel.received() if m.receiver == PHONE and "ditambal" in m.text]) == 1
    assert len([m for m in w.sink.messages if CITIZEN_MAIL in m.rcpt_tos and "ditambal" in m.text()]) == 1
    assert len([m for m in w.tg.messages if m.chat_id == str(CHAT) and "ditambal" in m.text]) == 1
