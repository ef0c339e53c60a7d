"""The admin's users page at /ops/pengguna over real HTTP: add, edit, deactivate, reset, audit, 403 for others."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from complaints.accounts import AccountError
from complaints.staff import StaffAudit, StaffUser
from complaints.staff_admin import StaffAdmin
from gateway.console.auth import COOKIE_NAME
from gateway.console.strings import STRINGS
from tests.gateway.test_console import EMAIL, SCRIPT, Console, console_site, operator

ID = STRINGS["id"]
EN = STRINGS["en"]
ADMIN_EMAIL = "kepala@example.org"
ADMIN_PASSWORD = "admin password long"
NEW_EMAIL = "Siti.Baru@Example.org"
NEW_NAME = "Siti Nurhaliza"


def admin(site: Console, email: str = ADMIN_EMAIL, name: str = "Admin Kota") -> StaffUser:
    """Create an admin with a known password."""
    created = site.accounts.create_user(email=email, name=name, role="admin", password=ADMIN_PASSWORD)
    return created.user


async def login_admin(site: Console) -> None:
    """Log the test client in as the admin."""
    resp = await site.login(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    assert resp.status == 303 and resp.headers["Location"] == "/ops/", await resp.text()


async def post(site: Console, path: str, data: dict[str, str], form_page: str | None = None) -> Any:
    """POST ``data`` to ``path`` with the CSRF token of ``form_page`` (default ``path``), no redirect following."""
    token = await site.csrf(form_page or path)
    return await site.client.post(path, data={"csrf_token": token, "lang": "id", **data}, allow_redirects=False)


async def add_user(site: Console, **fields: str) -> Any:
    """Submit the add-user form."""
    data = {"name": NEW_NAME, "email": NEW_EMAIL, "role": "operator", "opd": ""}
    data.update(fields)
    return await post(site, "/ops/pengguna/baru", data)


def one_time_password(page: str) -> str | None:
    """The one-time password shown on a user's page, if any."""
    match = re.search(r'<code id="one-time-password">([^<]+)</code>', page)
    return match.group(1) if match else None


def stored(site: Console, email: str) -> StaffUser | None:
    """The user row of ``email`` (lower-cased as stored), read fresh."""
    with site.runtime.sf() as session:
        return session.scalar(select(StaffUser).where(StaffUser.email == email.lower()))


def audit_rows(site: Console, target_id: int) -> list[tuple[int | None, str, str | None]]:
    """(actor, action, detail) of every audit row about ``target_id``, oldest first."""
    with site.runtime.sf() as session:
        rows = session.scalars(select(StaffAudit).where(StaffAudit.target_id == target_id).order_by(StaffAudit.id))
        return [(r.actor_id, r.action, r.detail) for r in rows]


@pytest.mark.asyncio
async def test_admin_adds_an_operator_whose_one_time_password_works_once(tmp_path: Path) -> None:
    """Adding a user shows a one-time password once (not in the URL); it logs in and forces a new password."""
    async with console_site(tmp_path) as site:
        admin(site)
        await login_admin(site)
        page = await (await site.client.get("/ops/")).text()
        assert 'href="/ops/pengguna"' in page and ID["nav_users"] in page
        resp = await add_user(site)
        assert resp.status == 303
        location = resp.headers["Location"]
        new = stored(site, NEW_EMAIL)
        assert new is not None and new.role == "operator" and new.must_change_password
        assert location == f"/ops/pengguna/{new.id}"
        page = await (await site.client.get(location)).text()
        password = one_time_password(page)
        assert password and len(password) >= 16
        assert ID["users_added"] in page and ID["users_one_time_body"] in page
        assert password not in location
        again = await (await site.client.get(location)).text()
        assert one_time_password(again) is None and password not in again  # shown once only
        listing = await (await site.client.get("/ops/pengguna")).text()
        row = listing[listing.index(f'href="/ops/pengguna/{new.id}"') :].split("</tr>")[0]
        assert NEW_NAME in row and NEW_EMAIL.lower() in row and ID["role_operator"] in row
        assert ID["users_never"] in row and ID["users_must_change"] in row

        site.client.session.cookie_jar.clear()
        resp = await site.login(email=NEW_EMAIL, password=password)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/password"
        resp = await site.client.get("/ops/pengguna", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/password"


@pytest.mark.asyncio
async def test_admin_adds_an_opd_user_with_its_opd(tmp_path: Path) -> None:
    """An OPD user is stored with its OPD code and listed with the OPD's name from the city config."""
    async with console_site(tmp_path) as site:
        boss = admin(site)
        await login_admin(site)
        resp = await add_user(site, role="opd", opd="dlh")
        assert resp.status == 303
        new = stored(site, NEW_EMAIL)
        assert new is not None and (new.role, new.opd_code) == ("opd", "dlh")
        listing = await (await site.client.get("/ops/pengguna?role=opd")).text()
        assert site.runtime.config.opds["dlh"].name in listing and NEW_NAME in listing
        assert f'href="/ops/pengguna/{boss.id}"' not in listing  # the role filter leaves the admin out


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"role": "opd", "opd": ""}, "users_err_opd_missing"),
        ({"role": "operator", "opd": "dlh"}, "users_err_opd_not_allowed"),
        ({"role": "opd", "opd": "no-such-opd"}, "users_err_opd_unknown"),
        ({"role": "superuser"}, "users_err_role"),
        ({"email": "not an address"}, "users_err_email"),
        ({"email": EMAIL}, "users_err_email_taken"),
        ({"name": "   "}, "users_err_name"),
    ],
    ids=["opd-without-opd", "operator-with-opd", "unknown-opd", "unknown-role", "bad-email", "taken", "no-name"],
)
async def test_invalid_new_user_gets_422_with_the_reason_and_the_values(
    tmp_path: Path, fields: dict[str, str], message: str
) -> None:
    """A refused user is not created; the page says why in words and keeps what was typed."""
    async with console_site(tmp_path) as site:
        admin(site)
        operator(site)  # owns EMAIL
        await login_admin(site)
        resp = await add_user(site, **fields)
        page = await resp.text()
        assert resp.status == 422
        assert ID[message] in page
        if message != "users_err_name":
            assert f'value="{NEW_NAME}"' in page
        if message != "users_err_email" and message != "users_err_email_taken":
            assert f'value="{NEW_EMAIL}"' in page
        assert stored(site, NEW_EMAIL) is None
        with site.runtime.sf() as session:
            assert len(session.scalars(select(StaffUser)).all()) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["operator", "opd"])
async def test_non_admins_get_403_on_every_users_url(tmp_path: Path, role: str) -> None:
    """Operators and OPD users: no menu link, and 403 on every /ops/pengguna URL, GET or POST; nothing changes."""
    async with console_site(tmp_path) as site:
        boss = admin(site)
        operator(site, role=role, opd_code="dlh" if role == "opd" else None)
        assert (await site.login()).status == 303
        home = await (await site.client.get("/ops/")).text()
        assert "/ops/pengguna" not in home
        token = await site.csrf("/ops/")
        for path in ("/ops/pengguna", "/ops/pengguna/baru", f"/ops/pengguna/{boss.id}", "/ops/pengguna?role=admin"):
            resp = await site.client.get(path, allow_redirects=False)
            page = await resp.text()
            assert resp.status == 403, path
            assert ID["users_forbidden_title"] in page and ADMIN_EMAIL not in page, path
        posts: list[tuple[str, dict[str, str]]] = [
            ("/ops/pengguna/baru", {"name": "X", "email": "x@example.org", "role": "admin", "opd": ""}),
            (f"/ops/pengguna/{boss.id}", {"name": "Hacked", "role": "operator", "opd": ""}),
            (f"/ops/pengguna/{boss.id}/aktif", {"active": "0"}),
            (f"/ops/pengguna/{boss.id}/sandi", {}),
        ]
        for path, data in posts:
            resp = await site.client.post(path, data={"csrf_token": token, **data}, allow_redirects=False)
            assert resp.status == 403, path
            assert ID["users_forbidden_title"] in await resp.text()
        after = stored(site, ADMIN_EMAIL)
        assert after is not None and (after.name, after.role, after.active) == ("Admin Kota", "admin", True)
        assert after.password_hash == boss.password_hash
        assert stored(site, "x@example.org") is None
        assert [a for _, a, _ in audit_rows(site, boss.id)] == ["created"]


@pytest.mark.asyncio
async def test_users_form_without_csrf_token_is_refused(tmp_path: Path) -> None:
    """Even an admin's POST without the session's CSRF token gets 403 and creates nothing."""
    async with console_site(tmp_path) as site:
        admin(site)
        await login_admin(site)
        data = {"name": NEW_NAME, "email": NEW_EMAIL, "role": "operator", "opd": ""}
        resp = await site.client.post("/ops/pengguna/baru", data=data, allow_redirects=False)
        assert resp.status == 403 and ID["error_403_title"] in await resp.text()
        assert stored(site, NEW_EMAIL) is None


@pytest.mark.asyncio
async def test_deactivating_a_user_ends_their_open_session(tmp_path: Path) -> None:
    """The operator's open session ends when the admin deactivates them; reactivating lets them log in again."""
    async with console_site(tmp_path) as site:
        admin(site)
        rina = operator(site).user
        assert (await site.login()).status == 303
        jar = site.client.session.cookie_jar
        cookie = jar.filter_cookies(site.client.make_url("/ops/"))[COOKIE_NAME].value
        assert (await site.client.get("/ops/", allow_redirects=False)).status == 200
        jar.clear()
        await login_admin(site)
        resp = await post(site, f"/ops/pengguna/{rina.id}/aktif", {"active": "0"}, f"/ops/pengguna/{rina.id}")
        assert resp.status == 303 and resp.headers["Location"] == f"/ops/pengguna/{rina.id}"
        page = await (await site.client.get(f"/ops/pengguna/{rina.id}")).text()
        assert ID["users_deactivated"] in page and ID["users_inactive"] in page and ID["users_reactivate"] in page
        jar.clear()
        resp = await site.client.get("/ops/", cookies={COOKIE_NAME: cookie}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/login?expired=1"
        jar.clear()
        assert (await site.login()).status == 401  # a deactivated account cannot log in
        jar.clear()
        await login_admin(site)
        resp = await post(site, f"/ops/pengguna/{rina.id}/aktif", {"active": "1"}, f"/ops/pengguna/{rina.id}")
        assert resp.status == 303
        jar.clear()
        assert (await site.login()).status == 303


@pytest.mark.asyncio
async def test_admin_cannot_deactivate_or_demote_themself(tmp_path: Path) -> None:
    """The admin's own deactivation or demotion is refused with 422 and the reason; nothing changes."""
    async with console_site(tmp_path) as site:
        me = admin(site)
        await login_admin(site)
        page_url = f"/ops/pengguna/{me.id}"
        resp = await post(site, f"{page_url}/aktif", {"active": "0"}, page_url)
        assert resp.status == 422 and ID["users_err_self_deactivate"] in await resp.text()
        resp = await post(site, page_url, {"name": "Admin Baru", "role": "operator", "opd": ""})
        page = await resp.text()
        assert resp.status == 422 and ID["users_err_self_demote"] in page
        assert 'value="Admin Baru"' in page  # the form keeps what was typed
        resp = await post(site, f"{page_url}/sandi", {}, page_url)
        assert resp.status == 422 and ID["users_err_self_reset"] in await resp.text()
        after = stored(site, ADMIN_EMAIL)
        assert after is not None and (after.name, after.role, after.active) == ("Admin Kota", "admin", True)
        assert (await site.client.get("/ops/pengguna", allow_redirects=False)).status == 200  # still logged in


@pytest.mark.asyncio
async def test_the_last_active_admin_cannot_be_removed_but_another_admin_can(tmp_path: Path) -> None:
    """An admin demotes a second admin; then the last admin can be neither demoted nor deactivated, by anyone."""
    async with console_site(tmp_path) as site:
        me = admin(site)
        other = admin(site, email="wakil@example.org", name="Wakil Admin")
        await login_admin(site)
        resp = await post(site, f"/ops/pengguna/{other.id}", {"name": "Wakil Admin", "role": "operator", "opd": ""})
        assert resp.status == 303
        demoted = stored(site, "wakil@example.org")
        assert demoted is not None and demoted.role == "operator"
        staff_admin = StaffAdmin(site.accounts)  # the command line (no actor) is held to the same rule
        with pytest.raises(AccountError) as refused:
            staff_admin.set_active(actor_id=None, user_id=me.id, active=False)
        assert refused.value.code == "last_admin"
        with pytest.raises(AccountError) as refused:
            staff_admin.update(actor_id=other.id, user_id=me.id, name="Admin Kota", role="operator", opd_code=None)
        assert refused.value.code == "last_admin"
        after = stored(site, ADMIN_EMAIL)
        assert after is not None and (after.role, after.active) == ("admin", True)


@pytest.mark.asyncio
async def test_every_change_is_audited_and_shown_on_the_users_page(tmp_path: Path) -> None:
    """Add, role/OPD and name change, deactivate, reactivate, reset: one audit row each, listed on the user's page."""
    async with console_site(tmp_path) as site:
        boss = admin(site)
        await login_admin(site)
        assert (await add_user(site)).status == 303
        new = stored(site, NEW_EMAIL)
        assert new is not None
        url = f"/ops/pengguna/{new.id}"
        await site.client.get(url)  # the one-time password is shown (and taken out of the session) here
        resp = await post(site, url, {"name": "Siti N.", "role": "opd", "opd": "dishub"})
        assert resp.status == 303
        assert (await post(site, f"{url}/aktif", {"active": "0"}, url)).status == 303
        assert (await post(site, f"{url}/aktif", {"active": "1"}, url)).status == 303
        resp = await post(site, f"{url}/sandi", {}, url)
        assert resp.status == 303 and resp.headers["Location"] == url
        page = await (await site.client.get(url)).text()
        reset_password = one_time_password(page)
        assert reset_password and ID["users_password_reset"] in page
        assert audit_rows(site, new.id) == [
            (boss.id, "created", "operator"),
            (boss.id, "role_changed", "operator>opd:dishub"),
            (boss.id, "name_changed", None),
            (boss.id, "deactivated", None),
            (boss.id, "reactivated", None),
            (boss.id, "password_reset", None),
        ]
        audit = page[page.index('id="audit"') :]
        for action in ("created", "role_changed", "name_changed", "deactivated", "reactivated", "password_reset"):
            assert ID[f"users_audit_{action}"] in audit, action
        assert f"Admin Kota (#{boss.id})" in audit and "operator&gt;opd:dishub" in audit
        after = stored(site, NEW_EMAIL)
        assert after is not None and (after.name, after.role, after.opd_code) == ("Siti N.", "opd", "dishub")

        site.client.session.cookie_jar.clear()  # the reset password logs in and forces a change, which is audited
        resp = await site.login(email=NEW_EMAIL, password=reset_password)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/password"
        token = await site.csrf("/ops/password")
        data = {"csrf_token": token, "new_password": "siti punya sandi", "new_password2": "siti punya sandi"}
        assert (await site.client.post("/ops/password", data=data, allow_redirects=False)).status == 303
        assert audit_rows(site, new.id)[-1] == (new.id, "password_changed", None)


@pytest.mark.asyncio
async def test_logs_name_user_ids_never_passwords_emails_or_names(tmp_path: Path) -> None:
    """Adding, a refused add, a reset and a deactivation log ids and reasons only."""
    async with console_site(tmp_path) as site:
        boss = admin(site)
        await login_admin(site)
        with capture_logs() as logs:
            assert (await add_user(site)).status == 303
            new = stored(site, NEW_EMAIL)
            assert new is not None
            url = f"/ops/pengguna/{new.id}"
            first = one_time_password(await (await site.client.get(url)).text())
            assert (await add_user(site, role="opd")).status == 422
            assert (await post(site, f"{url}/sandi", {}, url)).status == 303
            second = one_time_password(await (await site.client.get(url)).text())
            assert (await post(site, f"{url}/aktif", {"active": "0"}, url)).status == 303
        events = {e["event"] for e in logs}
        assert {"staff user created", "staff user refused", "staff password set", "staff user deactivated"} <= events
        assert all(e.get("actor_id") == boss.id for e in logs if e["event"].startswith("staff user"))
        text = repr(logs)
        assert first and second
        for secret in (first, second, NEW_EMAIL, NEW_EMAIL.lower(), NEW_NAME, ADMIN_EMAIL, "Siti"):
            assert secret not in text, secret


@pytest.mark.asyncio
async def test_users_list_pages_by_100_and_filters_by_opd(tmp_path: Path) -> None:
    """More than 100 users: page 1 has 100 and a next link, page 2 the rest; the OPD filter keeps its users only."""
    async with console_site(tmp_path) as site:
        admin(site)
        now = datetime.now(UTC)
        with site.runtime.sf.begin() as session:
            for n in range(104):
                opd = "dlh" if n % 2 else "dishub"
                session.add(
                    StaffUser(
                        email=f"staf{n:03d}@example.org",
                        name=f"Staf {n:03d}",
                        role="opd",
                        opd_code=opd,
                        password_hash="x",
                        must_change_password=True,
                        active=True,
                        created_at=now,
                    )
                )
        await login_admin(site)
        first = await (await site.client.get("/ops/pengguna")).text()
        assert len(re.findall(r'href="/ops/pengguna/\d+"', first)) == 100
        assert 'rel="next" href="/ops/pengguna?page=2"' in first
        second = await (await site.client.get("/ops/pengguna?page=2")).text()
        assert len(re.findall(r'href="/ops/pengguna/\d+"', second)) == 5  # 104 + the admin
        assert "Staf 103" in second and 'rel="prev"' in second
        dlh = await (await site.client.get("/ops/pengguna?opd=dlh")).text()
        assert len(re.findall(r'href="/ops/pengguna/\d+"', dlh)) == 52
        assert "Staf 001" in dlh and "Staf 002" not in dlh


@pytest.mark.asyncio
async def test_users_pages_escape_names_speak_english_and_404_unknown_users(tmp_path: Path) -> None:
    """A name with markup is escaped; ?lang=en gives English; an unknown id is 404."""
    async with console_site(tmp_path) as site:
        admin(site)
        target = operator(site, name="Rina " + SCRIPT).user
        await login_admin(site)
        page = await (await site.client.get("/ops/pengguna?lang=en")).text()
        assert '<html lang="en">' in page and EN["users_title"] in page and EN["users_add"] in page
        assert SCRIPT not in page and "Rina &lt;script&gt;" in page
        page = await (await site.client.get(f"/ops/pengguna/{target.id}?lang=en")).text()
        assert EN["users_edit_title"] in page and EN["users_audit_created"] in page and SCRIPT not in page
        assert (await site.client.get("/ops/pengguna/99999")).status == 404
        # Beyond the id column's range (PostgreSQL would refuse the query): no user, not a 500.
        assert (await site.client.get("/ops/pengguna/99999999999999999999")).status == 404
        resp = await post(site, "/ops/pengguna/99999/aktif", {"active": "0"}, "/ops/pengguna")
        assert resp.status == 404


@pytest.mark.asyncio
async def test_console_works_with_warnings_as_errors(tmp_path: Path) -> None:
    """Under `-W error` the console logs in and opens the users page (aiohttp-session's str keys do not 500)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with console_site(tmp_path) as site:
            admin(site)
            await login_admin(site)
            resp = await site.client.get("/ops/pengguna", allow_redirects=False)
            assert resp.status == 200 and ID["users_title"] in await resp.text()
