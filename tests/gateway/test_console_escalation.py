"""part-escalation: the operator inbox shows a case the scheduler escalated, and forgets it once the step is done."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from complaints import lifecycle
from complaints.models import Complaint
from complaints.sla import calendar_of
from gateway.console.strings import STRINGS
from normalizer.envelope import utcnow
from normalizer.tickets import new_ticket
from tests.gateway.test_console import console_site, operator
from tests.support.cases import seed_case
from workers.scheduler import escalation_job

ID = STRINGS["id"]


def _tickets(page: str) -> list[str]:
    return re.findall(r'href="/ops/kasus/(BGR-[0-9A-Z]+)"', page)


@pytest.mark.asyncio
async def test_an_escalated_case_is_in_the_operator_inbox_with_its_marker(tmp_path: Path) -> None:
    """An OPD's overdue step shows in the operator inbox as escalated; ?attention=1 keeps it."""
    async with console_site(tmp_path) as site:
        operator(site)
        late, on_time = new_ticket(), new_ticket()
        now = utcnow()
        with site.runtime.sf.begin() as session:
            seed_case(session, late, "disposisi", opd_code="dlh", deadline_in=timedelta(hours=-2))
            seed_case(session, on_time, "disposisi", opd_code="dlh", deadline_in=timedelta(hours=2))
        await site.login()
        assert _tickets(await (await site.client.get("/ops/")).text()) == []  # both wait for the OPD

        escalation_job(site.runtime, now)

        page = await (await site.client.get("/ops/")).text()
        assert _tickets(page) == [late]
        row = page[page.index(f'href="/ops/kasus/{late}"') :].split("</tr>")[0]
        assert ID["attention_escalated"] in row and 'class="attention"' in row
        assert _tickets(await (await site.client.get("/ops/?attention=1")).text()) == [late]
        case_page = await (await site.client.get(f"/ops/kasus/{late}")).text()
        assert ID["attention_escalated"] in case_page and ID["hist_action_escalated"] in case_page

        with site.runtime.sf.begin() as session:
            case = session.scalar(sa.select(Complaint).where(Complaint.ticket == late))
            assert case is not None
            sop = site.runtime.config.sop
            lifecycle.transition(
                session,
                case,
                "dianalisa",
                sop=sop,
                calendar=calendar_of(site.runtime.config.calendar),
                actor="user:9",
                role="opd",
                action="accept",
            )
        escalation_job(site.runtime, now + timedelta(minutes=1))

        assert _tickets(await (await site.client.get("/ops/")).text()) == []
