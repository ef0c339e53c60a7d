"""Issue 14: a press of the PUAS / TIDAK PUAS button under a Telegram answer rates the chat's case.

The press is parsed by the Telegram adapter from the Bot API's callback_query, accepted and run
through the verify worker, as in production; the rating takes the chat's rating path.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from complaints import store
from complaints.models import CaseRating, Reply
from normalizer.normalize import build_envelope
from tests.channels.test_telegram import button_press, channel, request
from tests.conftest import base_settings
from tests.workers.test_rating import TICKET, _case, _closed_case, _ratings
from workers.runtime import Runtime
from workers.setup import build_runtime
from workers.verify import verify_batch

CHAT = "1111111"  # the chat of the callback_query fixture


def _press(rt: Runtime, data: str) -> list[str]:
    """Deliver one button press through the adapter and the verify worker; the reply texts queued."""
    (intake,) = channel().parse(request(button_press(data))).intakes
    (outcome,) = store.accept_batch(rt.sf, [build_envelope(intake)])
    result = verify_batch(rt, [outcome.inbox_id])
    assert not result.failed
    ids = result.follow_ups.get("send_reply", [])
    with rt.read_sf() as session:
        replies = session.scalars(select(Reply).where(Reply.id.in_(ids))).all()
        assert all((r.channel, r.address) == ("telegram", CHAT) for r in replies)
        return [r.text for r in replies]


def test_the_puas_button_records_a_rating_of_the_chats_case(tmp_path: Path) -> None:
    rt = build_runtime(base_settings(tmp_path))
    try:
        case_id = _closed_case(rt, channel="telegram", reply_channel="telegram", reply_address=CHAT)
        told = _press(rt, "rate:puas")
        assert len(told) == 1 and TICKET in told[0]
        ratings: list[CaseRating] = _ratings(rt, case_id)
        assert [(r.satisfied, r.via, r.outcome) for r in ratings] == [(True, "telegram", "recorded")]
        assert _case(rt, case_id).status == "selesai"
    finally:
        rt.close()


def test_the_tidak_puas_button_records_without_reopening(tmp_path: Path) -> None:
    """A button carries no reason: recorded, not reopened (a typed TIDAK PUAS <alasan> reopens)."""
    rt = build_runtime(base_settings(tmp_path))
    try:
        case_id = _closed_case(rt, channel="telegram", reply_channel="telegram", reply_address=CHAT)
        assert len(_press(rt, "rate:tidak_puas")) == 1
        assert [(r.satisfied, r.reason, r.outcome) for r in _ratings(rt, case_id)] == [(False, None, "recorded")]
        assert (_case(rt, case_id).status, _case(rt, case_id).reopen_count) == ("selesai", 0)
    finally:
        rt.close()


def test_a_button_press_without_an_answered_case_rates_nothing(tmp_path: Path) -> None:
    rt = build_runtime(base_settings(tmp_path))
    try:
        case_id = _closed_case(rt, channel="telegram", reply_channel="telegram", reply_address="2222222")
        _press(rt, "rate:puas")
        assert _ratings(rt, case_id) == []
    finally:
        rt.close()
