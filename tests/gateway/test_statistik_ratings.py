"""Issue 14 on the public /statistik: the share of PUAS ratings and of reopened answers per OPD, as
shares only, and only over at least STATISTIK_MIN_CASES ratings (answers)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from complaints.models import CaseRating, HistoryEntry
from complaints.sla import calendar_of
from complaints.statistics import public_figures
from normalizer.envelope import utcnow
from tests.gateway.test_console import console_site
from tests.support.cases import seed_case


def _rated_case(session: Any, ticket: str, opd: str, *satisfied: bool, reopened: bool = False) -> None:
    now = utcnow()
    case = seed_case(session, ticket, "selesai", opd_code=opd, created_at=now - timedelta(hours=3), closed_at=now)
    for happy in satisfied:
        session.add(
            CaseRating(complaint_id=case.id, at=now, satisfied=happy, via="kannel", outcome="recorded", opd_code=opd)
        )
    if reopened:
        session.add(
            HistoryEntry(
                complaint_id=case.id,
                at=now,
                actor="citizen",
                action="reopen",
                from_status="selesai",
                to_status="ditindaklanjuti",
                opd_code=opd,
            )
        )


def _row(page: str, name: str) -> list[str]:
    match = re.search(rf'<tr><th scope="row">{re.escape(name)}</th>(.*?)</tr>', page)
    assert match, name
    return re.findall(r'<td class="num">(.*?)</td>', match.group(1))


@pytest.mark.asyncio
async def test_satisfied_share_shows_only_over_enough_ratings(tmp_path: Path) -> None:
    """DLH: three ratings, two PUAS (66.7 %); PUPR: one rating, under the minimum of two: no share."""
    async with console_site(tmp_path, statistik_cache_seconds=0, statistik_min_cases=2) as site:
        with site.runtime.sf.begin() as session:
            _rated_case(session, "BGR-AAAAAA2", "dlh", True, False)
            _rated_case(session, "BGR-AAAAAA3", "dlh", True, reopened=True)
            _rated_case(session, "BGR-AAAAAA4", "pupr", False)
            _rated_case(session, "BGR-AAAAAA5", "pupr")
        page = await (await site.client.get("/statistik?lang=en")).text()
        opds = site.runtime.config.opds
        received, merged, answered, within, satisfied, reopened = _row(page, opds["dlh"].name)
        assert (received, satisfied) == ("2", "66.7")
        assert _row(page, opds["pupr"].name)[4] == "–"
        assert "% citizens satisfied" in page and "BGR-AAAAAA2" not in page
        config = site.runtime.config
        with site.runtime.read_sf() as session:
            today = calendar_of(config.calendar).local_date(utcnow())
            figures = {
                f.opd_code: f
                for f in public_figures(session, config.sop, calendar_of(config.calendar), today, 1).per_opd
            }
        assert (figures["dlh"].ratings, figures["dlh"].satisfied, figures["dlh"].reopened) == (3, 2, 1)
        assert (figures["pupr"].ratings, figures["pupr"].satisfied, figures["pupr"].reopened) == (1, 0, 0)
