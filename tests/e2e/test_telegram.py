"""End to end through the running system: a citizen's Telegram chat in, the bot's messages out at a fake Bot API.

The gateway, the workers and the outbound sender run as in production (SQLite + in-process
queue, and for the full conversation also PostgreSQL + Redis); only Telegram is replaced, by
``tests/support/fake_telegram.py`` reached through python-telegram-bot's base_url.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.telegram import CURSOR_KEY, SECRET_HEADER
from complaints.models import ChannelCursor, Complaint, Conversation, InboxMessage, Reply
from gateway.embedded import start_system
from tests.conftest import base_settings
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.system import wait_db

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SECRET = "Bogor_webhook-secret_2026"
CHAT = 1111111
# A valid Kota Bogor NIK: district 32.71.01, woman born 05-05-1990 (day + 40), serial 0002.
NIK = "3271014505900002"
FALSE_NIK = "3271994505900002"  # district 32.71.99 does not exist
ADDRESS = "Jl. Pajajaran No. 5, RT 02/RW 03, Bogor Tengah"
TICKET = re.compile(r"BGR-[2-9A-HJ-NP-Z]{7}")


def count(model: Any) -> Callable[[Session], int]:
    return lambda s: int(s.scalar(select(func.count()).select_from(model)) or 0)


class Citizen:
    """One person's private chat with the bot: builds Telegram updates and delivers them."""

    def __init__(
        self,
        deliver: Callable[[dict[str, Any]], Any],
        tg: FakeTelegram,
        *,
        chat_id: int = CHAT,
        language_code: str = "id",
        first_update: int = 30000,
    ) -> None:
        self.deliver, self.tg, self.chat_id, self.language_code = deliver, tg, chat_id, language_code
        self.next_update, self.next_message = first_update, 200
        self.sent: list[dict[str, Any]] = []

    def update(self, text: str | None = None, **content: Any) -> dict[str, Any]:
        """The next Update from this citizen (text, or photo/location/... content)."""
        self.next_update += 1
        self.next_message += 1
        user = {"id": self.chat_id, "is_bot": False, "first_name": "Siti", "language_code": self.language_code}
        message: dict[str, Any] = {
            "message_id": self.next_message,
            "from": user,
            "chat": {"id": self.chat_id, "first_name": "Siti", "type": "private"},
            "date": int(time.time()),
            **content,
        }
        if text is not None:
            message["text" if not content.get("photo") else "caption"] = text
        return {"update_id": self.next_update, "message": message}

    def edited(self, original: dict[str, Any], text: str) -> dict[str, Any]:
        """The update Telegram sends when the citizen edits ``original`` to read ``text``."""
        self.next_update += 1
        message = dict(original["message"], text=text, edit_date=int(time.time()))
        return {"update_id": self.next_update, "edited_message": message}

    async def says(self, text: str | None = None, **content: Any) -> SentMessage:
        """Send a message and wait for the bot's answer in this chat."""
        return await self.sends(self.update(text, **content))

    async def sends(self, update: dict[str, Any]) -> SentMessage:
        """Deliver ``update`` and wait for the bot's answer in this chat."""
        before = len([m for m in self.tg.messages if m.chat_id == str(self.chat_id)])
        self.sent.append(update)
        delivered = self.deliver(update)
        if inspect.isawaitable(delivered):
            await delivered
        return await self.tg.wait_for_message(chat_id=str(self.chat_id), after=before)


@pytest.fixture
async def webhook_system(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """The whole system in webhook mode with the Bot API replaced by the fake."""
    backend = request.getfixturevalue("backend") if "backend" in request.fixturenames else {}
    async with FakeTelegram(TOKEN) as tg:
        settings = base_settings(
            tmp_path, telegram_bot_token=TOKEN, telegram_webhook_secret=SECRET, telegram_api_base=tg.url, **backend
        )
        system = await start_system(settings)
        async with aiohttp.ClientSession() as http:
            url = system.urls[0] + "/channels/telegram"

            async def deliver(update: dict[str, Any], secret: str = SECRET) -> int:
                headers = {"Content-Type": "application/json", SECRET_HEADER: secret}
                async with http.post(url, data=json.dumps(update).encode(), headers=headers) as resp:
                    body = await resp.read()
                    assert resp.status == 200, body
                    assert json.loads(body) == {}
                    return resp.status

            yield {"system": system, "tg": tg, "http": http, "url": url, "deliver": deliver}
        await system.stop()


async def test_guided_report_ends_with_ticket_and_opd(webhook_system: dict[str, Any], backend: dict[str, Any]) -> None:
    """/lapor asks for the complaint and each identity field, re-asks a false NIK with why, acks with ticket and OPD."""
    system, tg = webhook_system["system"], webhook_system["tg"]
    citizen = Citizen(webhook_system["deliver"], tg)
    # Given a citizen who starts a report
    ask = await citizen.says("/lapor")
    assert "isi pengaduan" in ask.text.lower()
    assert ask.reply_parameters == {
        "message_id": citizen.sent[-1]["message"]["message_id"],
        "allow_sending_without_reply": True,
    }
    # When they send a photo with the complaint as its caption
    photo = [
        {"file_id": "small-id", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "large-id", "file_unique_id": "l", "width": 1280, "height": 960, "file_size": 88416},
    ]
    ask = await citizen.says("Jalan berlubang besar di depan Kebun Raya, Jl. Pajajaran", photo=photo)
    complaint_message_id = citizen.sent[-1]["message"]["message_id"]
    assert "Foto diterima" in ask.text and "Isi pengaduan diterima" in ask.text and "NIK" in ask.text
    # Then a NIK from a district that does not exist is asked again, with the reason
    ask = await citizen.says(FALSE_NIK)
    assert "NIK (kode wilayah salah)" in ask.text and "Mohon kirim NIK" in ask.text
    # A shared location is taken in passing, and the open question repeated
    ask = await citizen.says(location={"latitude": -6.597629, "longitude": 106.799568})
    assert "Lokasi diterima" in ask.text and "Mohon kirim NIK" in ask.text
    ask = await citizen.says(NIK)
    assert ask.text.startswith("NIK diterima.") and "nama lengkap" in ask.text
    ask = await citizen.says("Siti Aminah")
    assert "Nama diterima" in ask.text and "alamat" in ask.text
    ask = await citizen.says(ADDRESS)
    assert "Alamat diterima" in ask.text and "nomor telepon" in ask.text
    ask = await citizen.says("0812-3456-7890")
    assert "No. Telp diterima" in ask.text and "Ketik - untuk lewati" in ask.text
    ack = await citizen.says("-")
    # The acknowledgement names the ticket and the OPD, quoting the complaint message
    match = TICKET.search(ack.text)
    assert match and "PUPR" in ack.text, ack.text
    assert ack.reply_parameters == {"message_id": complaint_message_id, "allow_sending_without_reply": True}
    ticket = match.group(0)
    case = await wait_db(system, lambda s: s.scalar(select(Complaint).where(Complaint.ticket == ticket)))
    assert (case.channel, case.reply_channel, case.reply_address) == ("telegram", "telegram", str(CHAT))
    assert case.nik == NIK and case.name == "Siti Aminah" and case.address == ADDRESS
    assert case.phone == "+6281234567890" and case.email is None
    assert case.text.startswith("Jalan berlubang") and case.status == "disposisi" and case.opd_code == "pupr"
    assert case.attachments["to_fetch"] == [
        {"provider": "telegram", "ref": "large-id", "content_type": "image/jpeg", "size": 88416}
    ]
    assert case.attachments["location"] == {"latitude": -6.597629, "longitude": 106.799568}
    # No personal data is repeated back, and none stays in the finished conversation
    for message in tg.messages:
        for secret in (NIK, FALSE_NIK, "Aminah", ADDRESS, "3456", "+62812"):
            assert secret not in message.text, (secret, message.text)
    state = await wait_db(system, lambda s: s.get(Conversation, f"telegram:{CHAT}"))
    assert state.state == {"lang": "id"}
    # /cek answers the status
    status = await citizen.says(f"/cek {ticket.lower()}")
    assert ticket in status.text and "Disposisi" in status.text and "PUPR" in status.text
    # And a repeated update (a webhook retry) creates nothing and sends nothing
    inbox_before, sent_before = await wait_db(system, count(InboxMessage)), len(tg.messages)
    await webhook_system["deliver"](citizen.sent[-1])
    await asyncio.sleep(0.5)
    assert await wait_db(system, count(InboxMessage)) == inbox_before and len(tg.messages) == sent_before
    assert await wait_db(system, count(Complaint)) == 1


async def test_labelled_fields_ask_only_for_what_is_missing(webhook_system: dict[str, Any]) -> None:
    """Free text with "NIK: ..., Nama: ..." fills those fields; the bot asks only for the rest."""
    citizen = Citizen(webhook_system["deliver"], webhook_system["tg"])
    ask = await citizen.says(f"NIK: {NIK}, Nama: Siti Aminah\nIsi: sampah menumpuk di TPS pasar sudah seminggu")
    assert "Isi pengaduan diterima" in ask.text and "NIK, Nama diterima" in ask.text
    assert "alamat" in ask.text
    ask = await citizen.says("/batal")
    assert "dibatalkan" in ask.text
    state = await wait_db(webhook_system["system"], lambda s: s.get(Conversation, f"telegram:{CHAT}"))
    assert state.state == {"lang": "id"}


async def test_english_on_request(webhook_system: dict[str, Any]) -> None:
    """An English-speaking user is asked in English; /indonesia switches the chat to Indonesian."""
    citizen = Citizen(webhook_system["deliver"], webhook_system["tg"], language_code="en")
    ask = await citizen.says("/lapor")
    assert "Please describe your complaint" in ask.text
    ask = await citizen.says("/indonesia")
    assert "Bahasa Indonesia" in ask.text and "isi pengaduan" in ask.text.lower()


async def test_blocked_bot_marks_the_reply_failed(webhook_system: dict[str, Any]) -> None:
    """When the citizen has blocked the bot the reply is marked failed for good, after one attempt."""
    system, tg = webhook_system["system"], webhook_system["tg"]
    tg.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    citizen = Citizen(webhook_system["deliver"], tg)
    await citizen.deliver(citizen.update("/start"))
    reply = await wait_db(system, lambda s: s.scalar(select(Reply).where(Reply.status == "failed")))
    assert "blocked" in (reply.error or "") and reply.attempts == 1 and reply.kind == "chat"
    await asyncio.sleep(0.5)
    assert len(tg.calls_of("sendMessage")) == 1 and tg.messages == []


async def test_wrong_secret_is_refused_and_nothing_stored(
    webhook_system: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A webhook call without the right secret token gets 401 and stores nothing."""
    caplog.set_level(logging.INFO)
    citizen = Citizen(webhook_system["deliver"], webhook_system["tg"])
    for headers in ({"Content-Type": "application/json"}, {SECRET_HEADER: "guess"}):
        async with webhook_system["http"].post(
            webhook_system["url"], data=json.dumps(citizen.update("/start")), headers=headers
        ) as resp:
            assert resp.status == 401
    await asyncio.sleep(0.2)
    with webhook_system["system"].runtime.read_sf() as session:
        assert count(InboxMessage)(session) == 0
    assert SECRET not in caplog.text and TOKEN not in caplog.text


async def full_report_polled(system: Any, citizen: Citizen) -> int:
    """In poll mode, ``citizen`` sends a whole report: the answer names a ticket and the stored
    offset moves past the update; returns that update's id."""
    text = (
        f"NIK: {NIK}, Nama: Siti Aminah, Alamat: {ADDRESS}, Telp: 081234567890, "
        "Email: siti@example.id\nIsi: lampu PJU mati di Jl. Pajajaran sejak seminggu"
    )
    ack = await citizen.says(text)
    assert TICKET.search(ack.text), ack.text
    last_update = int(citizen.sent[-1]["update_id"])
    cursor = await wait_db(system, lambda s: s.get(ChannelCursor, CURSOR_KEY))
    assert cursor.value == str(last_update + 1)
    return last_update


async def test_long_poll_imports_once_across_restarts(tmp_path: Path) -> None:
    """In poll mode getUpdates' updates become a complaint; the stored offset keeps a restart from re-importing them."""
    async with FakeTelegram(TOKEN) as tg:
        settings = base_settings(tmp_path, telegram_bot_token=TOKEN, telegram_mode="poll", telegram_api_base=tg.url)
        citizen = Citizen(tg.push_update, tg)  # Telegram holds the updates until the gateway asks
        system = await start_system(settings)
        try:
            async with aiohttp.ClientSession() as http:
                async with http.post(system.urls[0] + "/channels/telegram", data=b"{}") as resp:
                    assert resp.status == 404  # no webhook in poll mode
            last_update = await full_report_polled(system, citizen)
            assert await wait_db(system, count(Complaint)) == 1
        finally:
            await system.stop()
        assert tg.calls_of("deleteWebhook")
        sent_before = len(tg.messages)
        # When Telegram would serve the same updates again, a restarted gateway asks from its stored offset
        tg.forget_confirmations()
        polls_before = len(tg.calls_of("getUpdates"))
        system = await start_system(settings)
        try:
            await wait_db(system, lambda s: len(tg.calls_of("getUpdates")) > polls_before)
            assert tg.calls_of("getUpdates")[polls_before].get("offset") == str(last_update + 1)
            await asyncio.sleep(0.5)
            assert await wait_db(system, count(InboxMessage)) == 1
            assert len(tg.messages) == sent_before
        finally:
            await system.stop()


async def test_greetings_commands_and_stickers_outside_a_report(webhook_system: dict[str, Any]) -> None:
    """Greetings get the welcome, unknown commands a short help, a bare CEK how to use it, stickers a polite no."""
    citizen = Citizen(webhook_system["deliver"], webhook_system["tg"])
    assert "/lapor - buat pengaduan baru" in (await citizen.says("halo")).text
    assert (await citizen.says("/daftar")).text.startswith("Perintah: /lapor")
    assert "misalnya: /cek BGR-" in (await citizen.says("/cek")).text
    assert "misalnya: /cek BGR-" in (await citizen.says("cek")).text
    assert "Tiket BGR-2222222 tidak ditemukan" in (await citizen.says("CEK bgr2222222")).text
    assert "Tidak ada pengaduan" in (await citizen.says("/batal")).text
    sticker = {
        "file_id": "CAACAgIAAxk",
        "file_unique_id": "u",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    assert "hanya dapat membaca teks, foto, dan lokasi" in (await citizen.says(sticker=sticker)).text
    with webhook_system["system"].runtime.read_sf() as session:
        assert count(Complaint)(session) == 0


async def test_editing_a_message_changes_that_answer(webhook_system: dict[str, Any]) -> None:
    """Editing the complaint or the NIK message replaces that answer; a wrong edited NIK is asked again."""
    system, tg = webhook_system["system"], webhook_system["tg"]
    citizen = Citizen(webhook_system["deliver"], tg)
    await citizen.says("/lapor")
    lapor = citizen.sent[-1]
    await citizen.says("Lampu jalan mati")
    complaint = citizen.sent[-1]
    await citizen.says(NIK)
    nik_message = citizen.sent[-1]
    answer = await citizen.sends(citizen.edited(nik_message, FALSE_NIK))
    assert "NIK (kode wilayah salah)" in answer.text and "Mohon kirim NIK" in answer.text
    answer = await citizen.sends(citizen.edited(complaint, "Lampu jalan mati di Jl. Sudirman sejak seminggu"))
    assert answer.text.startswith("Isi pengaduan diperbarui.") and "Mohon kirim NIK" in answer.text
    state = await wait_db(system, lambda s: s.get(Conversation, f"telegram:{CHAT}"))
    assert state.state["text"] == "Lampu jalan mati di Jl. Sudirman sejak seminggu"
    assert "nik" not in state.state["identity"]
    # Editing a message that answered nothing (the /lapor command) changes nothing and sends nothing
    sent = len(tg.messages)
    await webhook_system["deliver"](citizen.edited(lapor, "/lapor lagi"))
    await asyncio.sleep(0.5)
    assert len(tg.messages) == sent


async def test_own_contact_answers_the_phone_question(webhook_system: dict[str, Any]) -> None:
    """Sharing one's own contact answers "No. Telp" without typing it."""
    citizen = Citizen(webhook_system["deliver"], webhook_system["tg"])
    for text in ("/lapor", "Sampah menumpuk di TPS Pasar Bogor", NIK, "Siti Aminah", ADDRESS):
        await citizen.says(text)
    answer = await citizen.says(contact={"phone_number": "6281234567890", "first_name": "Siti", "user_id": CHAT})
    assert answer.text.startswith("No. Telp diterima.") and "e-mail" in answer.text
    state = await wait_db(webhook_system["system"], lambda s: s.get(Conversation, f"telegram:{CHAT}"))
    assert state.state["identity"]["phone"] == "+6281234567890"


async def test_abandoned_report_is_forgotten_after_a_day(webhook_system: dict[str, Any]) -> None:
    """A report left unfinished for more than a day is dropped with its personal data; a new message starts afresh."""
    system = webhook_system["system"]
    citizen = Citizen(webhook_system["deliver"], webhook_system["tg"])
    for text in ("/lapor", "Pohon tumbang menutup jalan", NIK):
        await citizen.says(text)
    with system.runtime.sf.begin() as session:
        conversation = session.get(Conversation, f"telegram:{CHAT}")
        conversation.updated_at -= timedelta(hours=25)
    answer = await citizen.says("Siti Aminah")
    assert "/lapor - buat pengaduan baru" in answer.text  # two words outside a report: the welcome
    state = await wait_db(system, lambda s: s.get(Conversation, f"telegram:{CHAT}"))
    assert state.state == {"lang": "id"}


async def test_lapor_again_restarts(webhook_system: dict[str, Any]) -> None:
    """/lapor in the middle of a report says the old one is dropped and starts again."""
    citizen = Citizen(webhook_system["deliver"], webhook_system["tg"])
    await citizen.says("/lapor Jalan berlubang di depan SDN Pajajaran")
    answer = await citizen.says("/lapor")
    assert "kita mulai yang baru" in answer.text and "isi pengaduan" in answer.text.lower()
