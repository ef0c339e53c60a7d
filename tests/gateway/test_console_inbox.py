"""The inbox at /ops/ over real HTTP: scoping, personal data, escaping, overdue marking, filters and paging."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.console.strings import STRINGS
from normalizer.tickets import new_ticket
from tests.gateway.test_console import SCRIPT, Console, console_site, operator
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case
from tests.support.frozen import freeze_console_clock

ID = STRINGS["id"]
EN = STRINGS["en"]
IMG = '<img src=x onerror="alert(2)">'
WIB = timezone(timedelta(hours=7))


def _seed(site: Console, *cases: tuple[str, str, dict[str, object]]) -> None:
    with site.runtime.sf.begin() as session:
        for ticket, status, fields in cases:
            seed_case(session, ticket, status, **fields)  # type: ignore[arg-type]


def _tickets(page: str) -> list[str]:
    return re.findall(r'href="/ops/kasus/(BGR-[0-9A-Z]+)"', page)


@pytest.mark.asyncio
async def test_operator_inbox_lists_cases_without_personal_data(tmp_path: Path) -> None:
    """Rows show ticket, channel, status, identity result and proposal; no NIK, name, phone, e-mail or address."""
    async with console_site(tmp_path) as site:
        operator(site)
        triage, answered, disposed = new_ticket(), new_ticket(), new_ticket()
        _seed(
            site,
            (triage, "triase", {"identity_problems": "nik:missing", "subject": SCRIPT, "text": IMG}),
            (answered, "dijawab", {"opd_code": "dlh", "routing_score": 0.75, "routing_matched": "sampah,bau"}),
            (disposed, "disposisi", {"opd_code": "dlh"}),
        )
        await site.login()
        resp = await site.client.get("/ops/")
        page = await resp.text()
        assert resp.status == 200
        assert set(_tickets(page)) == {triage, answered}  # disposisi waits for the OPD, not the operator
        for secret in (NIK, NAME, PHONE, EMAIL, ADDRESS, "Pajajaran", "6281298765432"):
            assert secret not in page
        assert SCRIPT not in page and IMG not in page and "onerror" not in page
        assert ID["inbox_identity_ok"] in page and "NIK" in page
        assert "sampah, bau" in page and "0.75" in page
        row = page[page.index(f'href="/ops/kasus/{triage}"') :].split("</tr>")[0]
        assert ID["channel_web"] in row and site.runtime.config.sop.label("triase", "id") in row
        assert "NIK" in row and ID["inbox_no_proposal"] in row


@pytest.mark.asyncio
async def test_opd_user_sees_only_its_own_cases_whatever_the_query(tmp_path: Path) -> None:
    """A DLH user's inbox never lists a Dishub case, not even searched by its ticket or with an OPD filter."""
    async with console_site(tmp_path) as site:
        operator(site, role="opd", opd_code="dlh")
        mine, theirs = new_ticket(), new_ticket()
        _seed(site, (mine, "disposisi", {"opd_code": "dlh"}), (theirs, "disposisi", {"opd_code": "dishub"}))
        await site.login()
        for query in ("", f"?ticket={theirs}", "?opd=dishub", f"?opd=dishub&ticket={theirs}&status=disposisi"):
            page = await (await site.client.get("/ops/" + query)).text()
            assert theirs not in _tickets(page), query  # (the search box echoes what was typed)
            assert f"kasus/{theirs}" not in page, query
        page = await (await site.client.get(f"/ops/?ticket={theirs}")).text()
        assert ID["inbox_empty"] in page
        page = await (await site.client.get("/ops/")).text()
        assert _tickets(page) == [mine]
        assert 'name="opd"' not in page  # no OPD filter for OPD users


@pytest.mark.asyncio
async def test_overdue_cases_are_marked_in_words_and_filterable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case past its step deadline says "terlambat N jam kerja" with the late class; ?overdue=1 keeps only those."""
    # part-clock: triage counts working hours. Frozen at Monday 12:00 WIB, 5 h 10 min late is
    # 4 working hours late (the office opened at 08:00) and 3 h 30 min left is 3 working hours.
    freeze_console_clock(monkeypatch, datetime(2026, 12, 7, 12, 0, tzinfo=WIB))
    async with console_site(tmp_path) as site:
        operator(site)
        late, on_time = new_ticket(), new_ticket()
        _seed(
            site,
            (late, "triase", {"deadline_in": timedelta(hours=-5, minutes=-10)}),
            (on_time, "triase", {"deadline_in": timedelta(hours=3, minutes=30)}),
        )
        await site.login()
        page = await (await site.client.get("/ops/")).text()
        assert ID["inbox_late_working"].format(n=4) in page and 'class="late"' in page
        assert ID["inbox_left_hours_working"].format(n=3) in page
        assert _tickets(page) == [late, on_time]  # deadline first
        page = await (await site.client.get("/ops/?overdue=1")).text()
        assert _tickets(page) == [late]
        page = await (await site.client.get("/ops/?overdue=1&lang=en")).text()
        assert EN["inbox_late_working"].format(n=4) in page


@pytest.mark.asyncio
async def test_filters_and_paging_links_keep_the_query(tmp_path: Path) -> None:
    """51 SMS triage cases make two pages linked by next/previous; the channel filter stays in the links."""
    async with console_site(tmp_path) as site:
        operator(site)
        _seed(
            site,
            *[(new_ticket(), "triase", {"channel": "sms", "deadline_in": timedelta(minutes=n)}) for n in range(51)],
            (new_ticket(), "triase", {"channel": "email"}),
        )
        await site.login()
        page = await (await site.client.get("/ops/?channel=sms")).text()
        assert len(_tickets(page)) == 50
        assert 'rel="next" href="/ops/?channel=sms&amp;page=2"' in page and 'rel="prev"' not in page
        page2 = await (await site.client.get("/ops/?channel=sms&page=2")).text()
        assert len(_tickets(page2)) == 1 and not set(_tickets(page2)) & set(_tickets(page))
        assert 'rel="prev" href="/ops/?channel=sms&amp;page=1"' in page2 and 'rel="next"' not in page2
        page = await (await site.client.get("/ops/?channel=email&page=abc")).text()
        assert len(_tickets(page)) == 1


# part-clock
@pytest.mark.asyncio
async def test_time_left_is_counted_in_working_hours_across_the_weekend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Friday 15:00 a triage case due Monday 10:00 has "3 jam kerja lagi" and shows its deadline date in WIB."""
    freeze_console_clock(monkeypatch, datetime(2026, 12, 4, 15, 0, tzinfo=WIB))
    async with console_site(tmp_path) as site:
        operator(site)
        ticket = new_ticket()
        _seed(site, (ticket, "triase", {"deadline_in": timedelta(days=2, hours=19)}))
        await site.login()
        page = await (await site.client.get("/ops/")).text()
        row = page[page.index(f'href="/ops/kasus/{ticket}"') :].split("</tr>")[0]
        assert ID["inbox_left_hours_working"].format(n=3) in row  # 1 h on Friday + 2 h on Monday morning
        assert "07-12-2026 10:00 WIB" in row and 'class="late"' not in row
        page = await (await site.client.get("/ops/?lang=en")).text()
        assert EN["inbox_left_hours_working"].format(n=3) in page
