"""Manual entry at /ops/baru over real HTTP: phone and newspaper complaints through the normal pipeline."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from complaints.models import Complaint, InboxMessage, Reply
from gateway.console.strings import STRINGS
from normalizer.envelope import ComplaintEnvelope
from tests.gateway.test_console import SCRIPT, Console, console_site, operator
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE
from workers.route import route_batch
from workers.verify import verify_batch

ID = STRINGS["id"]
EN = STRINGS["en"]
MAIL = {"smtp_host": "127.0.0.1", "smtp_port": 2525, "mail_from": "pengaduan@kotabogor.go.id"}
TEXT = "Jalan berlubang di depan sekolah, sudah sebulan tidak diperbaiki."


def _entry(**fields: str) -> dict[str, str]:
    values = {
        "source": "call_centre",
        "nik": NIK,
        "nama": NAME,
        "alamat": ADDRESS,
        "telp": "0812-9876-5432",
        "email": "",
        "subject": "",
        "text": TEXT,
        "answer_by": "phone",
    }
    values.update(fields)
    return values


async def _form_tokens(site: Console) -> tuple[str, str]:
    """The CSRF token and the submission token of a freshly opened form."""
    resp = await site.client.get("/ops/baru")
    page = await resp.text()
    assert resp.status == 200, page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    submission = re.search(r'name="submission_id" value="([^"]+)"', page)
    assert csrf and submission
    return csrf.group(1), submission.group(1)


async def _post(site: Console, fields: dict[str, str], tokens: tuple[str, str] | None = None) -> Any:
    csrf, submission = tokens or await _form_tokens(site)
    data = {"csrf_token": csrf, "submission_id": submission, "lang": "id", **fields}
    return await site.client.post("/ops/baru", data=data)


def _db(site: Console, fn: Any) -> Any:
    with site.runtime.read_sf() as session:
        return fn(session)


def _inbox(site: Console) -> list[InboxMessage]:
    return list(_db(site, lambda s: list(s.scalars(select(InboxMessage)))))


async def _run_workers(site: Console) -> None:
    """The verify and routing stages, run as the workers would."""

    def drain() -> None:
        ids = [m.id for m in _inbox(site) if m.state == "accepted"]
        result = verify_batch(site.runtime, ids)
        if result.follow_ups.get("route_to_opd"):
            route_batch(site.runtime, result.follow_ups["route_to_opd"])

    await asyncio.to_thread(drain)


def _case(site: Console, ticket: str) -> Complaint:
    case = _db(site, lambda s: s.scalar(select(Complaint).where(Complaint.ticket == ticket)))
    assert case is not None
    return case  # type: ignore[no-any-return]


def _ticket(page: str) -> str:
    match = re.search(r'href="/ops/kasus/(BGR-[0-9A-Z]+)"', page)
    assert match, page
    return match.group(1)


@pytest.mark.asyncio
async def test_a_phone_complaint_answered_by_phone_becomes_a_routed_case(tmp_path: Path) -> None:
    """Call centre + answer by phone: an inbox row, the envelope, then a case on channel call_centre."""
    async with console_site(tmp_path) as site:
        user = operator(site)
        await site.login()
        form = await (await site.client.get("/ops/")).text()
        assert 'href="/ops/baru"' in form  # the menu links to it
        resp = await _post(site, _entry(subject="Jalan rusak"))
        page = await resp.text()
        assert resp.status == 200, page
        ticket = _ticket(page)
        assert ID["manual_done_title"] in page and ticket in page
        for secret in (NIK, NAME, ADDRESS):
            assert secret not in page

        (row,) = _inbox(site)
        assert (row.channel, row.provider, row.kind, row.ticket) == ("call_centre", "manual", "complaint", ticket)
        envelope = ComplaintEnvelope.from_dict(row.envelope)
        assert envelope.reply_route.channel == "phone" and envelope.reply_route.address == PHONE
        assert envelope.identity.nik == NIK and envelope.text == TEXT

        await _run_workers(site)
        case = _case(site, ticket)
        assert (case.channel, case.reply_channel, case.reply_address) == ("call_centre", "phone", PHONE)
        assert case.status in ("disposisi", "diverifikasi") and case.opd_code == "pupr"
        assert case.identity_problems is None
        assert case.source_details == {"source": "call_centre", "entered_by": user.user.id}


@pytest.mark.asyncio
async def test_a_newspaper_complaint_answered_by_email_keeps_the_paper_and_who_entered_it(tmp_path: Path) -> None:
    """Newspaper + answer by e-mail: the case has channel newspaper, the paper's name and date, an e-mail reply."""
    async with console_site(tmp_path, **MAIL) as site:
        user = operator(site)
        await site.login()
        published = (date.today() - timedelta(days=2)).isoformat()
        fields = _entry(
            source="newspaper", newspaper_name="Radar Bogor", newspaper_date=published, email=EMAIL, answer_by="email"
        )
        resp = await _post(site, fields)
        assert resp.status == 200, await resp.text()
        ticket = _ticket(await resp.text())
        (row,) = _inbox(site)
        assert row.channel == "newspaper"

        await _run_workers(site)
        case = _case(site, ticket)
        assert (case.channel, case.reply_channel, case.reply_provider) == ("newspaper", "email", "email")
        assert case.reply_address == EMAIL
        assert case.source_details == {
            "source": "newspaper",
            "newspaper_name": "Radar Bogor",
            "newspaper_date": published,
            "entered_by": user.user.id,
        }
        replies = _db(site, lambda s: list(s.scalars(select(Reply).where(Reply.complaint_id == case.id))))
        assert replies and all(r.channel == "email" and r.address == EMAIL for r in replies)


@pytest.mark.asyncio
async def test_an_invalid_entry_is_shown_again_with_every_value_and_each_reason(tmp_path: Path) -> None:
    """422: wrong NIK, a future newspaper date, no text and e-mail answer without an address; nothing stored."""
    async with console_site(tmp_path, **MAIL) as site:
        operator(site)
        await site.login()
        tomorrow = (date.today() + timedelta(days=2)).isoformat()
        fields = _entry(
            source="newspaper",
            newspaper_name="Pakuan " + SCRIPT,
            newspaper_date=tomorrow,
            nik="12345",
            text="",
            subject="Banjir",
            answer_by="email",
        )
        resp = await _post(site, fields)
        page = await resp.text()
        assert resp.status == 422
        for key in (
            "manual_err_nik_format",
            "manual_err_newspaper_date_future",
            "manual_err_text_missing",
            "manual_err_email_missing",
        ):
            assert ID[key] in page, key
        assert 'value="12345"' in page and 'value="Banjir"' in page and f'value="{tomorrow}"' in page
        assert f'value="{NAME}"' in page and ADDRESS in page and 'value="0812-9876-5432"' in page
        assert 'value="newspaper" checked' in page and 'value="email" checked' in page
        assert "Pakuan &lt;script&gt;" in page and SCRIPT not in page
        assert _inbox(site) == []

        resp = await _post(site, _entry(source="newspaper", newspaper_name="", newspaper_date="kemarin"))
        page = await resp.text()
        assert resp.status == 422
        assert ID["manual_err_newspaper_name_missing"] in page and ID["manual_err_newspaper_date_invalid"] in page
        assert _inbox(site) == []


@pytest.mark.asyncio
async def test_answer_ways_that_are_not_configured_are_refused(tmp_path: Path) -> None:
    """Without an SMS provider or e-mail settings, "answer by SMS/e-mail" is a 422 saying so."""
    async with console_site(tmp_path) as site:
        operator(site)
        await site.login()
        form = await (await site.client.get("/ops/baru")).text()
        assert 'value="phone" checked' in form and 'value="sms" checked' not in form  # the default that works
        resp = await _post(site, _entry(answer_by="sms"))
        assert resp.status == 422 and ID["manual_err_answer_by_no_sms"] in await resp.text()
        resp = await _post(site, _entry(answer_by="email", email=EMAIL))
        page = await resp.text()
        assert resp.status == 422 and ID["manual_err_answer_by_no_email"] in page
        assert f'value="{EMAIL}"' in page
        resp = await _post(site, _entry(answer_by="phone", telp="12"))
        assert resp.status == 422 and ID["manual_err_telp_invalid"] in await resp.text()
        assert _inbox(site) == []


@pytest.mark.asyncio
async def test_a_double_submit_makes_one_case(tmp_path: Path) -> None:
    """The same form sent twice (same submission token) stores one complaint and shows the same ticket."""
    async with console_site(tmp_path) as site:
        operator(site)
        await site.login()
        tokens = await _form_tokens(site)
        first = await _post(site, _entry(), tokens)
        second = await _post(site, _entry(), tokens)
        assert first.status == second.status == 200
        second_page = await second.text()
        assert _ticket(await first.text()) == _ticket(second_page)
        assert ID["manual_done_duplicate"] in second_page
        assert len(_inbox(site)) == 1
        await _run_workers(site)
        assert _db(site, lambda s: len(list(s.scalars(select(Complaint))))) == 1


@pytest.mark.asyncio
async def test_opd_users_may_not_enter_complaints(tmp_path: Path) -> None:
    """An OPD user gets 403 on the form and on a post, and no menu link."""
    async with console_site(tmp_path) as site:
        operator(site, role="opd", opd_code="dlh")
        await site.login()
        resp = await site.client.get("/ops/baru")
        assert resp.status == 403 and ID["manual_forbidden_body"] in await resp.text()
        csrf = await site.csrf("/ops/")
        resp = await site.client.post("/ops/baru", data={"csrf_token": csrf, **_entry()})
        assert resp.status == 403
        assert _inbox(site) == []
        assert 'href="/ops/baru"' not in await (await site.client.get("/ops/")).text()


@pytest.mark.asyncio
async def test_the_form_reads_in_english(tmp_path: Path) -> None:
    """?lang=en: the labels, the sources and the answer ways in English."""
    async with console_site(tmp_path) as site:
        operator(site, role="admin")
        await site.login()
        page = await (await site.client.get("/ops/baru?lang=en")).text()
        for key in ("manual_title", "manual_label_newspaper_name", "channel_newspaper", "manual_answer_phone"):
            assert EN[key] in page, key
