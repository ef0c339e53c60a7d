"""The console's pages: login, the forced password change and logout (the inbox is :mod:`.inbox`).

Argon2 takes tens of milliseconds of CPU on purpose, so every password check or change runs
in a thread (``asyncio.to_thread``), never on the event loop. Logs name the user id only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp_session
import structlog
from aiohttp import web

from complaints.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, AccountError, LoginRefused, LoginThrottled
from gateway.client_address import client_address
from gateway.console.auth import ACCOUNTS, PREFIX, USER_KEY, StaffView, csrf_token, load_staff, password_fingerprint
from gateway.console.case import add_case_routes
from gateway.console.case_actions import case_action
from gateway.console.dead_letters import add_dead_letter_routes
from gateway.console.delivery import add_delivery_routes
from gateway.console.health import add_health_routes  # part-health
from gateway.console.inbox import inbox_page
from gateway.console.manual import manual_page, manual_submit
from gateway.console.merge import add_merge_routes
from gateway.console.protection import add_protection_routes
from gateway.console.render import lang_of, render
from gateway.console.reports import add_report_routes
from gateway.console.strings import STRINGS
from gateway.console.users import add_user_routes
from gateway.http import read_form
from gateway.keys import ACCEPTOR, SETTINGS

log = structlog.get_logger(__name__)

HERE = Path(__file__).parent


def _client_address(request: web.Request) -> str:
    # part-abuse: the peer, or X-Forwarded-For when the peer is one of TRUSTED_PROXIES (see README).
    return client_address(request, request.config_dict[SETTINGS].trusted_proxy_networks)


# --------------------------------------------------------------------------- login / logout


async def to_landing(request: web.Request) -> web.StreamResponse:
    """GET /ops: the console lives under /ops/."""
    raise web.HTTPMovedPermanently(f"{PREFIX}/")


async def login_page(request: web.Request) -> web.Response:
    """GET /ops/login: the login form (or straight to the console when already logged in)."""
    session = await aiohttp_session.get_session(request)
    if isinstance(session.get("uid"), int):
        raise web.HTTPSeeOther(f"{PREFIX}/")
    lang = lang_of(request)
    notice = None
    if "bye" in request.query:
        notice = STRINGS[lang]["logged_out"]
    elif "expired" in request.query:
        notice = STRINGS[lang]["session_expired"]
    return await render(request, "login.html", lang, email="", error=None, notice=notice)


async def login(request: web.Request) -> web.Response:
    """POST /ops/login: check the password (in a thread), start a fresh session, go on."""
    form = await read_form(request)
    lang = lang_of(request, form.get("lang"))
    strings = STRINGS[lang]
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    if not email or not password:
        return await render(
            request, "login.html", lang, status=422, email=email, error=strings["login_missing"], notice=None
        )
    try:
        user = await asyncio.to_thread(request.app[ACCOUNTS].verify_login, email, password, _client_address(request))
    except LoginThrottled as exc:
        minutes = max(1, -(-int(exc.retry_after.total_seconds()) // 60))
        error = strings["login_throttled"].format(minutes=minutes)
        return await render(request, "login.html", lang, status=429, email=email, error=error, notice=None)
    except LoginRefused:
        return await render(
            request, "login.html", lang, status=401, email=email, error=strings["login_wrong"], notice=None
        )
    # A new session (new creation time, new CSRF token) rather than the anonymous one of the login page.
    session = await aiohttp_session.new_session(request)
    session["uid"] = user.id
    session["pw"] = password_fingerprint(user.password_hash)
    csrf_token(session)
    raise web.HTTPSeeOther(f"{PREFIX}/password" if user.must_change_password else f"{PREFIX}/")


async def logout(request: web.Request) -> web.Response:
    """POST /ops/logout: forget the session (the cookie is cleared) and show the login page."""
    user: StaffView = request[USER_KEY]
    session = await aiohttp_session.get_session(request)
    session.invalidate()
    log.info("staff logout", user_id=user.id)
    raise web.HTTPSeeOther(f"{PREFIX}/login?bye=1")


# --------------------------------------------------------------------------- password


async def password_page(request: web.Request) -> web.Response:
    """GET /ops/password: choose a new password (forced after a one-time password)."""
    return await _password_form(request, lang_of(request), error=None)


async def _password_form(request: web.Request, lang: str, *, error: str | None, status: int = 200) -> web.Response:
    return await render(request, "password.html", lang, status=status, error=error, min_length=MIN_PASSWORD_LENGTH)


async def change_password(request: web.Request) -> web.Response:
    """POST /ops/password: the new password twice (and the current one unless the change is forced)."""
    user: StaffView = request[USER_KEY]
    accounts = request.app[ACCOUNTS]
    form = await read_form(request)
    lang = lang_of(request, form.get("lang"))
    strings = STRINGS[lang]
    new = str(form.get("new_password") or "")
    again = str(form.get("new_password2") or "")
    if len(new) < MIN_PASSWORD_LENGTH:
        error = strings["password_too_short"].format(min=MIN_PASSWORD_LENGTH)
    elif len(new) > MAX_PASSWORD_LENGTH:
        error = strings["password_too_long"]
    elif new != again:
        error = strings["password_mismatch"]
    else:
        error = None
    if error is None and not user.must_change_password:
        # A voluntary change proves the person at the keyboard knows the password (throttled like a login).
        current = str(form.get("current_password") or "")
        try:
            await asyncio.to_thread(accounts.verify_login, user.email, current, _client_address(request))
        except LoginThrottled as exc:
            minutes = max(1, -(-int(exc.retry_after.total_seconds()) // 60))
            error = strings["login_throttled"].format(minutes=minutes)
        except LoginRefused:
            error = strings["password_current_wrong"]
    if error is not None:
        return await _password_form(request, lang, error=error, status=422)
    try:
        await asyncio.to_thread(accounts.set_password, user.email, new, actor_id=user.id)
    except AccountError:
        return await _password_form(request, lang, error=strings["password_too_short"], status=422)
    fresh = await request.config_dict[ACCEPTOR].read(load_staff, user.id)
    session = await aiohttp_session.get_session(request)
    if fresh is None:
        session.invalidate()
        raise web.HTTPSeeOther(f"{PREFIX}/login")
    # This session carries the new password's fingerprint; every other session of the user ends.
    session["pw"] = fresh.fingerprint
    session["flash"] = "password_changed"
    raise web.HTTPSeeOther(f"{PREFIX}/")


# --------------------------------------------------------------------------- wiring


def add_routes(console: web.Application) -> None:
    """The console's routes, relative to its ``/ops/`` mount point, and its stylesheet."""
    console.router.add_get("/", inbox_page, name="landing")
    console.router.add_get("/login", login_page, name="login")
    console.router.add_post("/login", login)
    console.router.add_get("/password", password_page, name="password")
    console.router.add_post("/password", change_password)
    console.router.add_post("/logout", logout, name="logout")
    add_user_routes(console)  # part: users (/ops/pengguna, admins only)
    # part-actions: the case page's forms post here (complaints/actions.py holds the field contract).
    console.router.add_post("/kasus/{ticket}/aksi", case_action, name="case_action")
    add_case_routes(console)  # part casepage: GET /kasus/{ticket}, GET /berkas/{ticket}/{sha256}
    add_merge_routes(console)  # issue 10: POST /kasus/{ticket}/gabung (duplicate complaints)
    # part-manual: manual entry of complaints received by telephone or from newspapers
    console.router.add_get("/baru", manual_page, name="manual")
    console.router.add_post("/baru", manual_submit)
    console.router.add_static("/static/", HERE / "static", name="console_static")
    # Delivery part (issue 8): answer delivery status, resend, mark a citizen's message read.
    add_delivery_routes(console)
    add_protection_routes(console)  # issue 14: an admin lifts rahasia / anonim
    # part-health: the system health page (operators and admins).
    add_health_routes(console)
    # part-dlq: dead letters under /ops/health/dead-letters (operators and admins)
    add_dead_letter_routes(console)
    # part-reports: /ops/reports (figures, charts, CSV/XLSX, the monthly OPD report)
    add_report_routes(console)
