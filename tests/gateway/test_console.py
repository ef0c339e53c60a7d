"""The staff console shell over real HTTP: login, forced password change, logout, session, CSRF."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet

from complaints.accounts import Accounts
from complaints.staff import StaffUser
from config.settings import Settings
from gateway.app import create_app
from gateway.console.auth import COOKIE_NAME, password_fingerprint
from gateway.console.strings import STRINGS
from gateway.secret_key import resolve_secret_key
from workers.runtime import Runtime
from workers.setup import build_runtime

EMAIL = "Operator@Example.org"
PASSWORD = "correct horse battery"
SCRIPT = "<script>alert(1)</script>"
ID = STRINGS["id"]


class Console:
    """A test client of the whole gateway plus its settings and staff accounts."""

    def __init__(self, client: TestClient, runtime: Runtime, settings: Settings) -> None:
        self.client = client
        self.runtime = runtime
        self.settings = settings
        self.accounts = Accounts(sf=runtime.sf, read_sf=runtime.read_sf, opd_codes=frozenset(runtime.config.opds))

    async def csrf(self, path: str = "/ops/login") -> str:
        """Open ``path`` and return the CSRF token of its form."""
        resp = await self.client.get(path)
        assert resp.status == 200, await resp.text()
        match = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
        assert match
        return match.group(1)

    async def login(self, email: str = EMAIL, password: str = PASSWORD) -> Any:
        """Submit the login form as a browser would, without following the redirect."""
        token = await self.csrf()
        return await self.client.post(
            "/ops/login",
            data={"csrf_token": token, "lang": "id", "email": email, "password": password},
            allow_redirects=False,
        )


@asynccontextmanager
async def console_site(tmp_path: Path, **overrides: Any) -> AsyncIterator[Console]:
    """The gateway on SQLite under tmp_path (in-process broker, no workers)."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "var",
        redis_url=None,
        database_url=None,  # type: ignore[call-arg]
        **overrides,
    )
    runtime = build_runtime(settings)
    try:
        async with TestClient(TestServer(create_app(settings, runtime))) as client:
            yield Console(client, runtime, settings)
    finally:
        runtime.close()


def operator(console: Console, **fields: Any) -> Any:
    """Create the operator user (a known password unless ``password=None``)."""
    values: dict[str, Any] = {"email": EMAIL, "name": "Rina Operator", "role": "operator", "password": PASSWORD}
    values.update(fields)
    return console.accounts.create_user(**values)


def forged_cookie(console: Console, created: int, data: dict[str, Any]) -> str:
    """A session cookie as our storage writes it, made (and timestamped) at ``created``."""
    key = resolve_secret_key(console.settings, distributed=False)
    fernet = Fernet(base64.urlsafe_b64encode(key))
    payload = json.dumps({"created": created, "session": data}).encode()
    return fernet.encrypt_at_time(payload, created).decode()


def test_strings_have_the_same_keys_in_both_languages() -> None:
    """Every console string exists in Indonesian and English."""
    assert set(STRINGS["id"]) == set(STRINGS["en"])


@pytest.mark.asyncio
async def test_login_shows_the_landing_page_with_role_and_opd(tmp_path: Path) -> None:
    """A right password leads to /ops/, which names the user, the role, the OPD and the menu."""
    async with console_site(tmp_path) as site:
        opd = next(iter(site.runtime.config.opds.values()))
        operator(site, role="opd", opd_code=opd.code, name="Budi " + SCRIPT)
        resp = await site.client.get("/ops/", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/login"
        resp = await site.login()
        assert resp.status == 303 and resp.headers["Location"] == "/ops/"
        resp = await site.client.get("/ops/")
        page = await resp.text()
        assert resp.status == 200
        assert "Budi &lt;script&gt;alert(1)&lt;/script&gt;" in page and SCRIPT not in page
        assert ID["role_opd"] in page and opd.name in page
        for key in ("nav_inbox", "nav_reports"):
            assert ID[key] in page
        assert ID["nav_users"] not in page  # admins only
        assert ID["nav_manual"] not in page  # operators and admins only
        assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.asyncio
async def test_admin_sees_the_users_menu_in_english(tmp_path: Path) -> None:
    """An admin's landing page offers Users; ?lang=en switches the console to English."""
    async with console_site(tmp_path) as site:
        operator(site, role="admin")
        assert (await site.login()).status == 303
        resp = await site.client.get("/ops/?lang=en")
        page = await resp.text()
        assert STRINGS["en"]["nav_users"] in page and STRINGS["en"]["home_opd_all"] in page
        assert '<html lang="en">' in page


@pytest.mark.asyncio
@pytest.mark.parametrize("email", [EMAIL, "nobody@example.org"], ids=["wrong-password", "unknown-email"])
async def test_wrong_password_or_unknown_email_is_refused_alike(tmp_path: Path, email: str) -> None:
    """A wrong password and an unknown e-mail get the same 401 message and no session."""
    async with console_site(tmp_path) as site:
        operator(site)
        resp = await site.login(email=email, password="not the password")
        page = await resp.text()
        assert resp.status == 401 and ID["login_wrong"] in page
        assert email in page  # the e-mail typed is kept in the field
        resp = await site.client.get("/ops/", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/ops/login")


@pytest.mark.asyncio
async def test_throttled_account_is_told_to_wait_even_with_the_right_password(tmp_path: Path) -> None:
    """After LOGIN_MAX_FAILURES_PER_ACCOUNT refusals the right password gets 429 and a wait message."""
    async with console_site(tmp_path, login_max_failures_per_account=3) as site:
        operator(site)
        for _ in range(3):
            assert (await site.login(password="guess guess guess")).status == 401
        resp = await site.login()
        page = await resp.text()
        assert resp.status == 429
        assert ID["login_throttled"].format(minutes=15) in page


@pytest.mark.asyncio
async def test_one_time_password_forces_a_new_password(tmp_path: Path) -> None:
    """A one-time login reaches only /ops/password until a new password (twice, long enough) is saved."""
    async with console_site(tmp_path) as site:
        one_time = operator(site, password=None).one_time_password
        resp = await site.login(password=one_time)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/password"
        resp = await site.client.get("/ops/", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/password"
        token = await site.csrf("/ops/password")

        async def change(new: str, again: str) -> Any:
            data = {"csrf_token": token, "new_password": new, "new_password2": again}
            return await site.client.post("/ops/password", data=data, allow_redirects=False)

        resp = await change("short", "short")
        assert resp.status == 422 and ID["password_too_short"].format(min=10) in await resp.text()
        resp = await change("a new long password", "a new long passwort")
        assert resp.status == 422 and ID["password_mismatch"] in await resp.text()
        resp = await change("a new long password", "a new long password")
        assert resp.status == 303 and resp.headers["Location"] == "/ops/"
        resp = await site.client.get("/ops/")
        assert resp.status == 200 and ID["password_changed"] in await resp.text()
        site.client.session.cookie_jar.clear()
        assert (await site.login(password=one_time)).status == 401
        assert (await site.login(password="a new long password")).status == 303


@pytest.mark.asyncio
async def test_voluntary_change_needs_the_current_password_and_ends_other_sessions(tmp_path: Path) -> None:
    """Changing a password asks for the current one; a session logged in before the change is refused after."""
    async with console_site(tmp_path) as site:
        operator(site)
        assert (await site.login()).status == 303
        stale = site.client.session.cookie_jar.filter_cookies(site.client.make_url("/ops/"))[COOKIE_NAME].value
        token = await site.csrf("/ops/password")
        data = {"csrf_token": token, "new_password": "another password", "new_password2": "another password"}
        resp = await site.client.post("/ops/password", data={**data, "current_password": "wrong one"})
        assert resp.status == 422 and ID["password_current_wrong"] in await resp.text()
        resp = await site.client.post(
            "/ops/password", data={**data, "current_password": PASSWORD}, allow_redirects=False
        )
        assert resp.status == 303
        assert (await site.client.get("/ops/", allow_redirects=False)).status == 200
        site.client.session.cookie_jar.clear()
        resp = await site.client.get("/ops/", cookies={COOKIE_NAME: stale}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/ops/login")


@pytest.mark.asyncio
async def test_logout_ends_the_session(tmp_path: Path) -> None:
    """POST /ops/logout clears the cookie and the console asks for a login again."""
    async with console_site(tmp_path) as site:
        operator(site)
        assert (await site.login()).status == 303
        token = await site.csrf("/ops/")
        resp = await site.client.post("/ops/logout", data={"csrf_token": token}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/login?bye=1"
        resp = await site.client.get("/ops/login?bye=1")
        assert ID["logged_out"] in await resp.text()
        resp = await site.client.get("/ops/", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/ops/login")


@pytest.mark.asyncio
async def test_deactivated_user_is_logged_out_at_the_next_request(tmp_path: Path) -> None:
    """The user is re-read on every request: deactivating the account ends its session at once."""
    async with console_site(tmp_path) as site:
        user = operator(site).user
        assert (await site.login()).status == 303
        assert (await site.client.get("/ops/", allow_redirects=False)).status == 200
        with site.runtime.sf.begin() as session:
            stored = session.get(StaffUser, user.id)
            assert stored is not None
            stored.active = False
        resp = await site.client.get("/ops/", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/login?expired=1"


@pytest.mark.asyncio
async def test_login_page_visitor_is_not_told_a_session_ended(tmp_path: Path) -> None:
    """Someone who only opened the login page is sent to it without the 'session ended' notice."""
    async with console_site(tmp_path) as site:
        await site.csrf()
        resp = await site.client.get("/ops/", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/login"


@pytest.mark.asyncio
async def test_session_older_than_max_age_is_refused(tmp_path: Path) -> None:
    """A cookie made SESSION_MAX_AGE_MINUTES ago is refused; the same cookie made now is accepted."""
    async with console_site(tmp_path, session_max_age_minutes=30) as site:
        user = operator(site).user
        data = {"uid": user.id, "pw": password_fingerprint(user.password_hash), "csrf": "x" * 43}
        fresh = forged_cookie(site, int(time.time()) - 60, data)
        resp = await site.client.get("/ops/", cookies={COOKIE_NAME: fresh}, allow_redirects=False)
        assert resp.status == 200
        site.client.session.cookie_jar.clear()
        old = forged_cookie(site, int(time.time()) - 31 * 60, data)
        resp = await site.client.get("/ops/", cookies={COOKIE_NAME: old}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/ops/login?expired=1"


@pytest.mark.asyncio
async def test_post_without_or_with_a_wrong_csrf_token_is_refused(tmp_path: Path) -> None:
    """Login and logout without the session's CSRF token get 403 with an explanation; the session stays."""
    async with console_site(tmp_path) as site:
        operator(site)
        resp = await site.client.post("/ops/login", data={"email": EMAIL, "password": PASSWORD})
        assert resp.status == 403 and ID["error_403_body"] in await resp.text()
        assert (await site.login()).status == 303
        for data in ({}, {"csrf_token": "forged"}):
            resp = await site.client.post("/ops/logout", data=data, allow_redirects=False)
            assert resp.status == 403 and ID["error_403_title"] in await resp.text()
        assert (await site.client.get("/ops/", allow_redirects=False)).status == 200


def _set_cookie(resp: Any) -> str:
    headers: list[str] = resp.headers.getall("Set-Cookie")
    ours = [h for h in headers if h.startswith(COOKIE_NAME + "=")]
    assert len(ours) == 1
    return ours[0]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("base_url", "secure"), [("http://127.0.0.1:8080", False), ("https://lapor.example.go.id", True)]
)
async def test_session_cookie_flags(tmp_path: Path, base_url: str, secure: bool) -> None:
    """The session cookie is HttpOnly, SameSite=Lax, path /ops, lives SESSION_MAX_AGE_MINUTES; Secure on https."""
    async with console_site(tmp_path, public_base_url=base_url) as site:
        operator(site)
        resp = await site.client.get("/ops/login")
        cookie = _set_cookie(resp)
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ops" in cookie
        assert "Max-Age=28800" in cookie
        assert ("Secure" in cookie) is secure


@pytest.mark.asyncio
async def test_ops_status_still_answers_the_bearer_token(tmp_path: Path) -> None:
    """GET /ops/status answers JSON to the bearer token (401 without), never the console's login redirect."""
    async with console_site(tmp_path, ops_token="ops-secret") as site:
        resp = await site.client.get("/ops/status", headers={"Authorization": "Bearer ops-secret"})
        assert resp.status == 200 and "inbox" in await resp.json()
        resp = await site.client.get("/ops/status", allow_redirects=False)
        assert resp.status == 401 and COOKIE_NAME not in resp.headers.get("Set-Cookie", "")


@pytest.mark.asyncio
async def test_citizen_pages_never_get_a_staff_session(tmp_path: Path) -> None:
    """The citizen form sets no console cookie; /ops/status without OPS_TOKEN is still 404."""
    async with console_site(tmp_path) as site:
        resp = await site.client.get("/lapor")
        assert resp.status == 200 and COOKIE_NAME not in resp.headers.get("Set-Cookie", "")
        resp = await site.client.get("/ops/status", allow_redirects=False)
        assert resp.status == 404
