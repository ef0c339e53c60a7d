"""Anonymous toward the OPD (issue 14) over real HTTP: an OPD user cannot reach a reporter's identity
by the case page, a hand-made reveal URL, the delivery page, the inbox or the report exports, while
the operator still sees (and may reveal) it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from complaints.models import CaseNote, Complaint, HistoryEntry, PersonalDataView, Reply
from gateway.console.strings import STRINGS
from normalizer.envelope import new_id, utcnow
from normalizer.tickets import new_ticket
from tests.gateway.test_console import Console, console_site, operator
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case

ID = STRINGS["id"]
PASSWORD = "correct horse battery"
OPD_EMAIL = "dlh@example.org"
# The reporter as a page could show them: whole, masked (last four digits, initials), or as typed in the text.
SECRETS = (NIK, NAME, PHONE, EMAIL, ADDRESS, "Pajajaran", "Rahmawati", "siti.rahma", "0001", "5432", "S*** R***")
TEXT = f"Saya {NAME}, NIK {NIK}, telp 0812-9876-5432. Pungli di kelurahan."


async def _login_as(site: Console, email: str) -> None:
    site.client.session.cookie_jar.clear()
    resp = await site.login(email=email, password=PASSWORD)
    assert resp.status == 303, await resp.text()


def _seed(site: Console, **fields: Any) -> str:
    """A DLH case with the reporter in its text, an answer note quoting them and a reply sent to them."""
    ticket = new_ticket()
    with site.runtime.sf.begin() as db:
        case = seed_case(db, ticket, "dianalisa", opd_code="dlh", text=TEXT, **fields)
        db.add(
            CaseNote(complaint_id=case.id, at=utcnow(), author_role="operator", kind="note", text=f"Ditelepon {NAME}")
        )
        db.add(
            Reply(
                id=new_id(),
                dedupe_key=f"ack:{case.id}",
                complaint_id=case.id,
                kind="ack",
                channel="sms",
                address=PHONE,
                text=f"Yth. {NAME}, pengaduan Anda diterima.",
                status="sent",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    return ticket


async def _opd_pages(site: Console, ticket: str) -> list[str]:
    """Every console page an OPD user could open about the case (all must answer 200)."""
    pages = []
    for path in (
        f"/ops/kasus/{ticket}",
        f"/ops/kasus/{ticket}?identitas=1",
        f"/ops/kasus/{ticket}/pengiriman",
        "/ops/",
        f"/ops/?tiket={ticket}",
    ):
        resp = await site.client.get(path)
        assert resp.status == 200, path
        pages.append(await resp.text())
    return pages


def _pii_views(site: Console) -> int:
    with site.runtime.sf() as db:
        return len(list(db.scalars(select(PersonalDataView))))


@pytest.mark.asyncio
async def test_by_default_an_opd_user_sees_only_pelapor_anywhere(tmp_path: Path) -> None:
    """OPD_SEES_IDENTITY=false (default): no NIK, name, address, phone or e-mail, masked or whole, on any page."""
    async with console_site(tmp_path) as site:
        operator(site)
        operator(site, email=OPD_EMAIL, name="Dewi DLH", role="opd", opd_code="dlh")
        ticket = _seed(site)
        await _login_as(site, OPD_EMAIL)
        pages = await _opd_pages(site, ticket)
        assert ID["case_identity_withheld_hint"].split(";")[0] in pages[0] and ID["case_identity_show"] not in pages[0]
        assert "Pungli di kelurahan" in pages[0] and "Pelapor" in pages[0]  # the complaint itself is there
        for page in pages:
            for secret in SECRETS:
                assert secret not in page, secret
        assert _pii_views(site) == 0  # nothing was revealed, so no look is recorded


@pytest.mark.asyncio
async def test_an_anonymous_case_is_hidden_even_where_opds_see_identity(tmp_path: Path) -> None:
    """OPD_SEES_IDENTITY=true: the OPD reveals an ordinary case, but an ``anonim`` one stays "Pelapor"."""
    async with console_site(tmp_path, opd_sees_identity=True) as site:
        operator(site)
        operator(site, email=OPD_EMAIL, name="Dewi DLH", role="opd", opd_code="dlh")
        ordinary, anonymous = _seed(site), _seed(site, anonim=True)
        await _login_as(site, OPD_EMAIL)
        resp = await site.client.get(f"/ops/kasus/{ordinary}?identitas=1")
        assert resp.status == 200 and NIK in await resp.text()
        for page in await _opd_pages(site, anonymous):
            for secret in (NIK, NAME, PHONE, EMAIL, ADDRESS, "Rahmawati", "5432"):
                assert secret not in page, secret
        page = await (await site.client.get(f"/ops/kasus/{anonymous}")).text()
        assert ID["case_anonim"] in page
        assert _pii_views(site) == 1  # the ordinary case's reveal only


@pytest.mark.asyncio
async def test_the_operator_still_sees_and_reveals_the_identity_of_an_anonymous_case(tmp_path: Path) -> None:
    """The SOP's identity check stands: operators get the masked identity and the recorded reveal."""
    async with console_site(tmp_path) as site:
        operator(site)
        ticket = _seed(site, anonim=True, rahasia=True)
        await _login_as(site, "Operator@Example.org")
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        assert "************0001" in page and ID["case_rahasia"] in page and ID["case_anonim"] in page
        page = await (await site.client.get(f"/ops/kasus/{ticket}?identitas=1")).text()
        assert NIK in page and ADDRESS in page
        assert _pii_views(site) == 1


def _case_and_history(site: Console, ticket: str) -> tuple[bool, bool, list[tuple[str, str | None]]]:
    with site.runtime.sf() as db:
        case = db.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        rows = db.scalars(select(HistoryEntry).where(HistoryEntry.complaint_id == case.id).order_by(HistoryEntry.id))
        return case.rahasia, case.anonim, [(h.action, h.note) for h in rows if h.action.startswith("protection")]


@pytest.mark.asyncio
async def test_the_operator_adds_a_protection_at_verification_and_only_an_admin_lifts_it(tmp_path: Path) -> None:
    """Verify with "anonim" ticked protects the case (history says so); an operator's lift is a 403, an admin's is
    recorded with its reason."""
    async with console_site(tmp_path) as site:
        operator(site)
        operator(site, email="admin@example.org", name="Adi Admin", role="admin")
        ticket = new_ticket()
        with site.runtime.sf.begin() as db:
            seed_case(db, ticket, "diterima", rahasia=True)
        await _login_as(site, "Operator@Example.org")
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        assert 'id="verify-anonim"' in page and 'id="form-lift_protection"' not in page
        token = await site.csrf(f"/ops/kasus/{ticket}")
        fields = {"csrf_token": token, "action": "verify", "version": "1", "lang": "id", "anonim": "1"}
        resp = await site.client.post(f"/ops/kasus/{ticket}/aksi", data=fields, allow_redirects=False)
        assert resp.status == 303, await resp.text()
        assert _case_and_history(site, ticket) == (True, True, [("protection_set", "anonim")])

        lift = {"csrf_token": token, "lang": "id", "lift": "anonim", "reason": "Pelapor setuju identitasnya dibuka"}
        resp = await site.client.post(f"/ops/kasus/{ticket}/perlindungan", data=lift, allow_redirects=False)
        assert resp.status == 403
        assert _case_and_history(site, ticket)[:2] == (True, True)

        await _login_as(site, "admin@example.org")
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        assert 'id="form-lift_protection"' in page
        token = await site.csrf(f"/ops/kasus/{ticket}")
        resp = await site.client.post(
            f"/ops/kasus/{ticket}/perlindungan", data={**lift, "csrf_token": token, "reason": ""}, allow_redirects=False
        )
        assert resp.status == 422 and _case_and_history(site, ticket)[:2] == (True, True)  # no reason, no lift
        resp = await site.client.post(
            f"/ops/kasus/{ticket}/perlindungan", data={**lift, "csrf_token": token}, allow_redirects=False
        )
        assert resp.status == 303
        assert _case_and_history(site, ticket) == (
            True,
            False,
            [("protection_set", "anonim"), ("protection_lifted", "anonim: Pelapor setuju identitasnya dibuka")],
        )
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        assert ID["hist_action_protection_lifted"] in page and ID["protection_lifted"] in page
