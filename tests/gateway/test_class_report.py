"""Issue 14: class-deadline compliance as its own table of ``/ops/reports`` (and its CSV)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from normalizer.tickets import new_ticket
from tests.gateway.test_console import console_site, operator
from tests.gateway.test_console_reports import NOVEMBER, cells
from tests.support.cases import seed_case


def _day(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)  # 16:00 WIB, a class deadline's hour


def _seed(session: Any, status: str, code: str, due: datetime, **fields: Any) -> None:
    fields.setdefault("opd_code", "dlh")
    seed_case(session, new_ticket(), status, complaint_class=code, class_deadline_at=due, created_at=_day(2), **fields)


@pytest.mark.asyncio
async def test_class_deadlines_due_in_the_period_and_met(tmp_path: Path) -> None:
    """Ringan: one closed before its deadline, one after (50 %); normatif: one still open past it
    (0 %); a deadline in December does not count in November."""
    async with console_site(tmp_path) as site:
        operator(site)
        with site.runtime.sf.begin() as session:
            _seed(session, "selesai", "ringan", _day(10), closed_at=_day(9))
            _seed(session, "selesai", "ringan", _day(12), closed_at=_day(13), opd_code="pupr")
            _seed(session, "ditindaklanjuti", "normatif", _day(20))
            _seed(session, "ditindaklanjuti", "normatif", _day(2, 12))
        assert (await site.login()).status == 303
        page = await (await site.client.get(f"/ops/reports?{NOVEMBER}&lang=en")).text()
        assert cells(page, "class_compliance") == [["Minor", "2", "1", "50.0"], ["Normative", "1", "0", "0.0"]]
        csv_text = await (await site.client.get(f"/ops/reports/class_compliance.csv?{NOVEMBER}&lang=en")).text()
        assert "Minor,2,1,50.0" in csv_text.replace("\r\n", "\n")


@pytest.mark.asyncio
async def test_an_opd_user_counts_only_their_own_class_deadlines(tmp_path: Path) -> None:
    async with console_site(tmp_path) as site:
        operator(site, role="opd", opd_code="dlh")
        with site.runtime.sf.begin() as session:
            _seed(session, "ditindaklanjuti", "ringan", _day(10))
            _seed(session, "ditindaklanjuti", "ringan", _day(11), opd_code="pupr")
        assert (await site.login()).status == 303
        page = await (await site.client.get(f"/ops/reports?{NOVEMBER}&lang=en")).text()
        assert cells(page, "class_compliance") == [["Minor", "1", "0", "0.0"]]
