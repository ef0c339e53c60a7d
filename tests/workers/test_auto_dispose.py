"""AUTO_DISPOSE: the routing stage disposes a clear match at once (default) or leaves it for the operator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from complaints import lifecycle
from complaints.models import Complaint, HistoryEntry, Reply
from complaints.queries import InboxFilters, Viewer, inbox
from normalizer.envelope import utcnow
from normalizer.tickets import new_ticket
from tests.conftest import base_settings
from tests.support.cases import seed_case
from workers.route import route_batch
from workers.runtime import Runtime
from workers.setup import build_runtime
from workers.sweeper import sweep_once

TEXT = "Jalan berlubang di depan sekolah, sudah sebulan tidak diperbaiki."


@pytest.fixture(params=[True, False], ids=["auto", "manual"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on SQLite with AUTO_DISPOSE on or off."""
    rt = build_runtime(base_settings(tmp_path, auto_dispose=request.param))
    yield rt
    rt.close()


def _verified_case(runtime: Runtime) -> str:
    with runtime.sf.begin() as session:
        return seed_case(session, new_ticket(), "diverifikasi", text=TEXT, subject=None).id


def test_route_stage_honours_auto_dispose(runtime: Runtime) -> None:
    """On: the case goes to disposisi at PUPR. Off: it stays diverifikasi with the proposal, in the operator inbox."""
    case_id = _verified_case(runtime)
    result = route_batch(runtime, [case_id])
    assert not result.failed and result.follow_ups.get("send_reply")
    with runtime.read_sf() as session:
        case = session.get(Complaint, case_id)
        assert case is not None and case.opd_code == "pupr" and case.routing_matched
        waiting = [c.id for c in inbox(session, Viewer("operator"), InboxFilters(), auto_dispose=False).cases]
        pupr = [c.id for c in inbox(session, Viewer("opd", "pupr"), InboxFilters()).cases]
        (reply,) = session.scalars(select(Reply).where(Reply.complaint_id == case_id)).all()
        if runtime.settings.auto_dispose:
            assert case.status == "disposisi" and pupr == [case_id] and waiting == []
        else:
            assert case.status == "diverifikasi" and pupr == [] and waiting == [case_id]
            assert case.ticket in reply.text
            actions = session.scalars(select(HistoryEntry.action).where(HistoryEntry.complaint_id == case_id)).all()
            assert actions == ["proposed"]


def test_a_proposed_case_is_not_routed_again_by_a_sweep(tmp_path: Path) -> None:
    """With AUTO_DISPOSE off, the sweeper leaves a proposed case alone and a repeated route does nothing."""
    rt = build_runtime(base_settings(tmp_path, auto_dispose=False))
    try:
        case_id = _verified_case(rt)
        assert route_batch(rt, [case_id]).follow_ups.get("send_reply")
        with rt.sf.begin() as session:  # as if the case had waited longer than the sweep interval
            old = utcnow() - timedelta(hours=1)
            session.execute(update(Complaint).where(Complaint.id == case_id).values(updated_at=old))
        assert sweep_once(rt)["route_to_opd"] == 0
        assert route_batch(rt, [case_id]).follow_ups == {}
        with rt.read_sf() as session:
            assert len(session.scalars(select(Reply).where(Reply.complaint_id == case_id)).all()) == 1
    finally:
        rt.close()


# part-clock
def test_a_case_left_to_the_operator_counts_working_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTO_DISPOSE off: a case proposed on Saturday 10:00 WIB is due Monday 09:00 (60 working minutes), not 11:00."""
    saturday = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # 10:00 WIB
    monkeypatch.setattr(lifecycle, "utcnow", lambda: saturday)
    rt = build_runtime(base_settings(tmp_path, auto_dispose=False))
    try:
        case_id = _verified_case(rt)
        route_batch(rt, [case_id])
        with rt.read_sf() as session:
            case = session.get(Complaint, case_id)
            assert case is not None and case.status == "diverifikasi"
            assert case.step_deadline_at is not None
            assert case.step_deadline_at.replace(tzinfo=UTC) == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 09:00 WIB
    finally:
        rt.close()
