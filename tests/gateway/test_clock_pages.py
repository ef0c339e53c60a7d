"""The public tracking page shows the step deadline as a date in WIB (part-clock, issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from normalizer.tickets import new_ticket
from tests.gateway.test_pages import Site, site  # noqa: F401 - the fixture
from tests.support.cases import seed_case


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
