"""The app: an approved answer is readable through the app API (the push is only the nudge)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from complaints.answers import queue_answer
from complaints.models import Complaint
from tests.gateway.test_app_api import Api, api  # noqa: F401 - the fixture is used by name

ANSWER = "Lampu PJU di Jl. Pajajaran sudah diganti pada Kamis malam."


async def test_answer_shows_in_mine_for_the_device(api: Api) -> None:  # noqa: F811 - pytest fixture
    """After approval the answer is a reply to the device: /mine lists it with kind "answer"."""
    token = await api.register()
    ticket = await api.ticket(token)
    await api.run_workers()

    def approve() -> list[str]:
        with api.runtime.sf.begin() as session:
            case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
            assert case is not None and case.reply_channel == "app"
            case.answer_text = ANSWER
            return queue_answer(session, case, config=api.runtime.config, settings=api.runtime.settings)

    assert len(await asyncio.to_thread(approve)) == 1
    resp = await api.client.get(f"/api/v1/complaints/{ticket}/mine", headers=api.auth(token))
    body = await resp.json()
    answers = [r for r in body["replies"] if r["kind"] == "answer"]
    assert len(answers) == 1 and ANSWER in answers[0]["text"] and ticket in answers[0]["text"]
