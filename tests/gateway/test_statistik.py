"""The public statistics: figures of the hand-made November (tests/support/report_cases.py), and the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from complaints.db import make_engine, session_factory, upgrade
from complaints.sla import calendar_of
from complaints.statistics import OpdFigure, public_figures
from gateway.pages.strings import STRINGS
from normalizer.envelope import utcnow
from tests.gateway.test_console import console_site
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case
from tests.support.city import shipped_city
from tests.support.report_cases import seed_november, walk

TODAY = date(2026, 12, 6)
EN = STRINGS["en"]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    """A migrated SQLite database holding the hand-made November."""
    engine = make_engine(f"sqlite:///{tmp_path / 'statistik.sqlite3'}")
    upgrade(engine)
    with session_factory(engine)() as session:
        seed_november(session)
        session.commit()
        yield session
    engine.dispose()


def figures(session: Session, min_cases: int = 1):  # type: ignore[no-untyped-def]
    city = shipped_city()
    return public_figures(session, city.sop, calendar_of(city.calendar), TODAY, min_cases)


def test_counts_per_month_and_status_over_twelve_months(db: Session) -> None:
    """January to December 2026: E in October, A-D and F in November, G in December (1 Dec WIB)."""
    f = figures(db)
    assert f.period.first == date(2026, 1, 1) and f.period.last == TODAY
    months = dict(f.per_month)
    assert len(f.per_month) == 12 and months[date(2026, 10, 1)] == 1
    assert months[date(2026, 11, 1)] == 5 and months[date(2026, 12, 1)] == 1 and months[date(2026, 1, 1)] == 0
    assert f.per_status == (
        ("diterima", 2),
        ("diverifikasi", 1),
        ("disposisi", 1),
        ("dianalisa", 1),
        ("selesai", 1),
        ("dikembalikan_ke_pelapor", 1),
    )


def test_answered_within_the_opd_standard(db: Session) -> None:
    """A: disposed Tue 09:06, answered Thu 10:00 = 414 + 480 + 120 = 1014 working minutes <= 1710: within.
    H (added): disposed Mon 2 Nov 08:00, answered Mon 9 Nov 12:00 = 5 x 480 + 240 = 2640: late."""
    h = seed_case(
        db, "BGR-HHHHHHH", "dijawab", opd_code="pupr", created_at=utcnow().replace(year=2026, month=11, day=2)
    )
    walk(
        db,
        h,
        [
            ("2026-11-02 08:00", "routed", "diverifikasi", "disposisi", "pupr", "pupr"),
            ("2026-11-03 08:00", "internal_note", "disposisi", "disposisi", "pupr", None),
            ("2026-11-09 12:00", "answer", "ditindaklanjuti", "dijawab", "pupr", None),
        ],
    )
    db.flush()
    f = figures(db)
    assert f.per_opd == (
        OpdFigure("dishub", 1, 0, 0),
        OpdFigure("dlh", 2, 1, 1),
        OpdFigure("pupr", 1, 1, 0),
    )
    assert f.hidden_opds == 0
    assert figures(db, min_cases=2).per_opd == (OpdFigure("dlh", 2, 1, 1),)
    assert figures(db, min_cases=2).hidden_opds == 2


@pytest.mark.asyncio
async def test_page_shows_counts_and_nothing_personal(tmp_path: Path) -> None:
    """No login; counts per OPD with few-case OPDs left out; no NIK, name, phone, e-mail, address,
    ticket or complaint text anywhere; the figures are cached, and browsers told so."""
    async with console_site(tmp_path, statistik_cache_seconds=300, statistik_min_cases=3) as site:
        tickets = [f"BGR-{c * 7}" for c in "ABCDE"]
        with site.runtime.sf.begin() as session:
            for n, ticket in enumerate(tickets):
                seed_case(session, ticket, "disposisi", opd_code="dlh" if n < 3 else "dishub",
                          created_at=utcnow() - timedelta(hours=n + 1))  # fmt: skip
        resp = await site.client.get("/statistik?lang=en")
        page = await resp.text()
        assert resp.status == 200 and resp.headers["Cache-Control"] == "public, max-age=300"
        dlh = site.runtime.config.opds["dlh"].name
        assert re.search(rf"<th scope=\"row\">{dlh}</th><td class=\"num\">3</td>", page)
        assert site.runtime.config.opds["dishub"].name not in page
        assert 'data-table="per_month"' in page and 'data-table="per_status"' in page
        assert EN["statistik_hidden"].format(n=1, min=3) in page
        for secret in (NIK, NAME, PHONE, EMAIL, ADDRESS, "Jalan rusak", "Jalan berlubang", *tickets):
            assert secret not in page
        with site.runtime.sf.begin() as session:
            seed_case(session, "BGR-FFFFFFF", "disposisi", opd_code="dlh", created_at=utcnow() - timedelta(hours=1))
        again = await (await site.client.get("/statistik?lang=en")).text()
        assert re.search(rf"<th scope=\"row\">{dlh}</th><td class=\"num\">3</td>", again)  # cached


@pytest.mark.asyncio
async def test_no_cache_counts_at_once(tmp_path: Path) -> None:
    """STATISTIK_CACHE_SECONDS=0: each visit counts again."""
    async with console_site(tmp_path, statistik_cache_seconds=0, statistik_min_cases=1) as site:
        dlh = site.runtime.config.opds["dlh"].name
        page = await (await site.client.get("/statistik")).text()
        assert dlh not in page and STRINGS["id"]["statistik_none"] in page
        with site.runtime.sf.begin() as session:
            seed_case(session, "BGR-AAAAAAA", "disposisi", opd_code="dlh", created_at=utcnow() - timedelta(hours=1))
        page = await (await site.client.get("/statistik")).text()
        assert re.search(rf"<th scope=\"row\">{dlh}</th><td class=\"num\">1</td>", page)


@pytest.mark.asyncio
async def test_page_shows_merged_cases_on_their_own_line(tmp_path: Path) -> None:
    """A case merged into another counts in its OPD's complaints and on the merged line, in words."""
    async with console_site(tmp_path, statistik_cache_seconds=0, statistik_min_cases=1) as site:
        with site.runtime.sf.begin() as session:
            main = seed_case(
                session, "BGR-AAAAAAA", "disposisi", opd_code="dlh", created_at=utcnow() - timedelta(hours=2)
            )
            session.flush()
            seed_case(session, "BGR-BBBBBBB", "disposisi", opd_code="dlh", created_at=utcnow() - timedelta(hours=1),
                      merged_into_id=main.id)  # fmt: skip
        page = await (await site.client.get("/statistik?lang=en")).text()
        dlh = site.runtime.config.opds["dlh"].name
        numbers = '<td class="num">2</td><td class="num">1</td><td class="num">0</td>'  # complaints, merged, answered
        assert re.search(rf'<th scope="row">{dlh}</th>{numbers}', page)
        assert re.search(rf'<th scope="row">{EN["statistik_status_merged"]}</th><td class="num">1</td>', page)
        disposed = site.runtime.config.sop.label("disposisi", "en")
        assert re.search(rf'<th scope="row">{disposed}</th><td class="num">1</td>', page)
