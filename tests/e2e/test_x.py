"""End to end through X: mentions and DMs polled from a fake X API by the running system, public
ticket-only replies and private DMs back, the Account Activity webhook, duplicates and rate limits.

The main flow runs on both ways to run the system: SQLite + in-process queue, and PostgreSQL + Redis.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from complaints.models import Complaint, InboxMessage, Reply
from tests.conftest import base_settings
from tests.support.fake_x import FakeX, XCredentials
from tests.support.system import SystemThread, free_port, running_system

CREDS = XCredentials()
NIK = "3271014505900002"  # valid Kota Bogor NIK (district 32.71.01, woman born 05-05-1990)
PHONE = "081234567890"
PERSONAL = [NIK, "Siti", "Aminah", "Pajajaran", PHONE, "0812", "Sudirman"]
TICKET = re.compile(r"BGR-[2-9A-HJ-NP-Z]{7}")
CITIZEN, HANDLE = "1111000001", "warga_bogor"
FIXTURES = Path(__file__).parent.parent / "channels" / "x" / "fixtures"


def start(tmp_path: Path, backend: dict[str, Any], fake: FakeX) -> Any:
    """The whole system (web + workers + pollers) with X pointed at the fake, webhook on."""
    port = free_port()
    settings = base_settings(
        tmp_path,
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        x_api_base=fake.url,
        x_poll_seconds=0.2,
        x_webhook_enabled=True,
        send_timeout_seconds=5.0,
        **CREDS.settings(),
        **backend,
    )
    return running_system(settings)


@pytest.fixture
def x_system(tmp_path: Path, backend: dict[str, Any]) -> Iterator[tuple[FakeX, SystemThread]]:
    """A running system on both backends, polling a fake X."""
    with FakeX(CREDS) as fake, start(tmp_path, backend, fake) as system:
        yield fake, system


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    """A fake X on its own, for tests that prepare it before the system starts."""
    with FakeX(CREDS) as fake:
        yield fake


def wait_until(condition: Any, timeout: float = 20.0) -> Any:
    """Poll ``condition()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def dms_to(fake: FakeX, user_id: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait for ``count`` DMs to ``user_id``; return all DMs sent to them."""
    return wait_until(
        lambda: (sent := [d for d in fake.dms_sent if d["participant_id"] == user_id]) and len(sent) >= count and sent
    )


def count(system: SystemThread, model: Any) -> int:
    return int(system.db(lambda s: s.scalar(select(func.count()).select_from(model))) or 0)


def assert_nothing_personal(text: str) -> None:
    leaked = [word for word in PERSONAL if word in text]
    assert not leaked, f"public reply leaks {leaked}: {text!r}"


def test_mention_without_identity_gets_a_dm_then_complete_mention_gets_public_ticket_and_dm(
    x_system: tuple[FakeX, SystemThread],
) -> None:
    """A mention without identity gets a public ticket-and-link reply and the request by DM; a complete one
    gets a ticket-only post and a DM."""
    fake, system = x_system
    # Given a mention that carries no identity
    first = fake.add_mention("@KotaBogor jalan berlubang di Jl. Sudirman", author_id=CITIZEN, username=HANDLE)
    # Then the request for identity arrives by DM
    [ask] = dms_to(fake, CITIZEN)
    # The request goes by DM and asks for the fields in the DM, never for a public LAPOR# mention.
    assert "NIK" in ask["text"] and "LAPOR#" not in ask["text"] and "DM" in ask["text"]
    # And in public, in the mention's thread, only the ticket, a fixed phrase and the tracking link
    [notice] = wait_until(lambda: fake.posts)
    first_ticket = TICKET.search(ask["text"]).group()  # type: ignore[union-attr]
    assert notice["in_reply_to_tweet_id"] == first
    assert notice["text"].startswith(f"Tiket {first_ticket}: kami kirim DM; lacak di ")
    assert notice["text"].endswith(f"/lacak/{first_ticket}")
    assert_nothing_personal(notice["text"])
    # When the citizen mentions the city again with a complete identity
    second = fake.add_mention(
        f"@KotaBogor NIK: {NIK}, Nama: Siti Aminah, Alamat: Jl. Pajajaran 5, Telp: {PHONE}\n"
        "Isi: jalan berlubang di Jl. Sudirman",
        author_id=CITIZEN,
        username=HANDLE,
    )
    # Then the city replies in that post's thread with the ticket and a short status only
    _, public = wait_until(lambda: fake.posts if len(fake.posts) == 2 else None)
    assert public["in_reply_to_tweet_id"] == second != first
    ticket = TICKET.search(public["text"])
    assert ticket, public["text"]
    assert public["text"] == f"Laporan Anda diterima, tiket {ticket.group()}. Detail lewat DM."
    assert_nothing_personal(public["text"])
    # And the full acknowledgement follows by DM
    _, ack = dms_to(fake, CITIZEN, 2)
    assert ticket.group() in ack["text"] and f"CEK {ticket.group()}" in ack["text"]
    # And the case is the second mention's, verified and routed; its ack row records the DM
    case = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.ticket == ticket.group())))
    assert case.reply_channel == "x" and case.reply_thread_ref == second and case.nik == NIK
    row = system.wait_for(
        lambda s: s.scalar(
            select(Reply).where(Reply.complaint_id == case.id, Reply.kind == "ack", Reply.status == "sent")
        )
    )
    assert row.provider_message_id == ack["dm_event_id"]
    assert len(fake.posts) == 2


def test_lapor_mention_is_completed_privately_by_dm(fake_x: FakeX, tmp_path: Path) -> None:
    """A LAPOR# mention without a phone is asked for it by DM; a DM quoting the ticket completes the case privately."""
    fake = fake_x
    with start(tmp_path, {}, fake) as system:
        # Given the structured mention (LAPOR#NIK#Nama#Alamat#Isi has no place for a phone number)
        lapor = f"@KotaBogor LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran 5#jalan berlubang di Jl. Sudirman"
        mention = fake.add_mention(lapor, author_id=CITIZEN, username=HANDLE)
        # Then the missing phone is asked for by DM, and the public reply says only that a DM was sent
        [ask] = dms_to(fake, CITIZEN)
        assert "No. Telp" in ask["text"]
        ticket = TICKET.search(ask["text"]).group()  # type: ignore[union-attr]
        [notice] = wait_until(lambda: fake.posts)
        assert notice["in_reply_to_tweet_id"] == mention and "kami kirim DM" in notice["text"]
        assert_nothing_personal(notice["text"])
        # When the citizen answers privately, quoting the ticket
        fake.add_dm(f"{ticket}\nTelp: {PHONE}", sender_id=CITIZEN, username=HANDLE)
        # Then the same case is verified: ticket-only public reply under the original mention, ack by DM
        _, public = wait_until(lambda: fake.posts if len(fake.posts) == 2 else None)
        assert public["in_reply_to_tweet_id"] == mention
        assert public["text"] == f"Laporan Anda diterima, tiket {ticket}. Detail lewat DM."
        _, ack = dms_to(fake, CITIZEN, 2)
        assert ticket in ack["text"]
        assert count(system, Complaint) == 1
        case = system.db(lambda s: s.scalar(select(Complaint)))
        assert case.phone == "+6281234567890" and case.identity_problems is None


def test_dm_complaint_missing_identity_is_answered_only_by_dm(fake_x: FakeX, tmp_path: Path) -> None:
    """A complaint sent by DM without identity gets the identity request by DM and no public post."""
    fake = fake_x
    with start(tmp_path, {}, fake) as system:
        fake.add_dm("Sampah menumpuk di TPS dekat Pasar Bogor", sender_id=CITIZEN, username=HANDLE)
        [ask] = dms_to(fake, CITIZEN)
        assert "NIK" in ask["text"] and TICKET.search(ask["text"])
        system.wait_for(lambda s: s.scalar(select(Reply).where(Reply.status == "sent")))
        time.sleep(0.5)
        assert fake.posts == []
        assert count(system, Complaint) == 1


def signed_post(url: str, body: bytes) -> requests.Response:
    """POST an Account Activity body signed as X signs it (computed here, not by the adapter)."""
    signature = (
        "sha256=" + base64.b64encode(hmac.new(CREDS.consumer_secret.encode(), body, hashlib.sha256).digest()).decode()
    )
    return requests.post(
        url,
        data=body,
        timeout=10,
        headers={"Content-Type": "application/json", "X-Twitter-Webhooks-Signature": signature},
    )


def test_overlapping_polls_and_webhook_make_one_complaint(fake_x: FakeX, tmp_path: Path) -> None:
    """The same mention served by every poll and delivered by the webhook too makes one complaint and one reply."""
    fake = fake_x
    fake.ignore_since_id = True  # every poll serves the mention again, as overlapping pollers would
    tweet = fake.add_mention(
        f"@KotaBogor NIK: {NIK}, Nama: Siti Aminah, Alamat: Jl. Pajajaran 5, Telp: {PHONE}\nIsi: lampu PJU mati",
        author_id=CITIZEN,
        username=HANDLE,
    )
    with start(tmp_path, {}, fake) as system:
        wait_until(lambda: fake.posts)
        # The Account Activity webhook delivers the same post (same id) as well
        payload = json.loads((FIXTURES / "aaa_tweet_create_events_mention.json").read_bytes())
        event = payload["tweet_create_events"][0]
        event["id"], event["id_str"] = int(tweet), tweet
        event["user"].update(id=int(CITIZEN), id_str=CITIZEN, screen_name=HANDLE)
        response = signed_post(system.url + "/channels/x", json.dumps(payload).encode())
        assert response.status_code == 200 and response.content == b""
        served = len(fake.served("mentions"))
        wait_until(lambda: len(fake.served("mentions")) >= served + 5)
        time.sleep(0.5)
        assert count(system, InboxMessage) == 1 and count(system, Complaint) == 1
        assert len(fake.posts) == 1 and len(dms_to(fake, CITIZEN)) == 1


def test_webhook_answers_crc_and_refuses_bad_signatures(fake_x: FakeX, tmp_path: Path) -> None:
    """/channels/x answers X's CRC with the HMAC token and refuses unsigned or mis-signed POSTs, storing nothing."""
    with start(tmp_path, {}, fake_x) as system:
        url = system.url + "/channels/x"
        token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
        answer = requests.get(url, params={"crc_token": token}, timeout=10)
        expected = (
            "sha256="
            + base64.b64encode(
                hmac.new(CREDS.consumer_secret.encode(), token.encode(), hashlib.sha256).digest()
            ).decode()
        )
        assert answer.status_code == 200 and answer.json() == {"response_token": expected}
        assert requests.get(url, timeout=10).status_code == 400
        body = (FIXTURES / "aaa_tweet_create_events_mention.json").read_bytes()
        unsigned = requests.post(url, data=body, timeout=10, headers={"Content-Type": "application/json"})
        forged = requests.post(url, data=body, timeout=10, headers={"X-Twitter-Webhooks-Signature": "sha256=AAAA"})
        assert (unsigned.status_code, forged.status_code) == (401, 401)
        assert "signature" in forged.text.lower()
        time.sleep(0.3)
        assert count(system, InboxMessage) == 0


def test_rate_limited_mentions_are_waited_out(fake_x: FakeX, tmp_path: Path) -> None:
    """A 429 on the mentions timeline is waited out until x-rate-limit-reset, then the mention is answered."""
    fake = fake_x
    reset = fake.rate_limit_next("mentions", reset_in=2.0)
    fake.add_mention(
        f"@KotaBogor NIK: {NIK}, Nama: Siti Aminah, Alamat: Jl. Pajajaran 5, Telp: {PHONE}\nIsi: got mampet",
        author_id=CITIZEN,
        username=HANDLE,
    )
    with start(tmp_path, {}, fake) as system:
        wait_until(lambda: fake.posts)
        first, second = fake.served("mentions")[:2]
        assert first.status == 429 and second.status == 200
        assert second.at >= reset
        assert count(system, Complaint) == 1
        # and polling goes on afterwards
        served = len(fake.served("mentions"))
        wait_until(lambda: len(fake.served("mentions")) > served + 2)
