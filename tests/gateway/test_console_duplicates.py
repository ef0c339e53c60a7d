"""Duplicate complaints on the console over real HTTP (issue 10): the case page proposes similar open
cases of the same OPD to operators, and never to OPD staff."""

from __future__ import annotations

from pathlib import Path

import pytest

from complaints import duplicates
from gateway.console.strings import STRINGS
from normalizer.tickets import new_ticket
from tests.gateway.test_console import Console, console_site, operator
from tests.support.cases import seed_case

ID = STRINGS["id"]
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


@pytest.mark.asyncio
async def test_operator_sees_the_similar_case_proposed_and_opd_staff_do_not(tmp_path: Path) -> None:
    """The operator's case page lists the second street-light report (not the rubbish one); Dishub's does not."""
    async with console_site(tmp_path) as site:
        operator(site)
        operator(site, email=OPD_EMAIL, name="Bayu Dishub", role="opd", opd_code="dishub")
        main, again, rubbish = _seed(site)
        await _login(site, "operator@example.org")
        page = await (await site.client.get(f"/ops/kasus/{main}")).text()
        assert ID["dup_title"] in page
        section = page[page.index('id="h-duplicates"') : page.index("</section>", page.index('id="h-duplicates"'))]
        assert f'/ops/kasus/{again}"' in section and "PJU mati" in section and rubbish not in section
        assert "lampu" in section and "%" in section
        await _login(site, OPD_EMAIL)
        resp = await site.client.get(f"/ops/kasus/{main}")
        assert resp.status == 200 and ID["dup_title"] not in await resp.text()
