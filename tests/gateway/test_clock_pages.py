"""The public tracking page shows the step deadline (part-clock, issue 10) and the class deadline
(issue 14) as dates in WIB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from normalizer.tickets import new_ticket
from tests.gateway.test_pages import Site, site  # noqa: F401 - the fixture
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case


@pytest.mark.asyncio
async def test_tracking_page_shows_the_deadline_date_in_wib(site: Site) -> None:  # noqa: F811
    """A case due Monday 7 December 2026 08:20 WIB (01:20 UTC) says so on /lacak, in Indonesian and English."""
    ticket = new_ticket()
    with site.runtime.sf.begin() as session:
        seed_case(
            session, ticket, "disposisi", opd_code="dlh", step_deadline_at=datetime(2026, 12, 7, 1, 20, tzinfo=UTC)
        )
    html = await (await site.client.get(f"/lacak/{ticket}")).text()
    assert "7 Des 2026 08:20 WIB" in html
    html = await (await site.client.get(f"/lacak/{ticket}?lang=en")).text()
    assert "7 Dec 2026 08:20 WIB" in html


@pytest.mark.asyncio
async def test_a_case_waiting_for_the_citizen_shows_no_deadline(site: Site) -> None:  # noqa: F811
    """While the case is returned to the citizen its clock is stopped: no date is promised."""
    ticket = new_ticket()
    with site.runtime.sf.begin() as session:
        seed_case(session, ticket, "dikembalikan_ke_pelapor", deadline_in=None)
    html = await (await site.client.get(f"/lacak/{ticket}")).text()
    assert "WIB" not in html.split("Batas waktu tahap ini", 1)[1].split("</dd>", 1)[0]


@pytest.mark.asyncio
async def test_tracking_page_shows_the_class_deadline_and_no_personal_data(site: Site) -> None:  # noqa: F811
    """Issue 14: a verified case shows its class deadline (close of office, WIB) beside the step's, on the
    page and in the public status JSON; the reporter's identity appears in neither."""
    ticket = new_ticket()
    with site.runtime.sf.begin() as session:
        seed_case(
            session,
            ticket,
            "disposisi",
            opd_code="dlh",
            step_deadline_at=datetime(2026, 12, 7, 1, 20, tzinfo=UTC),
            complaint_class="normatif",
            class_deadline_at=datetime(2026, 12, 11, 9, 0, tzinfo=UTC),  # Friday 16:00 WIB
        )
    html = await (await site.client.get(f"/lacak/{ticket}")).text()
    row = html.split("Batas waktu penyelesaian pengaduan", 1)[1].split("</dd>", 1)[0]
    assert "11 Des 2026 16:00 WIB" in row
    html_en = await (await site.client.get(f"/lacak/{ticket}?lang=en")).text()
    assert "Deadline for the whole complaint" in html_en and "11 Dec 2026 16:00 WIB" in html_en
    status = await (await site.client.get(f"/api/v1/complaints/{ticket}")).json()
    assert datetime.fromisoformat(status["class_deadline_at"]) == datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
    for page in (html, html_en, str(status)):
        assert not any(secret in page for secret in (NIK, NAME, PHONE, EMAIL, ADDRESS))


@pytest.mark.asyncio
async def test_an_unverified_case_shows_no_class_deadline(site: Site) -> None:  # noqa: F811
    """Before verification no class is picked: the row is absent, the JSON says null."""
    ticket = new_ticket()
    with site.runtime.sf.begin() as session:
        seed_case(session, ticket, "diterima")
    assert "Batas waktu penyelesaian pengaduan" not in await (await site.client.get(f"/lacak/{ticket}")).text()
    assert (await (await site.client.get(f"/api/v1/complaints/{ticket}")).json())["class_deadline_at"] is None
