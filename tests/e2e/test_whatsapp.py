"""End to end through the running system: a citizen's WhatsApp chat in, the city's messages out at a fake Graph API.

The gateway, the workers and the outbound sender run as in production (SQLite + in-process
queue, and for the full conversation also PostgreSQL + Redis); only Meta is replaced: the tests
sign webhook notifications with the app secret as Meta does, and replies go to
``tests/support/fake_whatsapp.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.whatsapp import SIGNATURE_HEADER
from complaints.models import Complaint, Conversation, InboxMessage, Reply
from gateway.embedded import start_system
from tests.conftest import base_settings
from tests.support.fake_whatsapp import FakeWhatsApp, SentMessage, sign
from tests.support.system import wait_db

TOKEN = "EAAJB3example-system-user-token"
PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "bogor-app-secret-0123456789abcdef"
VERIFY_TOKEN = "bogor-verify-2026"
CITIZEN = "6281234567890"
# A valid Kota Bogor NIK: district 32.71.01, woman born 05-05-1990 (day + 40), serial 0002.
NIK = "3271014505900002"
FALSE_NIK = "3271994505900002"  # district 32.71.99 does not exist
ADDRESS = "Jl. Pajajaran No. 5, RT 02/RW 03, Bogor Tengah"
TICKET = re.compile(r"BGR-[2-9A-HJ-NP-Z]{7}")


def count(model: Any) -> Callable[[Session], int]:
    return lambda s: int(s.scalar(select(func.count()).select_from(model)) or 0)


def notification(value: dict[str, Any]) -> dict[str, Any]:
    """A ``messages`` webhook notification for the city's number, shaped as in Meta's examples."""
    metadata = {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID}
    change = {"value": {"messaging_product": "whatsapp", "metadata": metadata, **value}, "field": "messages"}
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [change]}]}


class Citizen:
    """One person's chat with the city's WhatsApp number: builds notifications and delivers them."""

    def __init__(self, deliver: Callable[[dict[str, Any]], Any], wa: FakeWhatsApp, number: str = CITIZEN) -> None:
        self.deliver, self.wa, self.number = deliver, wa, number
        self.next_id = 100
        self.sent: list[dict[str, Any]] = []

    def message(self, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        """The next notification carrying one message of ``kind`` from this citizen."""
        self.next_id += 1
        message = {
            "from": self.number,
            "id": f"wamid.TEST{self.number}{self.next_id:06d}",
            "timestamp": str(int(time.time())),
            "type": kind,
            kind: content,
        }
        contacts = [{"profile": {"name": "Siti"}, "wa_id": self.number}]
        return notification({"contacts": contacts, "messages": [message]})

    async def says(self, text: str | None = None, *, kind: str = "text", **content: Any) -> SentMessage:
        """Send a message and wait for the city's answer in this chat."""
        body = {"body": text} if kind == "text" else content
        before = len([m for m in self.wa.messages if m.to == self.number])
        data = self.message(kind, body)
        self.sent.append(data)
        await self.deliver(data)
        return await self.wa.wait_for_message(to=self.number, after=before)

    def last_wamid(self) -> str:
        return str(self.sent[-1]["entry"][0]["changes"][0]["value"]["messages"][0]["id"])


@pytest.fixture
async def system_wa(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """The whole system with WhatsApp enabled and the Graph API replaced by the fake."""
    backend = request.getfixturevalue("backend") if "backend" in request.fixturenames else {}
    async with FakeWhatsApp(TOKEN, PHONE_NUMBER_ID) as wa:
        settings = base_settings(
            tmp_path,
            whatsapp_access_token=TOKEN,
            whatsapp_phone_number_id=PHONE_NUMBER_ID,
            whatsapp_app_secret=APP_SECRET,
            whatsapp_verify_token=VERIFY_TOKEN,
            whatsapp_api_base=wa.url,
            **backend,
        )
        system = await start_system(settings)
        async with aiohttp.ClientSession() as http:
            url = system.urls[0] + "/channels/whatsapp"

            async def deliver(data: dict[str, Any]) -> None:
                body = json.dumps(data).encode()
                headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, APP_SECRET)}
                async with http.post(url, data=body, headers=headers) as resp:
                    assert resp.status == 200, await resp.text()

            yield {"system": system, "wa": wa, "http": http, "url": url, "deliver": deliver}
        await system.stop()


async def test_guided_report_ends_with_ticket_and_opd(system_wa: dict[str, Any], backend: dict[str, Any]) -> None:
    """/lapor asks for the complaint and each identity field, re-asks a false NIK, and acks with ticket and OPD."""
    system, wa = system_wa["system"], system_wa["wa"]
    citizen = Citizen(system_wa["deliver"], wa)
    # Given a citizen who starts a report, answered in the same chat quoting their message
    ask = await citizen.says("/lapor")
    assert "isi pengaduan" in ask.body.lower() and ask.context_message_id == citizen.last_wamid()
    # When they send a photo with the complaint as its caption
    image = {
        "caption": "Jalan berlubang besar di depan Kebun Raya, Jl. Pajajaran",
        "mime_type": "image/jpeg",
        "sha256": "SfInY0gHMvLLh/rDeVrKSgPqXYxgxTaaUPpDoxM0Pqs=",
        "id": "1003383421387256",
    }
    ask = await citizen.says(kind="image", **image)
    complaint_wamid = citizen.last_wamid()
    assert "Foto diterima" in ask.body and "Isi pengaduan diterima" in ask.body and "NIK" in ask.body
    # Then a NIK from a district that does not exist is asked again, with the reason
    ask = await citizen.says(FALSE_NIK)
    assert "NIK (kode wilayah salah)" in ask.body and "Mohon kirim NIK" in ask.body
    # A shared location is taken in passing, and the open question repeated
    ask = await citizen.says(kind="location", latitude=-6.597629, longitude=106.799568, name="Kebun Raya")
    assert "Lokasi diterima" in ask.body and "Mohon kirim NIK" in ask.body
    ask = await citizen.says(NIK)
    assert ask.body.startswith("NIK diterima.") and "nama lengkap" in ask.body
    ask = await citizen.says("Siti Aminah")
    assert "Nama diterima" in ask.body and "alamat" in ask.body
    ask = await citizen.says(ADDRESS)
    assert "Alamat diterima" in ask.body and "nomor telepon" in ask.body
    ask = await citizen.says("0812-3456-7890")
    assert "No. Telp diterima" in ask.body
    ack = await citizen.says("-")
    # The acknowledgement names the ticket and the OPD, quoting the complaint message
    match = TICKET.search(ack.body)
    assert match and "PUPR" in ack.body, ack.body
    assert ack.context_message_id == complaint_wamid
    ticket = match.group(0)
    case = await wait_db(system, lambda s: s.scalar(select(Complaint).where(Complaint.ticket == ticket)))
    assert (case.channel, case.reply_channel, case.reply_address) == ("whatsapp", "whatsapp", CITIZEN)
    assert case.nik == NIK and case.name == "Siti Aminah" and case.address == ADDRESS
    assert case.phone == "+6281234567890" and case.status == "disposisi" and case.opd_code == "pupr"
    assert case.attachments["location"] == {"latitude": -6.597629, "longitude": 106.799568}
    assert image["id"] in json.dumps(case.attachments)  # the photo is kept by its Graph media id
    # No personal data is repeated back, and none stays in the finished conversation
    for sent in wa.messages:
        for secret in (NIK, FALSE_NIK, "Aminah", ADDRESS, "3456"):
            assert secret not in sent.body, (secret, sent.body)
    state = await wait_db(system, lambda s: s.get(Conversation, f"whatsapp:{CITIZEN}"))
    assert state.state == {"lang": "id"}
    # And a repeated notification (Meta retries) creates nothing and sends nothing
    inbox_before, sent_before = await wait_db(system, count(InboxMessage)), len(wa.messages)
    await system_wa["deliver"](citizen.sent[-1])
    await asyncio.sleep(0.5)
    assert await wait_db(system, count(InboxMessage)) == inbox_before and len(wa.messages) == sent_before
    assert await wait_db(system, count(Complaint)) == 1


async def test_delivery_statuses_reach_the_outbox(system_wa: dict[str, Any]) -> None:
    """Meta's delivered and failed statuses, naming our wamid, move the reply rows."""
    system, wa = system_wa["system"], system_wa["wa"]
    citizen = Citizen(system_wa["deliver"], wa)
    first = await citizen.says("halo")
    await wait_db(system, lambda s: s.scalar(select(Reply).where(Reply.provider_message_id == first.id)))
    second = await citizen.says("/cek")

    def status(wamid: str, value: str, **extra: Any) -> dict[str, Any]:
        item = {"id": wamid, "status": value, "timestamp": str(int(time.time())), "recipient_id": CITIZEN, **extra}
        return notification({"statuses": [item]})

    await system_wa["deliver"](status(first.id, "read"))
    errors = [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}]
    await system_wa["deliver"](status(second.id, "failed", errors=errors))
    delivered = await wait_db(
        system,
        lambda s: s.scalar(select(Reply).where(Reply.provider_message_id == first.id, Reply.status == "delivered")),
    )
    failed = await wait_db(
        system,
        lambda s: s.scalar(select(Reply).where(Reply.provider_message_id == second.id, Reply.status == "failed")),
    )
    assert delivered.channel == "whatsapp" and "131047" in (failed.error or "")


async def test_outside_the_24_hour_window_fails_once(system_wa: dict[str, Any]) -> None:
    """A re-engagement error (131047) marks the reply failed after one attempt: only a template would get through."""
    system, wa = system_wa["system"], system_wa["wa"]
    wa.fail_next(131047, "Re-engagement message")
    await system_wa["deliver"](Citizen(system_wa["deliver"], wa).message("text", {"body": "halo"}))
    reply = await wait_db(system, lambda s: s.scalar(select(Reply).where(Reply.status == "failed")))
    assert "131047" in (reply.error or "") and reply.attempts == 1
    await asyncio.sleep(0.5)
    assert len(wa.requests) == 1 and wa.messages == []


async def test_handshake_and_bad_signatures_over_http(
    system_wa: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The GET handshake echoes the challenge only for our token; unsigned or wrongly signed POSTs store nothing."""
    caplog.set_level(logging.INFO)
    http, url = system_wa["http"], system_wa["url"]
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    async with http.get(url, params=query) as resp:
        assert resp.status == 200 and resp.content_type == "text/plain" and await resp.text() == "1158201444"
    async with http.get(url, params=query | {"hub.verify_token": "guess"}) as resp:
        assert resp.status == 403 and "1158201444" not in await resp.text()
    body = json.dumps(Citizen(system_wa["deliver"], system_wa["wa"]).message("text", {"body": "halo"})).encode()
    for headers in ({}, {SIGNATURE_HEADER: sign(body, "guess")}, {SIGNATURE_HEADER: sign(body + b" ", APP_SECRET)}):
        async with http.post(url, data=body, headers={"Content-Type": "application/json", **headers}) as resp:
            assert resp.status == 401
    await asyncio.sleep(0.2)
    with system_wa["system"].runtime.read_sf() as session:
        assert count(InboxMessage)(session) == 0
    for secret in (APP_SECRET, VERIFY_TOKEN, TOKEN, CITIZEN):
        assert secret not in caplog.text
