"""The citizen's view of the answer over real HTTP: /lacak/<ticket> and GET /api/v1/complaints/{ticket}."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from complaints.models import HistoryEntry
from gateway.pages.strings import STRINGS
from normalizer.envelope import utcnow
from normalizer.tickets import new_ticket
from tests.gateway.test_console import SCRIPT, Console, console_site
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case

ID = STRINGS["id"]
EN = STRINGS["en"]
STEPS = (
    "diterima",
    "diverifikasi",
    "disposisi",
    "dianalisa",
    "ditindaklanjuti",
    "dijawab",
    "diterima_operator",
    "selesai",
)
ANSWER = "Jalan di depan sekolah sudah ditambal pada 3 Desember. Terima kasih atas laporan Anda."


def _closed_case(
    site: Console, *, public: bool, answer: str = ANSWER, status: str = "selesai", **fields: object
) -> str:
    """A case that went through every SOP step up to ``status``, answered with ``answer``."""
    ticket = new_ticket()
    with site.runtime.sf.begin() as session:
        case = seed_case(
            session,
            ticket,
            status,
            opd_code="pupr",
            deadline_in=None,
            answer_text=answer,
            answer_public=public,
            **fields,  # type: ignore[arg-type]
        )
        start = utcnow() - timedelta(days=2)
        previous = None
        for n, step in enumerate(STEPS[: STEPS.index(status) + 1]):
            session.add(
                HistoryEntry(
                    complaint_id=case.id,
                    at=start + timedelta(hours=n),
                    actor="operator:1",
                    action="moved",
                    from_status=previous,
                    to_status=step,
                )
            )
            previous = step
        # An internal event (a staff note) is history too, but not the public's: never listed.
        session.add(
            HistoryEntry(
                complaint_id=case.id,
                at=start + timedelta(hours=20),
                actor="staff:1",
                action="internal_note",
                from_status=previous,
                to_status=previous,
            )
        )
    return ticket


def _no_personal_data(body: str) -> None:
    for secret in (NIK, NAME, PHONE, EMAIL, ADDRESS, "6281298765432", "0812-9876 5432"):
        assert secret not in body, secret


@pytest.mark.asyncio
async def test_a_published_answer_is_shown_with_every_step(tmp_path: Path) -> None:
    """Closed and published: /lacak shows each SOP step's label and the answer; the API returns its text."""
    async with console_site(tmp_path) as site:
        ticket = _closed_case(site, public=True)
        resp = await site.client.get(f"/lacak/{ticket}")
        page = await resp.text()
        assert resp.status == 200
        assert f"<h2>{ID['answer_heading']}</h2>" in page and ANSWER in page
        sop = site.runtime.config.sop
        for step in STEPS:
            assert sop.label(step, "id") in page, step
        _no_personal_data(page)

        resp = await site.client.get(f"/api/v1/complaints/{ticket}")
        data = await resp.json()
        assert resp.status == 200
        assert data["status"] == "selesai"
        assert data["answer"] == {"published": True, "text": ANSWER, "sent_on": "sms"}
        assert [h["status"] for h in data["history"]] == list(STEPS)
        _no_personal_data(await resp.text())


@pytest.mark.asyncio
async def test_an_unpublished_answer_says_where_it_was_sent(tmp_path: Path) -> None:
    """Closed, not published: no answer text anywhere public; the page says it was sent by SMS."""
    async with console_site(tmp_path) as site:
        ticket = _closed_case(site, public=False)
        page = await (await site.client.get(f"/lacak/{ticket}")).text()
        assert ANSWER not in page
        assert ID["answer_sent_on"].format(channel=ID["channel_sms"]) in page
        page = await (await site.client.get(f"/lacak/{ticket}?lang=en")).text()
        assert EN["answer_sent_on"].format(channel=EN["channel_sms"]) in page
        data = await (await site.client.get(f"/api/v1/complaints/{ticket}")).json()
        assert data["answer"] == {"published": False, "text": None, "sent_on": "sms"}


@pytest.mark.asyncio
async def test_no_answer_before_the_case_is_closed_even_if_marked_public(tmp_path: Path) -> None:
    """A case waiting for moderation shows its step in citizen words, and no answer yet."""
    async with console_site(tmp_path) as site:
        ticket = _closed_case(site, public=True, status="diterima_operator")
        page = await (await site.client.get(f"/lacak/{ticket}")).text()
        assert ANSWER not in page and 'id="answer"' not in page
        assert ID["note_diterima_operator"] in page
        data = await (await site.client.get(f"/api/v1/complaints/{ticket}")).json()
        assert data["answer"] is None


@pytest.mark.asyncio
async def test_personal_data_in_a_published_answer_is_masked_and_the_text_escaped(tmp_path: Path) -> None:
    """An answer that quotes the reporter's name, NIK, phone or e-mail is published without them."""
    async with console_site(tmp_path) as site:
        answer = (
            f"Bapak {NAME} (NIK {NIK}, {PHONE}, 0812-9876 5432, {EMAIL}) di {ADDRESS}: jalan sudah diperbaiki. {SCRIPT}"
        )
        ticket = _closed_case(site, public=True, answer=answer)
        page = await (await site.client.get(f"/lacak/{ticket}")).text()
        assert "jalan sudah diperbaiki" in page
        _no_personal_data(page)
        assert SCRIPT not in page and "&lt;script&gt;" in page
        data = await (await site.client.get(f"/api/v1/complaints/{ticket}")).json()
        assert "jalan sudah diperbaiki" in data["answer"]["text"]
        _no_personal_data(data["answer"]["text"])


@pytest.mark.asyncio
async def test_a_confidential_case_never_shows_its_answer_even_when_published(tmp_path: Path) -> None:
    """Rahasia (issue 14): a published answer stays off /lacak and the public API; only where it was sent shows."""
    async with console_site(tmp_path) as site:
        ticket = _closed_case(site, public=True, rahasia=True)
        resp = await site.client.get(f"/lacak/{ticket}")
        page = await resp.text()
        assert resp.status == 200 and ANSWER not in page and "berlubang" not in page
        assert ID["answer_sent_on"].format(channel=ID["channel_sms"]) in page
        _no_personal_data(page)
        data = await (await site.client.get(f"/api/v1/complaints/{ticket}")).json()
        assert data["answer"] == {"published": False, "text": None, "sent_on": "sms"}
