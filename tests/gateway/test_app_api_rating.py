"""Issue 14: the app rates the delivered answer (POST /api/v1/complaints/{ticket}/rating), over real HTTP.

The same path as an SMS reply: a ``case_ratings`` row via ``app``; ``tidak_puas`` with a reason reopens.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from complaints.models import CaseRating, Complaint
from normalizer.envelope import utcnow
from tests.gateway.test_app_api import Api, api  # noqa: F401 - the fixture is used by name


async def _answered_ticket(api: Api, token: str, *, closed_ago: timedelta = timedelta(hours=2)) -> str:  # noqa: F811
    """A complaint of the device, verified by the workers, then answered and closed ``closed_ago``."""
    ticket = await api.ticket(token)
    await api.run_workers()

    def close() -> None:
        with api.runtime.sf.begin() as session:
            case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
            assert case is not None and case.reply_channel == "app"
            case.status, case.opd_code, case.answer_text = "selesai", "pupr", "Sudah ditambal."
            case.closed_at = utcnow() - closed_ago

    await asyncio.to_thread(close)
    return ticket


def _state(api: Api, ticket: str) -> tuple[str, int, list[tuple[bool, str | None, str, str]]]:  # noqa: F811
    """The case's status, reopen count and ratings (satisfied, reason, via, outcome) in order."""
    with api.runtime.read_sf() as session:
        case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        rows = session.scalars(select(CaseRating).where(CaseRating.complaint_id == case.id).order_by(CaseRating.at))
        return case.status, case.reopen_count, [(r.satisfied, r.reason, r.via, r.outcome) for r in rows]


async def test_the_app_rates_puas_and_then_tidak_puas_reopens(api: Api) -> None:  # noqa: F811
    token = await api.register()
    ticket = await _answered_ticket(api, token)
    url = f"/api/v1/complaints/{ticket}/rating"

    resp = await api.client.post(url, json={"rating": "puas"}, headers=api.auth(token))
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"ticket": ticket, "outcome": "recorded", "status": "selesai"}

    resp = await api.client.post(
        url, json={"rating": "tidak_puas", "reason": " Masih  berlubang "}, headers=api.auth(token)
    )
    assert resp.status == 200
    assert await resp.json() == {"ticket": ticket, "outcome": "reopened", "status": "ditindaklanjuti"}
    status, reopens, ratings = _state(api, ticket)
    assert status == "ditindaklanjuti" and reopens == 1
    assert ratings == [(True, None, "app", "recorded"), (False, "Masih berlubang", "app", "reopened")]

    # Reopened, the case is no longer answered: no rating until the new answer is delivered.
    resp = await api.client.post(url, json={"rating": "puas"}, headers=api.auth(token))
    assert resp.status == 409 and (await resp.json())["error"] == "not_rateable"


async def test_only_the_owning_device_may_rate_and_bad_bodies_are_422(api: Api) -> None:  # noqa: F811
    owner, other = await api.register(), await api.register()
    ticket = await _answered_ticket(api, owner)
    url = f"/api/v1/complaints/{ticket}/rating"
    assert (await api.client.post(url, json={"rating": "puas"}, headers=api.auth(other))).status == 404
    assert (await api.client.post(url, json={"rating": "puas"})).status == 401
    resp = await api.client.post(url, json={"rating": "sangat", "reason": 5}, headers=api.auth(owner))
    assert resp.status == 422
    assert (await resp.json())["codes"] == {"rating": "not_allowed", "reason": "type"}
    resp = await api.client.post(url, json={}, headers=api.auth(owner))
    assert resp.status == 422 and (await resp.json())["codes"] == {"rating": "missing"}
    assert _state(api, ticket)[2] == []


async def test_no_rating_after_the_rating_period(api: Api) -> None:  # noqa: F811
    token = await api.register()
    ticket = await _answered_ticket(api, token, closed_ago=timedelta(days=40))
    resp = await api.client.post(
        f"/api/v1/complaints/{ticket}/rating", json={"rating": "puas"}, headers=api.auth(token)
    )
    assert resp.status == 409
    assert _state(api, ticket) == ("selesai", 0, [])
