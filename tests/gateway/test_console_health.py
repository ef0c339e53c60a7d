"""``/ops/health`` in the console and the problem list in ``/ops/status``, over real HTTP."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from complaints.models import InboxMessage
from complaints.monitoring import ProcessInfo, beat
from gateway.console.strings import STRINGS
from normalizer.envelope import utcnow
from tests.gateway.test_console import console_site, operator
from workers.runtime import Runtime

EN = STRINGS["en"]
ID = STRINGS["id"]


def stuck_message(rt: Runtime, minutes: float = 10) -> None:
    """An accepted message nobody processed for ``minutes``."""
    at = utcnow() - timedelta(minutes=minutes)
    with rt.sf.begin() as session:
        session.add(
            InboxMessage(
                id=uuid.uuid4().hex, channel="web", provider="web", external_id=uuid.uuid4().hex, kind="complaint",
                envelope={}, state="accepted", created_at=at, updated_at=at,
            )
        )  # fmt: skip


@pytest.mark.asyncio
async def test_operator_sees_problems_first_then_the_tables(tmp_path: Path) -> None:
    """An operator's health page says the problem in words above the queues, workers, channels and
    outbound tables, reloads itself, and links to the dead letters; the menu offers it."""
    async with console_site(tmp_path, health_refresh_seconds=15) as site:
        operator(site)
        stuck_message(site.runtime)
        with site.runtime.sf.begin() as session:
            now = utcnow()
            beat(session, ProcessInfo("h:7:1", "worker", "worker-host", 7, 4, now, now, None))
        assert (await site.login()).status == 303
        resp = await site.client.get("/ops/health?lang=en")
        page = await resp.text()
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        problem = "1 accepted message older than 5 min not yet processed"
        assert problem in page and EN["health_all_well"] not in page
        order = [page.index(s) for s in (problem, EN["health_queues"], EN["health_processes"],
                                         EN["health_inbound"], EN["health_outbound"])]  # fmt: skip
        assert order == sorted(order)
        assert '<meta http-equiv="refresh" content="15">' in page
        assert 'href="/ops/health/dead-letters"' in page
        assert "worker-host" in page and EN["health_state_alive"] in page
        assert re.search(r"<svg[^>]*role=\"img\"", page)
        assert f'href="/ops/health" aria-current="page">{EN["nav_health"]}' in page
        page = await (await site.client.get("/ops/health?lang=id")).text()
        assert "1 pesan diterima lebih dari 5 menit lalu belum diproses" in page


@pytest.mark.asyncio
async def test_all_well_and_no_refresh_when_switched_off(tmp_path: Path) -> None:
    """Nothing wrong: "Semua berjalan normal"; HEALTH_REFRESH_SECONDS=0 leaves out the meta refresh."""
    async with console_site(tmp_path, health_refresh_seconds=0) as site:
        operator(site, role="admin")
        assert (await site.login()).status == 303
        page = await (await site.client.get("/ops/health")).text()
        assert ID["health_all_well"] in page and 'http-equiv="refresh"' not in page


@pytest.mark.asyncio
async def test_opd_user_gets_403_and_no_menu_link(tmp_path: Path) -> None:
    """An OPD user is refused the page (403 in words) and its menu does not offer it."""
    async with console_site(tmp_path) as site:
        opd = next(iter(site.runtime.config.opds))
        operator(site, role="opd", opd_code=opd)
        assert (await site.login()).status == 303
        resp = await site.client.get("/ops/health")
        assert resp.status == 403 and ID["health_forbidden_body"] in await resp.text()
        assert ID["nav_health"] not in await (await site.client.get("/ops/")).text()


@pytest.mark.asyncio
async def test_anonymous_is_sent_to_login(tmp_path: Path) -> None:
    """Without a session the page redirects to the login form."""
    async with console_site(tmp_path) as site:
        resp = await site.client.get("/ops/health", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/login"


@pytest.mark.asyncio
async def test_ops_status_lists_the_problems_and_keeps_its_fields(tmp_path: Path) -> None:
    """GET /ops/status (bearer) carries the same problems as the page: code, severity, text."""
    async with console_site(tmp_path, ops_token="ops-secret") as site:
        stuck_message(site.runtime)
        resp = await site.client.get("/ops/status", headers={"Authorization": "Bearer ops-secret"})
        data = await resp.json()
        assert resp.status == 200
        assert {"inbox", "replies", "cases", "pollers", "cursors", "inbox_stuck"} <= set(data)
        [stuck] = data["problems"]
        assert stuck["code"] == "inbox_stuck" and stuck["severity"] == "critical"
        assert stuck["text"] == "1 accepted message older than 5 min not yet processed"
        assert stuck["texts"]["id"] == "1 pesan diterima lebih dari 5 menit lalu belum diproses"
        resp = await site.client.get("/ops/status")
        assert resp.status == 401
