"""Issue 14 over real HTTP: the operator returns a national matter and picks the institution the
citizen is pointed to; an unknown institution is a 422 naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from complaints.models import Reply
from gateway.console.strings import STRINGS
from tests.gateway.test_console import Console, console_site
from tests.gateway.test_console_authz import case, login_as, post, seed

ID = STRINGS["id"]


async def return_national(site: Console, ticket: str, token: str, institution: str) -> Any:
    """The operator returns the case as "bukan wewenang Pemerintah Kota Bogor", picking ``institution``."""
    fields = {"reason_template": "bukan_wewenang_pemkot", "reason": "x", "institution": institution}
    return await post(site, ticket, token, "return_to_citizen", **fields)


@pytest.mark.asyncio
async def test_the_operator_points_the_citizen_to_the_picked_institution(tmp_path: Path) -> None:
    """The case page offers the institutions; the chosen one, with its contact, reaches the citizen by SMS."""
    async with console_site(tmp_path) as site:
        token = await login_as(site, "operator")
        ticket = seed(site, "triase", opd_code=None, text="Listrik di gang kami padam tiga hari")
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        assert 'name="institution"' in page and ">Ombudsman Republik Indonesia</option>" in page
        resp = await return_national(site, ticket, token, "pln")
        assert resp.status == 303
        complaint = case(site, ticket)
        assert complaint.status == "dikembalikan_ke_pelapor"
        with site.runtime.sf() as session:
            [reply] = session.scalars(select(Reply).where(Reply.complaint_id == complaint.id)).all()
        assert reply.kind == "national_matter" and reply.address == complaint.reply_address
        assert "PLN" in reply.text and "pln.co.id" in reply.text


@pytest.mark.asyncio
async def test_an_unknown_institution_is_a_422_naming_the_field(tmp_path: Path) -> None:
    """A forged institution code: 422 with the field's error, the case unchanged, nothing sent."""
    async with console_site(tmp_path) as site:
        token = await login_as(site, "operator")
        ticket = seed(site, "triase", opd_code=None)
        resp = await return_national(site, ticket, token, "x")
        page = await resp.text()
        assert resp.status == 422
        assert f"{ID['action_field_institution']}: {ID['action_err_institution_unknown']}" in page
        assert case(site, ticket).status == "triase"
