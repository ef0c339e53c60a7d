"""POST /ops/kasus/{ticket}/aksi over real HTTP: who may do what (303/403/404), CSRF, stale and racing
forms (409), refusals that keep what was typed (422), the reason reaching the citizen, follow-up photos."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from channels.storage import attachment_path
from complaints.models import CaseNote, Complaint, Reply
from config.settings import Settings
from gateway.app import create_app
from gateway.console.strings import STRINGS
from normalizer.tickets import new_ticket
from tests.gateway.test_console import Console, console_site, operator
from tests.support.cases import seed_case
from tests.support.images import png
from workers.setup import build_runtime

ID = STRINGS["id"]
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Row:
    """One action of the authorisation table, on a case in a status where it is possible."""

    action: str
    status: str
    fields: dict[str, str]
    by: str  # "operator" or "opd": the role that may take it


TABLE: tuple[Row, ...] = (
    Row("verify", "diterima", {}, "operator"),
    Row("dispose", "triase", {"opd": "dlh"}, "operator"),
    Row("reroute", "disposisi", {"opd": "dishub", "reason": "Urusan lalu lintas"}, "operator"),
    Row("return_to_citizen", "triase", {"reason_template": "kurang_jelas", "reason": "Kurang jelas."}, "operator"),
    Row("receive_answer", "dijawab", {}, "operator"),
    Row("send_back", "dijawab", {"note": "Lengkapi foto"}, "operator"),
    Row("approve", "diterima_operator", {"answer": "Sudah diperbaiki.", "publish": "1"}, "operator"),
    Row("accept", "disposisi", {}, "opd"),
    Row("return_to_operator", "disposisi", {"reason": "Bukan wewenang kami"}, "opd"),
    Row("follow_up", "dianalisa", {"note": "Sudah dicek ke lokasi"}, "opd"),
    Row("answer", "ditindaklanjuti", {"answer": "Sudah diperbaiki."}, "opd"),
)
# Statuses an OPD user can see at all (disposed to the OPD and on): elsewhere its own OPD's case is a 404 too.
OPD_VISIBLE = {"disposisi", "dianalisa", "ditindaklanjuti", "dijawab", "diterima_operator", "selesai"}

USERS: dict[str, dict[str, Any]] = {
    "operator": {"email": "operator@example.org", "role": "operator"},
    "admin": {"email": "admin@example.org", "role": "admin"},
    "opd_own": {"email": "dlh@example.org", "role": "opd", "opd_code": "dlh"},
    "opd_other": {"email": "dishub@example.org", "role": "opd", "opd_code": "dishub"},
}


def expected(user: str, row: Row) -> int:
    """The status the table above must get from ``user``."""
    if user == "opd_other":
        return 404
    if user == "opd_own":
        if row.status not in OPD_VISIBLE:
            return 404
        return 303 if row.by == "opd" else 403
    return 303 if row.by == "operator" else 403


async def login_as(site: Console, user: str) -> str:
    """Create ``user`` and log in; returns the session's CSRF token (from the inbox page's form)."""
    values = USERS[user]
    operator(site, name=user, password=PASSWORD, **values)
    site.client.session.cookie_jar.clear()
    resp = await site.login(email=values["email"], password=PASSWORD)
    assert resp.status == 303, await resp.text()
    return await site.csrf("/ops/")


def seed(site: Console, status: str, **fields: Any) -> str:
    ticket = new_ticket()
    fields.setdefault("opd_code", "dlh")
    with site.runtime.sf.begin() as session:
        seed_case(session, ticket, status, **fields)
    return ticket


def case(site: Console, ticket: str) -> Complaint:
    with site.runtime.sf() as session:
        found = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert found is not None
        session.expunge(found)
        return found


async def post(site: Console, ticket: str, token: str | None, action: str, version: int = 1, **fields: str) -> Any:
    data = {"action": action, "version": str(version), "lang": "id", **fields}
    if token is not None:
        data["csrf_token"] = token
    return await site.client.post(f"/ops/kasus/{ticket}/aksi", data=data, allow_redirects=False)


@pytest.mark.asyncio
@pytest.mark.parametrize("user", list(USERS))
async def test_authorisation_table(tmp_path: Path, user: str) -> None:
    """Every action (and a note) by every kind of user: allowed 303, forbidden 403, not visible 404."""
    async with console_site(tmp_path) as site:
        token = await login_as(site, user)
        rows = (*TABLE, Row("note", "dianalisa", {"note": "Catatan"}, "both"))
        for row in rows:
            ticket = seed(site, row.status)
            resp = await post(site, ticket, token, row.action, **row.fields)
            want = 303 if row.by == "both" and user != "opd_other" else expected(user, row)
            assert resp.status == want, (user, row.action, await resp.text())
            after = case(site, ticket)
            if want == 303:
                assert resp.headers["Location"] == f"/ops/kasus/{ticket}"
                assert after.version == (1 if row.action == "note" else 2), row.action
            else:
                assert (after.status, after.version) == (row.status, 1), row.action
                page = await resp.text()
                if want == 404:
                    # The same words whether the case exists elsewhere or not at all: nothing leaks.
                    assert ID["action_not_found_body"] in page and f"/ops/kasus/{ticket}" not in page
                else:
                    assert ID["action_forbidden_body"] in page


@pytest.mark.asyncio
async def test_unknown_ticket_and_other_opds_case_look_the_same(tmp_path: Path) -> None:
    """An OPD user posting to another OPD's ticket gets exactly the page of a ticket that does not exist."""
    async with console_site(tmp_path) as site:
        token = await login_as(site, "opd_other")
        theirs = seed(site, "disposisi")
        nobody = new_ticket()
        pages = []
        for ticket in (theirs, nobody):
            resp = await post(site, ticket, token, "accept")
            assert resp.status == 404
            pages.append((await resp.text()).replace(ticket, "TICKET"))
        assert pages[0] == pages[1]


@pytest.mark.asyncio
async def test_post_without_csrf_token_is_refused(tmp_path: Path) -> None:
    """A forged form (no token) gets 403 and changes nothing."""
    async with console_site(tmp_path) as site:
        await login_as(site, "operator")
        ticket = seed(site, "dijawab")
        resp = await post(site, ticket, None, "receive_answer")
        assert resp.status == 403 and ID["error_403_body"] in await resp.text()
        assert case(site, ticket).status == "dijawab"


@pytest.mark.asyncio
async def test_stale_version_is_a_409_that_keeps_the_text(tmp_path: Path) -> None:
    """A form from an older version of the case: 409 in words, the typed answer shown back, the case unchanged."""
    async with console_site(tmp_path) as site:
        token = await login_as(site, "operator")
        ticket = seed(site, "diterima_operator", version=3)
        answer = "Jalan sudah ditambal <b>kemarin</b>."
        resp = await post(site, ticket, token, "approve", version=2, answer=answer)
        page = await resp.text()
        assert resp.status == 409 and ID["action_changed_body"] in page
        assert "Jalan sudah ditambal &lt;b&gt;kemarin&lt;/b&gt;." in page and "<b>kemarin" not in page
        assert re.search(r"<textarea[^>]*>Jalan sudah ditambal", page)
        assert f'href="/ops/kasus/{ticket}"' in page
        after = case(site, ticket)
        assert (after.status, after.version, after.answer_text) == ("diterima_operator", 3, None)


@asynccontextmanager
async def pg_console_site(tmp_path: Path, pg_url: str) -> AsyncIterator[Console]:
    """The gateway as :func:`console_site` builds it, on PostgreSQL (row locks, concurrent transactions)."""
    settings = Settings(_env_file=None, data_dir=tmp_path / "var", redis_url=None, database_url=pg_url)  # type: ignore[call-arg]
    runtime = build_runtime(settings)
    try:
        async with TestClient(TestServer(create_app(settings, runtime))) as client:
            yield Console(client, runtime, settings)
    finally:
        runtime.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_two_posts_with_the_same_version_one_wins(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    """Two operators sending back and receiving the same answer at once: exactly one succeeds."""
    site_cm = (
        console_site(tmp_path) if database == "sqlite" else pg_console_site(tmp_path, request.getfixturevalue("pg_url"))
    )
    async with site_cm as site:
        token = await login_as(site, "operator")
        ticket = seed(site, "dijawab")
        first, second = await asyncio.gather(
            post(site, ticket, token, "receive_answer"), post(site, ticket, token, "send_back", note="Kurang foto")
        )
        assert sorted([first.status, second.status]) == [303, 409]
        after = case(site, ticket)
        assert after.version == 2 and after.status in ("diterima_operator", "ditindaklanjuti")


@pytest.mark.asyncio
async def test_step_not_possible_in_this_status_is_a_409(tmp_path: Path) -> None:
    """Approving a case the OPD has not answered yet: 409 saying the step is no longer possible."""
    async with console_site(tmp_path) as site:
        token = await login_as(site, "admin")
        ticket = seed(site, "dianalisa")
        resp = await post(site, ticket, token, "approve", answer="Sudah.")
        assert resp.status == 409 and ID["action_refused_body"] in await resp.text()
        assert case(site, ticket).status == "dianalisa"


@pytest.mark.asyncio
async def test_missing_field_is_a_422_naming_the_field(tmp_path: Path) -> None:
    """A re-route without a reason: 422 listing the field, nothing changed."""
    async with console_site(tmp_path) as site:
        token = await login_as(site, "operator")
        ticket = seed(site, "disposisi")
        resp = await post(site, ticket, token, "reroute", opd="dishub", reason=" ")
        page = await resp.text()
        assert resp.status == 422 and f"{ID['action_field_reason']}: {ID['action_err_required']}" in page
        assert case(site, ticket).opd_code == "dlh"


@pytest.mark.asyncio
async def test_return_to_citizen_queues_the_reason(tmp_path: Path) -> None:
    """The operator's reason leaves as an SMS to the citizen's number; the case waits for the citizen."""
    async with console_site(tmp_path) as site:
        token = await login_as(site, "operator")
        ticket = seed(site, "triase", opd_code=None)
        reason = "Mohon sebutkan lokasi jalan yang rusak."
        resp = await post(site, ticket, token, "return_to_citizen", reason_template="kurang_jelas", reason=reason)
        assert resp.status == 303
        complaint = case(site, ticket)
        assert complaint.status == "dikembalikan_ke_pelapor"
        with site.runtime.sf() as session:
            [reply] = session.scalars(select(Reply).where(Reply.complaint_id == complaint.id)).all()
        assert reply.kind == "returned_by_operator" and reply.channel == "sms"
        assert reply.address == complaint.reply_address and reason in reply.text
        # The flash message rides in the session (the case page shows it; the inbox does too).
        page = await (await site.client.get("/ops/")).text()
        assert ID["action_done_return_to_citizen"] in page


@pytest.mark.asyncio
async def test_follow_up_with_a_photo_and_a_refused_text_file(tmp_path: Path) -> None:
    """A PNG goes with the follow-up and is stored; a text file is refused (422) with the note shown back."""
    async with console_site(tmp_path) as site:
        token = await login_as(site, "opd_own")
        ticket = seed(site, "dianalisa")

        def form(note: str, filename: str, data: bytes, content_type: str) -> FormData:
            body = FormData()
            for name, value in (("csrf_token", token), ("action", "follow_up"), ("version", "1"), ("note", note)):
                body.add_field(name, value)
            body.add_field("photos", data, filename=filename, content_type=content_type)
            return body

        url = f"/ops/kasus/{ticket}/aksi"
        resp = await site.client.post(
            url, data=form("Sudah dicek", "catatan.txt", b"bukan foto", "image/png"), allow_redirects=False
        )
        page = await resp.text()
        assert resp.status == 422
        assert f"{ID['action_field_photos']}: {ID['action_err_photo_type']}" in page
        assert re.search(r"<textarea[^>]*>Sudah dicek</textarea>", page)
        assert case(site, ticket).status == "dianalisa"
        photo = png(3, 2)
        resp = await site.client.post(
            url, data=form("Sudah dicek", "lokasi.png", photo, "image/png"), allow_redirects=False
        )
        assert resp.status == 303
        complaint = case(site, ticket)
        assert complaint.status == "ditindaklanjuti"
        with site.runtime.sf() as session:
            [note] = session.scalars(select(CaseNote).where(CaseNote.complaint_id == complaint.id)).all()
        [file] = note.attachments["files"]  # type: ignore[index]
        assert (file["content_type"], file["size"], file["filename"]) == ("image/png", len(photo), "lokasi.png")
        assert attachment_path(site.settings.attachments_dir, file["sha256"]).read_bytes() == photo


@pytest.mark.asyncio
async def test_follow_up_takes_several_photos_within_a_bounded_body(tmp_path: Path) -> None:
    """Three photos near the upload limit pass (more than the gateway's one-photo body); a body beyond
    five photos' worth is refused with a 413 page in words."""
    limit = 100_000
    async with console_site(tmp_path, max_upload_bytes=limit) as site:
        token = await login_as(site, "opd_own")
        ticket = seed(site, "dianalisa")

        def form(count: int) -> FormData:
            body = FormData()
            for name, value in (("csrf_token", token), ("action", "follow_up"), ("version", "1"), ("note", "Foto")):
                body.add_field(name, value)
            for n in range(count):
                photo = png(n + 1, 1) + bytes(limit - 1000)  # distinct photos just under the limit
                body.add_field("photos", photo, filename=f"{n}.png", content_type="image/png")
            return body

        resp = await site.client.post(f"/ops/kasus/{ticket}/aksi", data=form(7), allow_redirects=False)
        page = await resp.text()
        assert resp.status == 413 and ID["action_too_large_body"].format(n=5, mb=1)[:40] in page
        assert case(site, ticket).status == "dianalisa"
        resp = await site.client.post(f"/ops/kasus/{ticket}/aksi", data=form(3), allow_redirects=False)
        assert resp.status == 303, await resp.text()
        with site.runtime.sf() as session:
            [note] = session.scalars(select(CaseNote)).all()
        assert [f["filename"] for f in note.attachments["files"]] == ["0.png", "1.png", "2.png"]  # type: ignore[index]
