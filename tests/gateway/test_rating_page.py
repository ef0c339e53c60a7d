"""Issue 14: the citizen rates a delivered answer on /lacak/<ticket>, over real HTTP.

The same path as an SMS ``PUAS`` / ``TIDAK PUAS <alasan>``: a ``case_ratings`` row, and a TIDAK PUAS
with a reason reopens the case to its OPD.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from complaints.models import CaseRating, Complaint
from gateway.pages.strings import STRINGS
from normalizer.envelope import utcnow
from normalizer.tickets import new_ticket
from tests.gateway.test_console import Console, console_site
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case

ID = STRINGS["id"]


def _answered(site: Console, *, closed_ago: timedelta = timedelta(hours=3), status: str = "selesai") -> str:
    """A PUPR case whose answer was delivered ``closed_ago``."""
    ticket = new_ticket()
    with site.runtime.sf.begin() as session:
        seed_case(
            session,
            ticket,
            status,
            opd_code="pupr",
            deadline_in=None,
            answer_text="Lubang sudah ditambal.",
            closed_at=utcnow() - closed_ago if status == "selesai" else None,
        )
    return ticket


async def _form_token(site: Console, ticket: str) -> str:
    """Open the tracking page; the rating form's token (the page must offer the form)."""
    resp = await site.client.get(f"/lacak/{ticket}")
    page = await resp.text()
    assert resp.status == 200
    assert f'action="/lacak/{ticket}/nilai"' in page and ID["rating_puas"] in page and ID["rating_tidak_puas"] in page
    for secret in (NIK, NAME, PHONE, EMAIL, ADDRESS):
        assert secret not in page
    found = re.search(r'id="rating".*?name="csrf_token" value="([^"]+)"', page, re.DOTALL)
    assert found
    return found.group(1)


def _rate(site: Console, ticket: str, token: str, choice: str, reason: str = "", **headers: str):  # type: ignore[no-untyped-def]
    return site.client.post(
        f"/lacak/{ticket}/nilai",
        data={"csrf_token": token, "lang": "id", "nilai": choice, "alasan": reason},
        headers=headers,
        allow_redirects=False,
    )


def _case(site: Console, ticket: str) -> tuple[Complaint, list[CaseRating]]:
    with site.runtime.read_sf() as session:
        case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        ratings = list(session.scalars(select(CaseRating).where(CaseRating.complaint_id == case.id)))
        session.expunge_all()
        return case, ratings


@pytest.mark.asyncio
async def test_puas_on_the_tracking_page_is_recorded_once(tmp_path: Path) -> None:
    """PUAS is a rating row via web; the page thanks the citizen and offers no second rating."""
    async with console_site(tmp_path) as site:
        ticket = _answered(site)
        token = await _form_token(site, ticket)
        resp = await _rate(site, ticket, token, "puas")
        assert resp.status == 303 and resp.headers["Location"] == f"/lacak/{ticket}?dinilai=recorded"
        case, ratings = _case(site, ticket)
        assert [(r.satisfied, r.via, r.outcome, r.opd_code) for r in ratings] == [(True, "web", "recorded", "pupr")]
        assert case.status == "selesai" and case.reopen_count == 0

        page = await (await site.client.get(resp.headers["Location"])).text()
        assert ID["rating_done_recorded"] in page and 'id="rating"' not in page

        again = await _rate(site, ticket, token, "tidak_puas", "Masih berlubang")
        assert again.status == 409 and ID["rating_closed_body"] in await again.text()
        case, ratings = _case(site, ticket)
        assert len(ratings) == 1 and case.status == "selesai"


@pytest.mark.asyncio
async def test_tidak_puas_with_a_reason_reopens_the_case_to_its_opd(tmp_path: Path) -> None:
    """TIDAK PUAS with a reason: back to the OPD's follow-up, reopen count 1, the page says so."""
    async with console_site(tmp_path) as site:
        ticket = _answered(site)
        token = await _form_token(site, ticket)
        resp = await _rate(site, ticket, token, "tidak_puas", "Lubangnya   masih ada di depan sekolah")
        assert resp.status == 303 and resp.headers["Location"].endswith("?dinilai=reopened")
        case, ratings = _case(site, ticket)
        assert [(r.satisfied, r.reason, r.outcome) for r in ratings] == [
            (False, "Lubangnya masih ada di depan sekolah", "reopened")
        ]
        assert case.status == "ditindaklanjuti" and case.opd_code == "pupr" and case.reopen_count == 1
        assert case.attention == "reopened"
        page = await (await site.client.get(resp.headers["Location"])).text()
        assert ID["rating_done_reopened"] in page and 'id="rating"' not in page
        assert site.runtime.config.sop.label("ditindaklanjuti", "id") in page


@pytest.mark.asyncio
async def test_tidak_puas_without_a_reason_is_recorded_without_reopening(tmp_path: Path) -> None:
    async with console_site(tmp_path) as site:
        ticket = _answered(site)
        resp = await _rate(site, ticket, await _form_token(site, ticket), "tidak_puas", "   ")
        assert resp.status == 303
        case, ratings = _case(site, ticket)
        assert [(r.satisfied, r.reason, r.outcome) for r in ratings] == [(False, None, "recorded")]
        assert case.status == "selesai" and case.reopen_count == 0


@pytest.mark.asyncio
async def test_forged_cross_site_or_odd_posts_record_nothing(tmp_path: Path) -> None:
    """No token, another site's post, or a choice that is not PUAS / TIDAK PUAS: refused, no rating."""
    async with console_site(tmp_path) as site:
        ticket = _answered(site)
        token = await _form_token(site, ticket)
        assert (await _rate(site, ticket, "x" * 43, "puas")).status == 403
        assert (await _rate(site, ticket, token, "puas", **{"Sec-Fetch-Site": "cross-site"})).status == 403
        assert (await _rate(site, ticket, token, "sangat_puas")).status == 400
        assert (await _rate(site, "BGR-2345678", token, "puas")).status == 409
        _, ratings = _case(site, ticket)
        assert ratings == []


@pytest.mark.asyncio
async def test_no_rating_form_before_the_answer_or_after_the_period(tmp_path: Path) -> None:
    """An open case and one closed longer ago than the rating period show no form and take no rating."""
    async with console_site(tmp_path) as site:
        token = await _form_token(site, _answered(site))
        for ticket in (_answered(site, status="ditindaklanjuti"), _answered(site, closed_ago=timedelta(days=40))):
            page = await (await site.client.get(f"/lacak/{ticket}")).text()
            assert 'id="rating"' not in page
            assert (await _rate(site, ticket, token, "puas")).status == 409
            _, ratings = _case(site, ticket)
            assert ratings == []
