"""The case page at /ops/kasus/{ticket} over real HTTP: masking and recorded reveals, who may open it,
the conversation and history, the action forms per role, escaping, files, processing and 404 pages."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

from channels.storage import store_bytes
from complaints import actions
from complaints.models import CaseNote, Complaint, HistoryEntry, InboxMessage, PersonalDataView, Reply
from complaints.queries import Viewer
from gateway.console.auth import COOKIE_NAME, password_fingerprint
from gateway.console.strings import STRINGS
from normalizer.envelope import new_id, utcnow
from normalizer.tickets import new_ticket
from tests.gateway.test_console import SCRIPT, Console, console_site, forged_cookie, operator
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case
from tests.support.frozen import freeze_console_clock
from tests.support.images import png

ID = STRINGS["id"]
EN = STRINGS["en"]
IMG = '<img src=x onerror="alert(2)">'
OPD_EMAIL = "dlh@example.org"
OTHER_EMAIL = "dishub@example.org"
PASSWORD = "correct horse battery"

# What unmasked personal data looks like in a page, and where a masked page must not show it.
SECRETS = (NIK, NAME, PHONE, EMAIL, ADDRESS, "Pajajaran", "Rahmawati", "siti.rahma")


def _users(site: Console) -> dict[str, int]:
    """An operator, a DLH user and a Dishub user; returns their ids by role label."""
    ids = {"operator": operator(site).user.id}
    ids["dlh"] = operator(site, email=OPD_EMAIL, name="Dewi DLH", role="opd", opd_code="dlh").user.id
    ids["dishub"] = operator(site, email=OTHER_EMAIL, name="Bayu Dishub", role="opd", opd_code="dishub").user.id
    return ids


async def _login_as(site: Console, email: str) -> None:
    site.client.session.cookie_jar.clear()
    resp = await site.login(email=email, password=PASSWORD)
    assert resp.status == 303, await resp.text()


def _pii_views(site: Console) -> list[tuple[str, int]]:
    with site.runtime.sf() as db:
        return [(v.complaint_id, v.user_id) for v in db.scalars(select(PersonalDataView))]


def _form(page: str, action: str) -> str:
    """The whole ``<form>`` of ``action``."""
    at = page.index(f'id="form-{action}"')
    return page[page.rindex("<form", 0, at) :].split("</form>")[0]


def _forms(page: str) -> list[str]:
    """The action buttons the page offers, in order."""
    return re.findall(r'<button type="submit" name="action" value="([a-z_]+)">', page)


@pytest.mark.asyncio
async def test_operator_sees_masked_data_and_a_reveal_is_recorded(tmp_path: Path) -> None:
    """Personal data is masked by default; ?identitas=1 shows it and writes exactly one pii_views row."""
    async with console_site(tmp_path) as site:
        ids = _users(site)
        ticket = new_ticket()
        with site.runtime.sf.begin() as db:
            case_id = seed_case(db, ticket, "triase").id
        await _login_as(site, "Operator@Example.org")
        resp = await site.client.get(f"/ops/kasus/{ticket}")
        page = await resp.text()
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        for secret in SECRETS:
            assert secret not in page, secret
        assert "************0001" in page  # NIK: the last four digits
        assert "*********5432" in page  # phone: the last four digits
        assert "S*** R***" in page and "s***@example.net" in page
        assert ID["case_identity_show"] in page and ID["case_identity_recorded"] in page
        assert _pii_views(site) == []
        resp = await site.client.get(f"/ops/kasus/{ticket}?identitas=1")
        page = await resp.text()
        assert resp.status == 200
        for secret in (NIK, NAME, PHONE, EMAIL, ADDRESS):
            assert secret in page, secret
        assert ID["case_identity_revealed"] in page
        assert _pii_views(site) == [(case_id, ids["operator"])]
        # No link in the page carries personal data (it is in the body only).
        for href in re.findall(r'href="([^"]*)"', page):
            assert not any(secret in href for secret in SECRETS), href


@pytest.mark.asyncio
async def test_opd_sees_its_own_case_and_another_opd_gets_404_everywhere(tmp_path: Path) -> None:
    """A DLH user opens (and, where OPDs see identities, reveals) a DLH case; a Dishub user gets 404 for the
    page, the reveal and the file."""
    async with console_site(tmp_path, opd_sees_identity=True) as site:
        ids = _users(site)
        photo = png(4, 4)
        sha = store_bytes(site.settings.attachments_dir, photo)
        ticket = new_ticket()
        files = {"files": [{"sha256": sha, "size": len(photo), "content_type": "image/png", "filename": "lubang.png"}]}
        with site.runtime.sf.begin() as db:
            case_id = seed_case(db, ticket, "disposisi", opd_code="dlh", attachments=files).id
        await _login_as(site, OTHER_EMAIL)
        for path in (f"/ops/kasus/{ticket}", f"/ops/kasus/{ticket}?identitas=1", f"/ops/berkas/{ticket}/{sha}"):
            resp = await site.client.get(path)
            page = await resp.text()
            assert resp.status == 404, path
            assert ID["error_404_title"] in page and ticket not in page, path
            for secret in SECRETS:
                assert secret not in page
        assert _pii_views(site) == []
        await _login_as(site, OPD_EMAIL)
        resp = await site.client.get(f"/ops/kasus/{ticket}")
        page = await resp.text()
        assert resp.status == 200 and NIK not in page
        assert f'href="/ops/berkas/{ticket}/{sha}"' in page and "lubang.png" in page
        resp = await site.client.get(f"/ops/berkas/{ticket}/{sha}")
        assert resp.status == 200 and await resp.read() == photo
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.headers["Content-Disposition"] == "inline"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert (await site.client.get(f"/ops/berkas/{ticket}/{'0' * 64}")).status == 404  # not this case's file
        resp = await site.client.get(f"/ops/kasus/{ticket}?identitas=1")
        assert resp.status == 200 and NIK in await resp.text()
        assert _pii_views(site) == [(case_id, ids["dlh"])]


@pytest.mark.asyncio
async def test_not_logged_in_is_sent_to_login(tmp_path: Path) -> None:
    """Without a session the case page, the reveal and a file redirect to the login page."""
    async with console_site(tmp_path) as site:
        ticket = new_ticket()
        with site.runtime.sf.begin() as db:
            seed_case(db, ticket, "triase")
        for path in (f"/ops/kasus/{ticket}", f"/ops/kasus/{ticket}?identitas=1", f"/ops/berkas/{ticket}/{'a' * 64}"):
            resp = await site.client.get(path, allow_redirects=False)
            assert resp.status == 303 and resp.headers["Location"].startswith("/ops/login"), path
        assert _pii_views(site) == []


@pytest.mark.asyncio
async def test_conversation_in_time_order_and_history_names_the_staff(tmp_path: Path) -> None:
    """The first message, a citizen message, a failed reply with its error, an internal note, in time order;
    the history names the staff member who moved the case; the OPD notice shows without its address."""
    async with console_site(tmp_path) as site:
        ids = _users(site)
        ticket = new_ticket()
        now = utcnow()
        with site.runtime.sf.begin() as db:
            case = seed_case(
                db, ticket, "dikembalikan_ke_operator", opd_code="dlh", created_at=now - timedelta(hours=5)
            )
            reply = dict(channel="sms", provider="test", address=PHONE, created_at=now, updated_at=now)
            db.add_all(
                [
                    CaseNote(
                        complaint_id=case.id,
                        at=now - timedelta(hours=1),
                        author_id=None,
                        author_role="citizen",
                        kind="citizen_message",
                        text="Sudah seminggu belum diperbaiki",
                        internal=False,
                    ),
                    Reply(
                        id=new_id(),
                        dedupe_key=f"{case.id}:ack",
                        complaint_id=case.id,
                        kind="ack",
                        text="Pengaduan Anda kami terima",
                        status="failed",
                        error="SMSC rejected: 0x45",
                        **{**reply, "created_at": now - timedelta(hours=4)},
                    ),
                    Reply(
                        id=new_id(),
                        dedupe_key=f"{case.id}:opd_notice",
                        complaint_id=case.id,
                        kind="opd_notice",
                        text="Kasus baru untuk DLH",
                        status="sent",
                        **{
                            **reply,
                            "address": "secret-opd-inbox@bogor.example",
                            "channel": "email",
                            "created_at": now - timedelta(hours=3),
                        },
                    ),
                    CaseNote(
                        complaint_id=case.id,
                        at=now - timedelta(hours=2),
                        author_id=ids["dlh"],
                        author_role="opd",
                        kind="internal",
                        text="Cek dengan bidang jalan",
                        internal=True,
                    ),
                    HistoryEntry(
                        complaint_id=case.id,
                        at=now - timedelta(minutes=30),
                        actor=f"staff:{ids['dlh']}",
                        action="return_to_operator",
                        from_status="disposisi",
                        to_status="dikembalikan_ke_operator",
                        note="bukan kewenangan DLH",
                    ),
                    HistoryEntry(
                        complaint_id=case.id,
                        at=now - timedelta(hours=5),
                        actor="worker:route_to_opd",
                        action="dispose",
                        from_status="diverifikasi",
                        to_status="disposisi",
                    ),
                ]
            )
        await _login_as(site, "Operator@Example.org")
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        conversation = page[page.index('id="h-conversation"') : page.index('id="h-actions"')]
        order = [
            "Jalan berlubang di depan rumah saya.",
            "Pengaduan Anda kami terima",
            "Kasus baru untuk DLH",
            "Cek dengan bidang jalan",
            "Sudah seminggu belum diperbaiki",
        ]
        positions = [conversation.index(text) for text in order]
        assert positions == sorted(positions)
        failed = conversation[positions[1] : positions[2]]
        assert ID["reply_status_failed"] in failed and "SMSC rejected: 0x45" in failed
        notice = conversation[positions[2] - 400 : positions[3]]
        assert ID["conv_opd_notice"] in notice and "secret-opd-inbox" not in page
        internal = conversation[conversation.rindex("<li", 0, positions[3]) : positions[3]]
        assert "internal" in internal and ID["conv_internal"] in internal and "Dewi DLH" in internal
        citizen = conversation[conversation.rindex("<li", 0, positions[4]) : positions[4]]
        assert ID["conv_citizen"] in citizen and ID["conv_internal"] not in citizen
        history = page[page.index('id="h-history"') :]
        assert "Dewi DLH" in history and ID["role_opd"] in history and "bukan kewenangan DLH" in history
        label = site.runtime.config.sop.label
        assert f"{label('disposisi', 'id')} → {label('dikembalikan_ke_operator', 'id')}" in history
        assert history.index("route_to_opd") < history.index("Dewi DLH")  # oldest first


def _available(site: Console, ticket: str, viewer: Viewer) -> list[str]:
    with site.runtime.sf() as db:
        case = db.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        return list(actions.available(case, viewer))


@pytest.mark.asyncio
async def test_forms_follow_the_actions_available_to_the_role(tmp_path: Path) -> None:
    """An OPD user on disposisi gets accept and return_to_operator (not approve); an operator moderating
    gets approve with the OPD's answer prefilled and send_back; each form posts the contract's fields."""
    async with console_site(tmp_path) as site:
        _users(site)
        disposed, moderated = new_ticket(), new_ticket()
        with site.runtime.sf.begin() as db:
            seed_case(db, disposed, "disposisi", opd_code="dlh")
            case = seed_case(db, moderated, "diterima_operator", opd_code="dlh", version=7)
            db.add(
                CaseNote(
                    complaint_id=case.id,
                    at=utcnow(),
                    author_id=None,
                    author_role="opd",
                    kind="answer",
                    text="Jalan sudah ditambal " + SCRIPT,
                    internal=True,
                )
            )
        await _login_as(site, OPD_EMAIL)
        page = await (await site.client.get(f"/ops/kasus/{disposed}")).text()
        expected = _available(site, disposed, Viewer(role="opd", opd_code="dlh"))
        assert "accept" in expected and "return_to_operator" in expected
        assert _forms(page) == expected and "approve" not in _forms(page)
        form = _form(page, "return_to_operator")
        assert f'action="/ops/kasus/{disposed}/aksi"' in form and 'enctype="multipart/form-data"' in form
        for field in ('name="csrf_token"', 'name="version" value="1"', 'name="lang" value="id"', 'name="reason"'):
            assert field in form, field
        await _login_as(site, "Operator@Example.org")
        page = await (await site.client.get(f"/ops/kasus/{moderated}")).text()
        expected = _available(site, moderated, Viewer(role="operator"))
        assert "approve" in expected and "send_back" in expected
        assert _forms(page) == expected
        form = _form(page, "approve")
        assert 'name="version" value="7"' in form
        assert "Jalan sudah ditambal &lt;script&gt;" in form and SCRIPT not in page
        assert 'type="checkbox" name="publish" value="1"' in form and 'name="phone_note"' not in form
        form = _form(page, "send_back")
        assert '<textarea id="send_back-note" name="note"' in form
        page = await (await site.client.get(f"/ops/kasus/{disposed}?lang=en")).text()
        assert EN["action_reroute"] in page  # operators may re-route a disposed case
        assert "accept" not in _forms(page)


@pytest.mark.asyncio
async def test_phone_answer_and_dispose_forms_carry_their_fields(tmp_path: Path) -> None:
    """Answering by phone needs a phone note; the dispose form offers every OPD with the proposal chosen."""
    async with console_site(tmp_path) as site:
        _users(site)
        phone, triage = new_ticket(), new_ticket()
        with site.runtime.sf.begin() as db:
            seed_case(db, phone, "diterima_operator", opd_code="dlh", reply_channel="phone", channel="call_centre")
            seed_case(db, triage, "triase", opd_code="dishub", routing_score=0.4, routing_matched="lampu,parkir")
        await _login_as(site, "Operator@Example.org")
        page = await (await site.client.get(f"/ops/kasus/{phone}")).text()
        form = _form(page, "approve")
        assert 'name="phone_note"' in form and ID["reply_via_phone"] in page
        page = await (await site.client.get(f"/ops/kasus/{triage}")).text()
        assert "dispose" in _forms(page)
        form = _form(page, "dispose")
        for opd in site.runtime.config.opds.values():
            assert f'<option value="{opd.code}"' in form
        assert '<option value="dishub" selected>' in form
        assert "lampu, parkir" in page and "0.40" in page


@pytest.mark.asyncio
async def test_everything_the_citizen_wrote_is_escaped(tmp_path: Path) -> None:
    """<script> and <img onerror> in the subject, the text, a citizen message and a staff note never run."""
    async with console_site(tmp_path) as site:
        _users(site)
        ticket = new_ticket()
        with site.runtime.sf.begin() as db:
            case = seed_case(db, ticket, "triase", subject=SCRIPT, text=IMG, name=IMG, address=SCRIPT)
            for kind, text in (("citizen_message", SCRIPT + IMG), ("internal", IMG)):
                db.add(
                    CaseNote(
                        complaint_id=case.id,
                        at=utcnow(),
                        author_id=None,
                        author_role="operator",
                        kind=kind,
                        text=text,
                        internal=kind == "internal",
                    )
                )
        await _login_as(site, "Operator@Example.org")
        for path in (f"/ops/kasus/{ticket}", f"/ops/kasus/{ticket}?identitas=1"):
            page = await (await site.client.get(path)).text()
            assert SCRIPT not in page and IMG not in page and "<img" not in page, path
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
            assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page


@pytest.mark.asyncio
async def test_unknown_ticket_and_unknown_console_path_get_the_console_404(tmp_path: Path) -> None:
    """An unknown or malformed ticket and an unknown /ops/ path get the console's 404, logged in or not."""
    async with console_site(tmp_path) as site:
        _users(site)
        resp = await site.client.get("/ops/no-such-page")
        page = await resp.text()
        assert resp.status == 404 and ID["error_404_title"] in page and "console.css" in page
        await _login_as(site, "Operator@Example.org")
        for path in (
            f"/ops/kasus/{new_ticket()}",
            "/ops/kasus/not-a-ticket",
            "/ops/no-such-page",
            "/ops/kasus/",
        ):
            resp = await site.client.get(path)
            page = await resp.text()
            assert resp.status == 404, path
            assert ID["error_404_title"] in page and "console.css" in page, path
        resp = await site.client.get("/ops/no-such-page?lang=en")
        assert resp.status == 404 and EN["error_404_body"] in await resp.text()


@pytest.mark.asyncio
async def test_ticket_still_processing_gets_a_reload_page(tmp_path: Path) -> None:
    """A ticket accepted but not yet opened as a case: 200 "being processed" for the operator, 404 for an OPD."""
    async with console_site(tmp_path) as site:
        _users(site)
        ticket = new_ticket()
        now = utcnow()
        with site.runtime.sf.begin() as db:
            db.add(
                InboxMessage(
                    id=new_id(),
                    channel="sms",
                    provider="test",
                    external_id="x1",
                    kind="complaint",
                    ticket=ticket,
                    envelope={},
                    state="accepted",
                    created_at=now,
                    updated_at=now,
                )
            )
        await _login_as(site, "Operator@Example.org")
        resp = await site.client.get(f"/ops/kasus/{ticket}")
        page = await resp.text()
        assert resp.status == 200 and ID["case_processing"] in page and ticket in page
        with site.runtime.sf.begin() as db:
            db.execute(update(InboxMessage).where(InboxMessage.ticket == ticket).values(state="dead"))
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        assert ID["case_processing_failed"] in page and ID["case_processing"] not in page
        await _login_as(site, OPD_EMAIL)
        assert (await site.client.get(f"/ops/kasus/{ticket}")).status == 404


@pytest.mark.asyncio
async def test_overdue_clock_stands_out_and_a_flash_shows_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A late case says "terlambat N jam kerja" in the summary; a flash left by an action shows once, then is gone."""
    # part-clock: disposisi counts working hours; frozen at Monday 12:00 WIB, 3 h 5 min late is
    # 3 working hours late (08:55 to 12:00).
    freeze_console_clock(monkeypatch, datetime(2026, 12, 7, 12, 0, tzinfo=timezone(timedelta(hours=7))))
    async with console_site(tmp_path) as site:
        user = operator(site).user
        ticket = new_ticket()
        with site.runtime.sf.begin() as db:
            seed_case(db, ticket, "disposisi", opd_code="dlh", deadline_in=timedelta(hours=-3, minutes=-5))
        data = {
            "uid": user.id,
            "pw": password_fingerprint(user.password_hash),
            "csrf": "x" * 43,
            "flash": "flash_reroute",
        }
        cookie = forged_cookie(site, int(time.time()) - 60, data)
        page = await (await site.client.get(f"/ops/kasus/{ticket}", cookies={COOKIE_NAME: cookie})).text()
        assert ID["inbox_late_working"].format(n=3) in page and "case-summary overdue" in page
        assert "07-12-2026 08:55 WIB" in page  # the deadline as a date
        assert ID["flash_reroute"] in page
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        assert ID["flash_reroute"] not in page and ID["inbox_late_working"].format(n=3) in page


@pytest.mark.asyncio
async def test_a_note_photo_is_served_and_a_file_claiming_html_is_not_run(tmp_path: Path) -> None:
    """A follow-up note's photo is served to the operator; a stored file typed text/html comes as bytes."""
    async with console_site(tmp_path) as site:
        _users(site)
        photo, html = png(2, 2), b"<script>alert(1)</script>"
        root = site.settings.attachments_dir
        photo_sha, html_sha = store_bytes(root, photo), store_bytes(root, html)
        ticket = new_ticket()
        with site.runtime.sf.begin() as db:
            case = seed_case(
                db,
                ticket,
                "ditindaklanjuti",
                opd_code="dlh",
                attachments={"files": [{"sha256": html_sha, "content_type": "text/html", "filename": "x.html"}]},
            )
            db.add(
                CaseNote(
                    complaint_id=case.id,
                    at=utcnow(),
                    author_id=None,
                    author_role="opd",
                    kind="follow_up",
                    text="Sudah ditambal",
                    internal=True,
                    attachments={"files": [{"sha256": photo_sha, "content_type": "image/png", "filename": "a.png"}]},
                )
            )
        await _login_as(site, "Operator@Example.org")
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        note = page[page.index("Sudah ditambal") :]
        assert f'href="/ops/berkas/{ticket}/{photo_sha}"' in note
        resp = await site.client.get(f"/ops/berkas/{ticket}/{photo_sha}")
        assert resp.status == 200 and resp.headers["Content-Type"] == "image/png" and await resp.read() == photo
        resp = await site.client.get(f"/ops/berkas/{ticket}/{html_sha}")
        assert resp.status == 200 and resp.headers["Content-Type"] == "application/octet-stream"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
        other = new_ticket()
        with site.runtime.sf.begin() as db:
            seed_case(db, other, "triase")
        assert (await site.client.get(f"/ops/berkas/{other}/{photo_sha}")).status == 404  # another case's file
