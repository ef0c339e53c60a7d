"""The answer's delivery in the console over real HTTP: the inbox flag, the status list, resend, mark read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from complaints import store
from complaints.models import Complaint, HistoryEntry, Reply
from gateway.console.strings import STRINGS
from tests.gateway.test_console import Console, console_site, operator
from tests.support.cases import EMAIL, PHONE, seed_case

ID = STRINGS["id"]
EN = STRINGS["en"]
SMTP = {"smtp_host": "127.0.0.1", "mail_from": "pengaduan@kotabogor.go.id"}
KANNEL = {
    "kannel_sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
    "kannel_username": "u",
    "kannel_password": "p",
    "kannel_inbound_token": "t",
}
ANSWER = "Lubang sudah ditambal."


def _failed_case(site: Console, ticket: str, **fields: Any) -> str:
    """A closed case whose SMS answer failed: flagged ``delivery_failed``, its reply row failed."""
    values: dict[str, Any] = {
        "answer_text": ANSWER,
        "attention": "delivery_failed",
        "reply_provider": "kannel",
        "opd_code": "pupr",
    }
    values.update(fields)
    with site.runtime.sf.begin() as session:
        case = seed_case(session, ticket, "selesai", deadline_in=None, **values)
        reply_id = store.queue_reply(
            session,
            dedupe_key=f"{case.id}:answer",
            kind="answer",
            channel="sms",
            provider="kannel",
            address=PHONE,
            text=f"{ticket}: {ANSWER}",
            complaint_id=case.id,
        )
        row = session.get(Reply, reply_id)
        assert row is not None
        row.status, row.error = "failed", "provider reported failure"
        return case.id


async def _login(site: Console, **fields: Any) -> None:
    operator(site, **fields)
    resp = await site.login()
    assert resp.status == 303


async def _post(site: Console, path: str, **data: str) -> Any:
    token = await site.csrf("/ops/")
    return await site.client.post(path, data={"csrf_token": token, "lang": "id", **data}, allow_redirects=False)


def _state(site: Console, case_id: str) -> tuple[Complaint, list[str], list[Reply]]:
    with site.runtime.read_sf() as session:
        case = session.get(Complaint, case_id)
        assert case is not None
        actions = list(session.scalars(select(HistoryEntry.action).where(HistoryEntry.complaint_id == case_id)))
        replies = list(session.scalars(select(Reply).where(Reply.complaint_id == case_id).order_by(Reply.created_at)))
        return case, actions, replies


@pytest.mark.asyncio
async def test_inbox_lists_flagged_cases_with_their_marker_and_filter(tmp_path: Path) -> None:
    """Closed cases with a failed delivery or a new message show in the inbox, marked; the filter keeps only them."""
    async with console_site(tmp_path) as site:
        _failed_case(site, "BGR-4C4C4C2")
        with site.runtime.sf.begin() as session:
            seed_case(session, "BGR-4C4C4C3", "selesai", deadline_in=None, attention="citizen_message")
            seed_case(session, "BGR-4C4C4C4", "selesai", deadline_in=None)  # closed, nothing to do
            seed_case(session, "BGR-4C4C4C5", "triase")
        await _login(site)
        page = await (await site.client.get("/ops/")).text()
        assert re.findall(r'href="/ops/kasus/(BGR-[0-9A-Z]+)"', page) == ["BGR-4C4C4C5", "BGR-4C4C4C2", "BGR-4C4C4C3"]
        assert ID["attention_delivery_failed"] in page and ID["attention_citizen_message"] in page
        assert ID["inbox_attention_only"] in page
        page = await (await site.client.get("/ops/?attention=1")).text()
        assert re.findall(r'href="/ops/kasus/(BGR-[0-9A-Z]+)"', page) == ["BGR-4C4C4C2", "BGR-4C4C4C3"]
        assert 'name="attention" value="1" checked' in page
        page = await (await site.client.get("/ops/?attention=1&lang=en")).text()
        assert EN["attention_delivery_failed"] in page


@pytest.mark.asyncio
async def test_delivery_page_shows_status_masked_and_the_resend_form(tmp_path: Path) -> None:
    """The delivery section lists the failed answer (address masked) and offers to send it again."""
    async with console_site(tmp_path, **SMTP, **KANNEL) as site:
        _failed_case(site, "BGR-4C4C4C6")
        await _login(site)
        resp = await site.client.get("/ops/kasus/BGR-4C4C4C6/pengiriman")
        page = await resp.text()
        assert resp.status == 200
        assert ID["delivery_status_failed"] in page and ID["delivery_kind_answer"] in page
        assert PHONE not in page and "+62812****5432" in page
        assert 'action="/ops/kasus/BGR-4C4C4C6/kirim-ulang"' in page and ID["resend_submit"] in page
        assert ID["delivery_failed_notice"] in page


@pytest.mark.asyncio
async def test_resend_by_email_queues_the_answer_and_clears_the_flag(tmp_path: Path) -> None:
    """Send again by e-mail to the complaint's address: a new answer row, the flag cleared, history recorded."""
    async with console_site(tmp_path, **SMTP, **KANNEL) as site:
        case_id = _failed_case(site, "BGR-4C4C4C7")
        await _login(site)
        resp = await _post(site, "/ops/kasus/BGR-4C4C4C7/kirim-ulang", via="email")
        assert resp.status == 303, await resp.text()
        assert resp.headers["Location"] == "/ops/kasus/BGR-4C4C4C7?lang=id#pengiriman"
        case, actions, replies = _state(site, case_id)
        assert case.attention is None and "answer_resent" in actions
        assert [(r.channel, r.provider, r.address, r.status) for r in replies] == [
            ("sms", "kannel", PHONE, "failed"),
            ("email", "email", EMAIL, "queued"),
        ]
        assert ANSWER in replies[1].text
        page = await (await site.client.get("/ops/kasus/BGR-4C4C4C7/pengiriman")).text()
        assert ID["resend_done"] in page and 'action="/ops/kasus/BGR-4C4C4C7/kirim-ulang"' not in page


@pytest.mark.asyncio
async def test_resend_by_sms_to_a_number_the_operator_typed(tmp_path: Path) -> None:
    """An operator-typed number is normalised (0812... -> +62812...) and used; the history does not hold it."""
    async with console_site(tmp_path, **KANNEL) as site:
        case_id = _failed_case(site, "BGR-4C4C4C8")
        await _login(site)
        resp = await _post(site, "/ops/kasus/BGR-4C4C4C8/kirim-ulang", via="sms", address="0813-1111-2222")
        assert resp.status == 303
        case, _, replies = _state(site, case_id)
        assert (replies[-1].channel, replies[-1].address) == ("sms", "+6281311112222")
        with site.runtime.read_sf() as session:
            notes = " ".join(n or "" for n in session.scalars(select(HistoryEntry.note)))
        assert "1111" not in notes


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("settings", "data", "message"),
    [
        (KANNEL, {"via": "sms", "address": "12345"}, "resend_bad_phone"),
        (SMTP, {"via": "email", "address": "not-an-address"}, "resend_bad_email"),
        (KANNEL, {"via": "email"}, "resend_email_off"),
        ({}, {"via": "sms"}, "resend_sms_off"),
        (KANNEL, {"via": "fax"}, "resend_bad_via"),
    ],
)
async def test_unusable_resend_is_refused_with_the_reason(
    tmp_path: Path, settings: dict[str, str], data: dict[str, str], message: str
) -> None:
    """A bad address, a route not set up or an unknown route: 422 naming it, nothing queued, still flagged."""
    async with console_site(tmp_path, **settings) as site:
        case_id = _failed_case(site, "BGR-4C4C4C9")
        await _login(site)
        resp = await _post(site, "/ops/kasus/BGR-4C4C4C9/kirim-ulang", **data)
        page = await resp.text()
        assert resp.status == 422 and ID[message] in page
        assert data.get("address", "") in page  # what was typed is kept in the form
        case, actions, replies = _state(site, case_id)
        assert case.attention == "delivery_failed" and len(replies) == 1 and "answer_resent" not in actions


@pytest.mark.asyncio
async def test_resend_when_nothing_failed_is_a_conflict(tmp_path: Path) -> None:
    """A case whose flag was already cleared (another operator resent it) is not sent a third time."""
    async with console_site(tmp_path, **SMTP) as site:
        case_id = _failed_case(site, "BGR-4C4C4CA", attention=None)
        await _login(site)
        resp = await _post(site, "/ops/kasus/BGR-4C4C4CA/kirim-ulang", via="email")
        assert resp.status == 409 and ID["resend_not_needed"] in await resp.text()
        assert len(_state(site, case_id)[2]) == 1


@pytest.mark.asyncio
async def test_opd_users_may_look_but_not_resend(tmp_path: Path) -> None:
    """Own OPD's case: status visible, no form, POST 403. Another OPD's case or an unknown ticket: 404."""
    async with console_site(tmp_path, **SMTP) as site:
        own = _failed_case(site, "BGR-4C4C4CB")
        other = _failed_case(site, "BGR-4C4C4CC", opd_code="dlh")
        await _login(site, role="opd", opd_code="pupr")
        resp = await site.client.get("/ops/kasus/BGR-4C4C4CB/pengiriman")
        page = await resp.text()
        assert resp.status == 200 and ID["delivery_status_failed"] in page and "kirim-ulang" not in page
        assert "provider reported failure" not in page
        assert (await _post(site, "/ops/kasus/BGR-4C4C4CB/kirim-ulang", via="email")).status == 403
        assert (await _post(site, "/ops/kasus/BGR-4C4C4CB/tandai")).status == 403
        assert (await _post(site, "/ops/kasus/BGR-4C4C4CC/kirim-ulang", via="email")).status == 404
        assert (await site.client.get("/ops/kasus/BGR-4C4C4CC/pengiriman")).status == 404
        assert (await site.client.get("/ops/kasus/BGR-2222222/pengiriman")).status == 404
        for case_id in (own, other):
            case, _, replies = _state(site, case_id)
            assert case.attention == "delivery_failed" and len(replies) == 1


@pytest.mark.asyncio
async def test_resend_without_csrf_token_changes_nothing(tmp_path: Path) -> None:
    """A forged form (no CSRF token) is refused before it reaches the handler."""
    async with console_site(tmp_path, **SMTP) as site:
        case_id = _failed_case(site, "BGR-4C4C4CD")
        await _login(site)
        resp = await site.client.post("/ops/kasus/BGR-4C4C4CD/kirim-ulang", data={"via": "email"})
        assert resp.status == 403
        case, _, replies = _state(site, case_id)
        assert case.attention == "delivery_failed" and len(replies) == 1


@pytest.mark.asyncio
async def test_citizen_message_is_marked_read(tmp_path: Path) -> None:
    """The mark-read form clears the flag and records it; the case leaves the inbox; a second post is a 409."""
    async with console_site(tmp_path) as site:
        with site.runtime.sf.begin() as session:
            case_id = seed_case(session, "BGR-4C4C4CE", "selesai", deadline_in=None, attention="citizen_message").id
        await _login(site)
        page = await (await site.client.get("/ops/kasus/BGR-4C4C4CE/pengiriman?lang=en")).text()
        assert EN["citizen_message_notice"] in page and EN["mark_read_submit"] in page
        resp = await _post(site, "/ops/kasus/BGR-4C4C4CE/tandai")
        assert resp.status == 303
        case, actions, _ = _state(site, case_id)
        assert case.attention is None and "citizen_message_read" in actions
        assert "BGR-4C4C4CE" not in await (await site.client.get("/ops/")).text()
        resp = await _post(site, "/ops/kasus/BGR-4C4C4CE/tandai")
        assert resp.status == 409 and ID["mark_read_not_needed"] in await resp.text()
