"""Text no database can store (a lone UTF-16 surrogate, NUL) is cleaned at the edge (issue 12).

An attacker's signed Android-gateway SMS carrying "\\ud83d" was answered 200 and then failed in the
worker on every attempt: the citizen never heard back. Through the running system (web + workers),
on SQLite + in-process queue and on PostgreSQL + Redis, each channel's message is stored with the
bad characters replaced (U+FFFD) or dropped (NUL), and the citizen gets the acknowledgement.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from channels.telegram import SECRET_HEADER
from complaints.models import Complaint, InboxMessage
from gateway.embedded import start_system
from tests.conftest import base_settings
from tests.support.fake_android_gateway import FakeAndroidGateway
from tests.support.fake_telegram import FakeTelegram
from tests.support.kannel import KannelHarness, running_kannel
from tests.support.system import SystemThread, free_port, running_system, wait_db

NIK = "3271014505900002"
PHONE = "+6281234567890"
LONE = "\ud83d"  # the first half of an emoji, alone
ANDROID_KEY = "android-signing-key-unstorable"
FIXTURES = Path(__file__).parent.parent / "channels"
TELEGRAM_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
TELEGRAM_SECRET = "unstorable_webhook-secret"


def _unfinished(session: Any) -> list[str]:
    return list(session.scalars(select(InboxMessage.state).where(InboxMessage.state != "done")))


@pytest.fixture
async def android(tmp_path: Path, backend: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The whole system with the SMS Gateway for Android app's webhook signed and its send API faked."""
    async with FakeAndroidGateway("user", "pass") as phone_app:
        settings = base_settings(
            tmp_path,
            android_sms_gateway_url=phone_app.url,
            android_sms_gateway_username="user",
            android_sms_gateway_password="pass",
            android_sms_gateway_signing_key=ANDROID_KEY,
            **backend,
        )
        system = await start_system(settings)
        async with aiohttp.ClientSession() as http:
            yield {"system": system, "url": system.urls[0], "http": http, "app": phone_app}
        await system.stop()


async def test_android_sms_with_a_lone_surrogate_is_stored_and_acknowledged(android: dict[str, Any]) -> None:
    """A signed SMS whose text holds a lone surrogate (and a NUL) becomes a case; the citizen gets the ticket."""
    event = json.loads((FIXTURES / "android_sms" / "fixtures" / "sms_received.json").read_text())
    event["payload"]["message"] = f"LAPOR#{NIK}#Siti\x00 Aminah#Jl. Pajajaran 5#Lampu PJU mati {LONE} sejak seminggu"
    event["payload"]["phoneNumber"] = PHONE
    # json.dumps writes the lone surrogate as the escape "\ud83d", exactly as the attacker sent it.
    body = json.dumps(event).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(ANDROID_KEY.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    headers = {"X-Signature": signature, "X-Timestamp": stamp, "Content-Type": "application/json"}
    async with android["http"].post(android["url"] + "/channels/sms/android", headers=headers, data=body) as resp:
        assert resp.status == 200, await resp.text()
    phone_app: FakeAndroidGateway = android["app"]
    await wait_db(android["system"], lambda s: len(phone_app.requests) >= 1, timeout=30)
    assert "BGR-" in phone_app.requests[0].json["textMessage"]["text"]
    case = await wait_db(android["system"], lambda s: s.scalar(select(Complaint)))
    assert case.text == "Lampu PJU mati \ufffd sejak seminggu"
    assert case.name == "Siti Aminah"
    assert await wait_db(android["system"], lambda s: not _unfinished(s))


@pytest.fixture
async def telegram(tmp_path: Path, backend: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The whole system with Telegram's webhook on and the Bot API faked."""
    async with FakeTelegram(TELEGRAM_TOKEN) as tg:
        settings = base_settings(
            tmp_path,
            telegram_bot_token=TELEGRAM_TOKEN,
            telegram_webhook_secret=TELEGRAM_SECRET,
            telegram_api_base=tg.url,
            **backend,
        )
        system = await start_system(settings)
        async with aiohttp.ClientSession() as http:
            yield {"system": system, "url": system.urls[0], "http": http, "tg": tg}
        await system.stop()


async def test_telegram_message_with_a_lone_surrogate_is_stored_and_answered(telegram: dict[str, Any]) -> None:
    """A Telegram update whose text and name hold lone surrogates is answered in the chat and stored cleaned."""
    chat = 2222222
    user = {"id": chat, "is_bot": False, "first_name": f"Siti{LONE}", "language_code": "id"}
    update = {
        "update_id": 41001,
        "message": {
            "message_id": 7,
            "from": user,
            "chat": {"id": chat, "first_name": f"Siti{LONE}", "type": "private"},
            "date": int(time.time()),
            "text": f"NIK: {NIK}, Nama: Siti Aminah\nIsi: sampah {LONE} menumpuk di TPS pasar",
        },
    }
    headers = {"Content-Type": "application/json", SECRET_HEADER: TELEGRAM_SECRET}
    async with telegram["http"].post(
        telegram["url"] + "/channels/telegram", data=json.dumps(update).encode(), headers=headers
    ) as resp:
        assert resp.status == 200, await resp.text()
    tg: FakeTelegram = telegram["tg"]
    answer = await tg.wait_for_message(chat_id=str(chat), after=0)
    assert "Isi pengaduan diterima" in answer.text, answer.text
    assert await wait_db(telegram["system"], lambda s: not _unfinished(s))


@pytest.fixture
def kannel_system(tmp_path: Path, backend: dict[str, Any]) -> Iterator[tuple[KannelHarness, SystemThread]]:
    """A real Kannel wired to a running gateway (web + workers)."""
    port, token = free_port(), "kannel-unstorable-token"
    get_url = (
        f"http://127.0.0.1:{port}/channels/sms/kannel?token={token}"
        "&from=%p&to=%P&text=%b&id=%I&ts=%T&smsc=%i&coding=%c&charset=%C"
    )
    with running_kannel(tmp_path / "kannel", get_url) as kannel:
        settings = base_settings(
            tmp_path,
            port=port,
            public_base_url=f"http://127.0.0.1:{port}",
            kannel_sendsms_url=kannel.sendsms_url,
            kannel_username=kannel.username,
            kannel_password=kannel.password,
            kannel_from="1708",
            kannel_inbound_token=token,
            **backend,
        )
        with running_system(settings) as system:
            yield kannel, system


def test_kannel_ucs2_sms_with_a_lone_surrogate_and_nul_is_acknowledged(
    kannel_system: tuple[KannelHarness, SystemThread],
) -> None:
    """A UCS-2 SMS carrying a lone surrogate and NUL through real Kannel gets its ticket by SMS."""
    kannel, system = kannel_system
    kannel.inject(PHONE, "1708", f"LAPOR#{NIK}#Siti\x00 Aminah#Jl. Pajajaran 5#Jalan {LONE} rusak parah", coding="ucs2")
    sms = kannel.wait_for_mt(PHONE, timeout=30)
    assert "BGR-" in sms.text, sms.text
    case = system.wait_for(lambda s: s.scalar(select(Complaint)))
    assert "\x00" not in (case.name or "") and case.text == "Jalan \ufffd rusak parah"
    system.wait_for(lambda s: not _unfinished(s))
