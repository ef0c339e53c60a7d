"""Duplicate complaints on the console over real HTTP (issue 10): the case page proposes similar open
cases of the same OPD to operators, and never to OPD staff."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from complaints import duplicates, merging
from complaints.models import Complaint
from complaints.queries import Viewer
from gateway.console.strings import STRINGS
from gateway.pages.strings import STRINGS as PAGE_STRINGS
from normalizer.envelope import utcnow
from normalizer.tickets import new_ticket
from tests.gateway.test_console import Console, console_site, operator
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case

ID = STRINGS["id"]
PAGES = PAGE_STRINGS["id"]
PASSWORD = "correct horse battery"
OPD_EMAIL = "dishub@example.org"
LIGHT = "Lampu penerangan jalan di Jl. Pajajaran mati sudah 3 hari, gelap sekali kalau malam"
LIGHT_AGAIN = "PJU mati di jalan Pajajaran, lampunya padam dan gelap. Mohon diperbaiki pak"
RUBBISH = "Sampah menumpuk di pinggir jalan Pajajaran tidak diangkut seminggu"


def _seed(site: Console) -> tuple[str, str, str]:
    """A routed street-light case, a second report of it and a rubbish case, all with Dishub."""
    duplicates.forget_all()
    tickets = new_ticket(), new_ticket(), new_ticket()
    with site.runtime.sf.begin() as db:
        for ticket, text in zip(tickets, (LIGHT, LIGHT_AGAIN, RUBBISH), strict=True):
            seed_case(db, ticket, "disposisi", opd_code="dishub", text=text, subject=None)
    return tickets


async def _login(site: Console, email: str) -> None:
    site.client.session.cookie_jar.clear()
    resp = await site.login(email=email, password=PASSWORD)
    assert resp.status == 303, await resp.text()


async def _operator_on_main_case(site: Console) -> tuple[tuple[str, str, str], str]:
    """An operator and a Dishub user, the three cases, and the operator's page of the first (main) case."""
    operator(site)
    operator(site, email=OPD_EMAIL, name="Bayu Dishub", role="opd", opd_code="dishub")
    tickets = _seed(site)
    await _login(site, "operator@example.org")
    return tickets, await (await site.client.get(f"/ops/kasus/{tickets[0]}")).text()


@pytest.mark.asyncio
async def test_operator_sees_the_similar_case_proposed_and_opd_staff_do_not(tmp_path: Path) -> None:
    """The operator's case page lists the second street-light report (not the rubbish one); Dishub's does not."""
    async with console_site(tmp_path) as site:
        (main, again, rubbish), page = await _operator_on_main_case(site)
        assert ID["dup_title"] in page
        section = page[page.index('id="h-duplicates"') : page.index("</section>", page.index('id="h-duplicates"'))]
        assert f'/ops/kasus/{again}"' in section and "PJU mati" in section and rubbish not in section
        assert "lampu" in section and "%" in section
        await _login(site, OPD_EMAIL)
        resp = await site.client.get(f"/ops/kasus/{main}")
        assert resp.status == 200 and ID["dup_title"] not in await resp.text()


def _merge_form(page: str) -> tuple[str, str]:
    """The merge form's CSRF token and version."""
    form = page[page.index('id="form-merge"') :].split("</form>")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    version = re.search(r'name="version" value="(\d+)"', form)
    assert token and version
    return token.group(1), version.group(1)


@pytest.mark.asyncio
async def test_operator_merges_a_proposal_and_opd_staff_cannot(tmp_path: Path) -> None:
    """The operator's merge lands (303, flash, both pages say so, history names the operator); Dishub gets 403."""
    async with console_site(tmp_path) as site:
        (main, again, _), page = await _operator_on_main_case(site)
        token, version = _merge_form(page)
        url = f"/ops/kasus/{main}/gabung"
        # Without the CSRF token: refused like every console POST, nothing merged.
        resp = await site.client.post(url, data={"version": version, "tiket": again}, allow_redirects=False)
        assert resp.status == 403
        with site.runtime.sf() as db:
            assert db.scalar(select(Complaint.merged_into_id).where(Complaint.ticket == again)) is None
        form = {"csrf_token": token, "version": version, "lang": "id", "tiket": again}
        resp = await site.client.post(url, data=form, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == f"/ops/kasus/{main}"
        page = await (await site.client.get(f"/ops/kasus/{main}")).text()
        assert ID["merge_done"] in page and ID["merged_list"] in page and f'/ops/kasus/{again}"' in page
        assert ID["hist_action_merged"] in page and "Rina Operator" in page
        assert ID["dup_title"] not in page  # nothing left to propose
        merged_page = await (await site.client.get(f"/ops/kasus/{again}")).text()
        assert ID["merged_into_notice"].format(ticket=main) in merged_page
        assert ID["hist_action_merged_into"] in merged_page and 'name="action"' not in merged_page
        # The same post again: the case is merged already.
        resp = await site.client.post(url, data=form, allow_redirects=False)
        page = await resp.text()
        assert resp.status == 422 and f"{again}: {ID['action_err_merge_already']}" in page
        await _login(site, OPD_EMAIL)
        token = await site.csrf(f"/ops/kasus/{main}")
        resp = await site.client.post(
            url, data={"csrf_token": token, "version": version, "tiket": again}, allow_redirects=False
        )
        assert resp.status == 403 and ID["action_forbidden_title"] in await resp.text()


@pytest.mark.asyncio
async def test_merged_reporter_follows_the_main_case_on_the_tracking_page(tmp_path: Path) -> None:
    """/lacak/<merged ticket> shows the main case's status, OPD and published answer under the reporter's own
    ticket, names the main ticket, and shows neither reporter's personal data (both masked in the answer)."""
    async with console_site(tmp_path) as site:
        main, again, _ = _seed(site)
        with site.runtime.sf.begin() as db:
            main_case = db.scalar(select(Complaint).where(Complaint.ticket == main))
            other = db.scalar(select(Complaint).where(Complaint.ticket == again))
            assert main_case is not None and other is not None
            other.name, other.phone, other.nik = "Budi Santoso", "+6281311112222", "3271020202900002"
            main_case.status = "dianalisa"  # the main case moved on; the merged one was only disposed
            merging.merge(db, main_case, [again], viewer=Viewer(role="operator"), user_id=1, expected_version=1)
        resp = await site.client.get(f"/lacak/{again}")
        page = await resp.text()
        assert resp.status == 200 and PAGES["merged_note"].format(ticket=main) in page
        assert 'class="status-badge status-dianalisa"' in page
        with site.runtime.sf.begin() as db:
            main_case = db.scalar(select(Complaint).where(Complaint.ticket == main))
            assert main_case is not None
            main_case.status, main_case.step, main_case.answer_public = "selesai", 9, True
            main_case.answer_text = f"Sudah diganti. Terima kasih {NAME} dan Budi Santoso (0813-1111-2222)."
            main_case.closed_at = utcnow()
        data = await (await site.client.get(f"/api/v1/complaints/{again}")).json()
        assert data["ticket"] == again and data["merged_into"] == main and data["status"] == "selesai"
        assert data["answer"]["text"] == "Sudah diganti. Terima kasih *** dan *** (***)."
        assert data["answer"]["sent_on"] == "sms"
        page = await (await site.client.get(f"/lacak/{again}")).text()
        for secret in (NAME, "Budi", PHONE, "0813", NIK, "3271020202900002", ADDRESS, EMAIL):
            assert secret not in page, secret
        assert "Sudah diganti." in page
