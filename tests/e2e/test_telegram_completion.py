"""Telegram end to end (issue 13): a returned complaint completed by a chat message, at a fake Bot API.

On Telegram the guided /lapor checks every field as it is given, so a case is returned at SOP
step 3 by the operator (AUTO_DISPOSE=false leaves each verified case to them). The citizen then
writes the corrected field into the chat, outside any report, and the same ticket goes on.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from channels.storage import store_bytes
from channels.telegram import SECRET_HEADER
from complaints.actions import ActionRequest, perform
from complaints.models import Complaint, HistoryEntry
from complaints.queries import Viewer
from gateway.embedded import EmbeddedSystem, start_system
from tests.conftest import base_settings
from tests.e2e.test_telegram import ADDRESS, CHAT, NIK, SECRET, TICKET, TOKEN, Citizen
from tests.support.fake_telegram import FakeTelegram
from tests.support.system import wait_db

COMPLAINT = "Jalan berlubang besar di depan Kebun Raya, Jl. Pajajaran"
OPERATOR = Viewer("operator")


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[tuple[Citizen, EmbeddedSystem, FakeTelegram]]:
    """The whole system (webhook mode, AUTO_DISPOSE=false) and one citizen's private chat."""
    async with FakeTelegram(TOKEN) as tg:
        settings = base_settings(
            tmp_path,
            telegram_bot_token=TOKEN,
            telegram_webhook_secret=SECRET,
            telegram_api_base=tg.url,
            auto_dispose=False,
        )
        system = await start_system(settings)
        async with aiohttp.ClientSession() as http:
            url = system.urls[0] + "/channels/telegram"

            async def deliver(update: dict[str, Any]) -> None:
                headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
                async with http.post(url, data=json.dumps(update).encode(), headers=headers) as resp:
                    assert resp.status == 200, await resp.read()

            yield Citizen(deliver, tg), system, tg
        await system.stop()


def _act(system: EmbeddedSystem, ticket: str, action: str, **fields: str) -> None:
    """What the operator's button on the case page does, then the queueing after the commit."""
    runtime = system.runtime
    with runtime.sf.begin() as session:
        case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        outcome = perform(
            session,
            case,
            user_id=1,
            viewer=OPERATOR,
            request=ActionRequest(action, case.version, fields),
            config=runtime.config,
            settings=runtime.settings,
            store_file=functools.partial(store_bytes, runtime.settings.attachments_dir),
        )
    for actor, ids in outcome.enqueue.items():
        runtime.send(actor, ids)


async def _reported_and_returned(citizen: Citizen, system: EmbeddedSystem) -> str:
    """A full /lapor with only a first name; the operator returns it for an incomplete identity."""
    await citizen.says("/lapor")
    await citizen.says(COMPLAINT)
    await citizen.says(NIK)
    await citizen.says("Siti")
    await citizen.says(ADDRESS)
    await citizen.says("0812-3456-7890")
    ack = await citizen.says("-")
    ticket = TICKET.search(ack.text).group(0)  # type: ignore[union-attr]
    await wait_db(system, lambda s: s.scalar(select(Complaint).where(Complaint.status == "diverifikasi")))
    before = len(citizen.tg.messages)
    reason = "Mohon kirim nama lengkap sesuai KTP."
    await asyncio.to_thread(
        _act, system, ticket, "return_to_citizen", reason_template="identitas_tidak_lengkap", reason=reason
    )
    returned = await citizen.tg.wait_for_message(chat_id=str(CHAT), after=before)
    assert ticket in returned.text and reason in returned.text
    return ticket


async def test_the_full_name_sent_in_the_chat_completes_the_returned_case(
    chat: tuple[Citizen, EmbeddedSystem, FakeTelegram],
) -> None:
    """Returned for the name; "nama Siti Aminah" in the chat verifies the same ticket, which is then disposed."""
    citizen, system, _tg = chat
    ticket = await _reported_and_returned(citizen, system)
    # When the citizen answers in the chat with the full name
    answer = await citizen.says("nama Siti Aminah")
    # Then the same case is checked again and waits for the operator's disposition, not a new report
    assert ticket in answer.text and "NIK" not in answer.text, answer.text
    case = await wait_db(system, lambda s: s.scalar(select(Complaint).where(Complaint.status == "diverifikasi")))
    assert case.ticket == ticket and case.name == "Siti Aminah" and case.nik == NIK
    await asyncio.to_thread(_act, system, ticket, "dispose", opd="pupr")
    case = await wait_db(system, lambda s: s.scalar(select(Complaint).where(Complaint.status == "disposisi")))
    assert case.ticket == ticket
    assert await wait_db(system, lambda s: s.scalar(select(func.count()).select_from(Complaint))) == 1
    actions = await wait_db(
        system, lambda s: list(s.scalars(select(HistoryEntry.action).where(HistoryEntry.complaint_id == case.id)))
    )
    assert actions[-4:] == ["citizen_follow_up", "verified", "proposed", "dispose"], actions


async def test_after_the_window_the_chat_message_starts_a_new_report(
    chat: tuple[Citizen, EmbeddedSystem, FakeTelegram],
) -> None:
    """Four days after the return, "nama Siti Aminah" begins a new guided report; the old case stays returned."""
    citizen, system, _tg = chat
    ticket = await _reported_and_returned(citizen, system)
    with system.runtime.sf.begin() as session:  # as if it had been returned four days ago
        for entry in session.scalars(select(HistoryEntry)):
            entry.at = entry.at - timedelta(days=4)
    ask = await citizen.says("nama Siti Aminah")
    assert "Nama diterima" in ask.text and ticket not in ask.text, ask.text
    case = await wait_db(system, lambda s: s.scalar(select(Complaint).where(Complaint.ticket == ticket)))
    assert case.status == "dikembalikan_ke_pelapor" and case.name == "Siti"
