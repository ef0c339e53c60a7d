"""Issue 14: ratings and reopen rates per OPD as a table of ``/ops/reports`` (and its CSV)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from complaints.models import CaseRating, HistoryEntry
from normalizer.tickets import new_ticket
from tests.gateway.test_console import console_site, operator
from tests.gateway.test_console_reports import NOVEMBER, cells
from tests.support.cases import seed_case


def _day(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 4, 0, tzinfo=UTC)


def _answered(session: Any, opd: str, closed: datetime, *ratings: tuple[bool, str], reopened: bool = False) -> None:
    """A case of ``opd`` closed on ``closed``, rated (satisfied, outcome) a day later, perhaps reopened."""
    case = seed_case(session, new_ticket(), "selesai", opd_code=opd, created_at=_day(1), closed_at=closed)
    moves = [("approve", "diterima_operator", "selesai", closed)]
    if reopened:
        moves.append(("reopen", "selesai", "ditindaklanjuti", closed.replace(day=closed.day + 1)))
    for action, before, after, at in moves:
        session.add(
            HistoryEntry(
                complaint_id=case.id,
                at=at,
                actor="test",
                action=action,
                from_status=before,
                to_status=after,
                opd_code=opd,
            )
        )
    for happy, outcome in ratings:
        at = closed.replace(day=closed.day + 1)
        session.add(
            CaseRating(complaint_id=case.id, at=at, satisfied=happy, via="kannel", outcome=outcome, opd_code=opd)
        )


@pytest.mark.asyncio
async def test_ratings_and_reopen_rates_per_opd(tmp_path: Path) -> None:
    """PUPR: two answers, one PUAS and one TIDAK PUAS that reopened (50 % each); DLH: one unrated
    answer; an answer closed in December does not count in November."""
    async with console_site(tmp_path) as site:
        operator(site)
        with site.runtime.sf.begin() as session:
            _answered(session, "pupr", _day(10), (True, "recorded"))
            _answered(session, "pupr", _day(12), (False, "reopened"), reopened=True)
            _answered(session, "dlh", _day(14))
            _answered(session, "dlh", _day(2, 12), (True, "recorded"))
        assert (await site.login()).status == 303
        page = await (await site.client.get(f"/ops/reports?{NOVEMBER}&lang=en")).text()
        assert cells(page, "ratings") == [
            ["DLH", "1", "0", "0", "–", "0", "0.0"],  # no rating: no share
            ["Dinas PUPR", "2", "2", "1", "50.0", "1", "50.0"],
        ]
        csv_text = await (await site.client.get(f"/ops/reports/ratings.csv?{NOVEMBER}&lang=en")).text()
        assert "Dinas PUPR,2,2,1,50.0,1,50.0" in csv_text.replace("\r\n", "\n")


@pytest.mark.asyncio
async def test_an_opd_user_sees_only_their_own_ratings(tmp_path: Path) -> None:
    """An OPD user's ratings table holds only their OPD's answers."""
    async with console_site(tmp_path) as site:
        operator(site, role="opd", opd_code="dlh")
        with site.runtime.sf.begin() as session:
            _answered(session, "dlh", _day(10), (False, "recorded"))
            _answered(session, "pupr", _day(10), (True, "recorded"))
        assert (await site.login()).status == 303
        page = await (await site.client.get(f"/ops/reports?{NOVEMBER}&lang=en")).text()
        assert cells(page, "ratings") == [["DLH", "1", "1", "0", "0.0", "0", "0.0"]]
