"""/ops/health/dead-letters over real HTTP: the list, one message, requeue and discard, 403 for OPD users.

The dead letters here are put where the embedded broker keeps them (the worker path that puts
them there is tested in tests/workers/test_dead_letter_queue.py and in the browser test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from sqlalchemy import select

from complaints.models import Complaint, DeadLetterAction, InboxMessage
from gateway.console.strings import STRINGS
from normalizer.tickets import new_ticket
from tests.gateway.test_console import EMAIL, PASSWORD, Console, console_site, operator
from tests.support.cases import PHONE, seed_case
from workers.broker import QUEUE
from workers.queue_inspect import queue_depths

ID = STRINGS["id"]
PAGE = "/ops/health/dead-letters"


def bury(site: Console, actor: str, ids: list[str], error: str) -> str:
    """Put a message on the embedded broker's dead-letter list the way its consumer's nack does."""
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=QUEUE,
        actor_name=actor,
        args=(ids,),
        kwargs={},
        options={
            "retries": 3,
            "traceback": f"Traceback...\nRuntimeError: {error}",
            "requeue_timestamp": 1_760_000_000_000,
        },
    )
    site.runtime.broker.dead_letters_by_queue[QUEUE].append(MessageProxy(message))  # type: ignore[attr-defined]
    return message.message_id


async def post(site: Console, data: dict[str, Any]) -> Any:
    """POST the list page's form with its CSRF token, without following the redirect."""
    token = await site.csrf(PAGE)
    return await site.client.post(PAGE, data={"csrf_token": token, "lang": "id", **data}, allow_redirects=False)


def seeded(site: Console) -> tuple[str, str]:
    """A case in triage and its inbox id."""
    ticket = new_ticket()
    with site.runtime.sf.begin() as session:
        case = seed_case(session, ticket, "triase")
        return ticket, case.id


@pytest.mark.asyncio
async def test_operator_sees_dead_letters_in_words_with_the_case_link_and_no_personal_data(tmp_path: Path) -> None:
    """The list names the stage, the error (a phone number in it masked), the case; the detail page its rows."""
    async with console_site(tmp_path) as site:
        operator(site)
        assert (await site.login()).status == 303
        ticket, case_id = seeded(site)
        message_id = bury(site, "route_to_opd", [case_id], f"no route for {PHONE}")
        page = await (await site.client.get(PAGE)).text()
        assert ID["dlq_actor_route_to_opd"] in page and ticket in page and f"/ops/kasus/{ticket}" in page
        assert "2025-10-09 15:53:20 WIB" in page  # the time of death in Kota Bogor's time
        assert "[PHONE]" in page and PHONE not in page
        assert message_id in page
        detail = await site.client.get(f"{PAGE}/{message_id}")
        text = await detail.text()
        assert detail.status == 200 and case_id in text and "triase" in text and PHONE not in text
        english = await (await site.client.get(f"{PAGE}/{message_id}?lang=en")).text()
        assert STRINGS["en"]["dlq_field_message_id"] in english and STRINGS["en"]["dlq_requeue_this"] in english
        assert (await site.client.get(f"{PAGE}/no-such-message")).status == 404
        assert (await site.client.get(f"{PAGE}/{'x' * 65}")).status == 404


@pytest.mark.asyncio
async def test_requeue_selected_puts_the_message_back_and_resets_its_row(tmp_path: Path) -> None:
    """Requeue: the message leaves the list for its queue, the dead inbox row is accepted again, a flash says so."""
    async with console_site(tmp_path) as site:
        user = operator(site).user
        assert (await site.login()).status == 303
        ticket, _ = seeded(site)
        with site.runtime.sf.begin() as session:
            inbox = session.scalar(select(InboxMessage).where(InboxMessage.ticket == ticket))
            inbox.state, inbox.attempts, inbox_id = "dead", 9, inbox.id
        message_id = bury(site, "verify_intake", [inbox_id], "database went away")
        other = bury(site, "verify_intake", ["unknown-row"], "database went away")

        refused = await post(site, {"action": "requeue_selected"})
        assert refused.status == 422 and ID["dlq_err_none_selected"] in await refused.text()

        resp = await post(site, {"action": "requeue_selected", "ids": message_id})
        assert resp.status == 303 and resp.headers["Location"].startswith(PAGE)
        page = await (await site.client.get(resp.headers["Location"])).text()
        assert ID["dlq_done_requeue"].format(n=1, rows=1) in page
        assert message_id not in page.split(ID["dlq_recent"])[0] and other in page
        [depth] = queue_depths(site.runtime.broker)
        assert (depth.ready, depth.dead) == (1, 1)
        with site.runtime.read_sf() as session:
            row = session.get(InboxMessage, inbox_id)
            assert (row.state, row.attempts) == ("accepted", 0)
            [action] = session.scalars(select(DeadLetterAction)).all()
        assert (action.actor, action.action, action.message_id) == (f"staff:{user.id}", "requeue", message_id)
        assert ID["dlq_who_staff"].format(id=user.id) in page  # the recent actions list


@pytest.mark.asyncio
async def test_discard_needs_a_reason_and_is_recorded(tmp_path: Path) -> None:
    """Discard without a reason is refused (nothing removed); with one, every message goes and the reason is kept."""
    async with console_site(tmp_path) as site:
        operator(site)
        assert (await site.login()).status == 303
        first = bury(site, "send_reply", ["r1"], "provider down")
        second = bury(site, "send_reply", ["r2"], "provider down")
        refused = await post(site, {"action": "discard_all", "reason": "  "})
        assert refused.status == 422 and ID["dlq_err_reason_missing"] in await refused.text()
        assert queue_depths(site.runtime.broker)[0].dead == 2
        resp = await post(site, {"action": "discard_all", "reason": "test messages from the pilot"})
        assert resp.status == 303
        page = await (await site.client.get(resp.headers["Location"])).text()
        assert ID["dlq_done_discard"].format(n=2) in page and ID["dlq_empty"] in page
        assert "test messages from the pilot" in page
        assert queue_depths(site.runtime.broker)[0].ready == 0
        with site.runtime.read_sf() as session:
            actions = {(a.message_id, a.action, a.reason) for a in session.scalars(select(DeadLetterAction))}
        assert actions == {(m, "discard", "test messages from the pilot") for m in (first, second)}


@pytest.mark.asyncio
async def test_opd_users_may_not_see_or_act_on_dead_letters(tmp_path: Path) -> None:
    """An OPD user gets 403 on the list, one message and the form; nothing changes."""
    async with console_site(tmp_path) as site:
        operator(site, role="opd", opd_code="dlh")
        assert (await site.login(EMAIL, PASSWORD)).status == 303
        message_id = bury(site, "send_reply", ["r1"], "provider down")
        assert (await site.client.get(PAGE)).status == 403
        assert (await site.client.get(f"{PAGE}/{message_id}")).status == 403
        token = await site.csrf("/ops/")
        resp = await site.client.post(PAGE, data={"csrf_token": token, "action": "requeue_all"}, allow_redirects=False)
        assert resp.status == 403
        assert queue_depths(site.runtime.broker)[0].dead == 1
        with site.runtime.read_sf() as session:
            assert session.scalars(select(DeadLetterAction)).all() == []
            assert session.scalars(select(Complaint)).all() == []


@pytest.mark.asyncio
async def test_dead_inbox_rows_are_listed_and_processed_again(tmp_path: Path) -> None:
    """An inbox message dead on its row is listed with its case link; "process again" queues it and records who."""
    async with console_site(tmp_path) as site:
        user = operator(site).user
        assert (await site.login()).status == 303
        ticket, _ = seeded(site)
        with site.runtime.sf.begin() as session:
            inbox = session.scalar(select(InboxMessage).where(InboxMessage.ticket == ticket))
            inbox.state, inbox.attempts, inbox.error, inbox_id = "dead", 9, f"ValueError: bad {PHONE}", inbox.id
        page = await (await site.client.get(PAGE)).text()
        section = page.split(ID["dlq_rows_title"])[1].split(ID["dlq_recent"])[0]
        assert ID["dlq_rows_total"].format(n=1) in section and f"/ops/kasus/{ticket}" in section
        assert "ValueError: bad [PHONE]" in section and PHONE not in page
        refused = await post(site, {"action": "retry_rows"})
        assert refused.status == 422
        resp = await post(site, {"action": "retry_rows", "rows": inbox_id})
        assert resp.status == 303
        page = await (await site.client.get(resp.headers["Location"])).text()
        assert ID["dlq_done_rows"].format(n=1) in page and ID["dlq_rows_none"] in page
        assert queue_depths(site.runtime.broker)[0].ready == 1
        with site.runtime.read_sf() as session:
            assert session.get(InboxMessage, inbox_id).state == "accepted"
            [action] = session.scalars(select(DeadLetterAction)).all()
        assert (action.actor, action.message_id) == (f"staff:{user.id}", f"inbox:{inbox_id}")
