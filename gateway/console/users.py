"""``/ops/pengguna``: the admin's staff users page (list, add, edit, deactivate, reset password).

Admins only: an operator or OPD user gets a 403 page on every URL here, GET or POST (the CSRF
check of :mod:`.middleware` comes first). The rules are :mod:`complaints.staff_admin`'s and
:mod:`complaints.accounts`'; their :class:`AccountError` codes become the page's words
(``users_err_<code>``) with a 422 that keeps what was typed.

A one-time password (new user, reset) is shown once: it travels in the encrypted session
cookie from the POST to the user's page that follows the 303, which takes it out of the
session as it shows it. It is never in a URL, a log line or the database. Argon2 hashing and
every write run in a thread; reads in the acceptor's read thread. Logs name user ids only.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import aiohttp_session
import structlog
from aiohttp import web
from sqlalchemy.orm import Session

from complaints.accounts import AccountError
from complaints.staff import ROLES
from complaints.staff_admin import StaffAdmin, UserDetail, UserPage, list_users, load_user
from config.model import CityConfig
from gateway.console.auth import ACCOUNTS, PREFIX, USER_KEY, StaffView
from gateway.console.render import lang_of, render
from gateway.console.strings import STRINGS
from gateway.http import read_form
from gateway.keys import ACCEPTOR, RUNTIME

log = structlog.get_logger(__name__)

USERS = f"{PREFIX}/pengguna"
WIB = timezone(timedelta(hours=7), "WIB")  # Kota Bogor's time zone, no DST
_ONCE = "users_one_time"  # session key: {"uid": id, "pw": one-time password} until the user page shows it

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admin_only(handler: Handler) -> Handler:
    """Let admins through; everyone else gets the 403 page (and a log line with their id and the path)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        user: StaffView = request[USER_KEY]
        if user.role != "admin":
            log.info("console_forbidden", user_id=user.id, path=request.path)  # paths here hold ids only
            return await render(request, "users_forbidden.html", lang_of(request), status=403)
        return await handler(request)

    return wrapped


def _when(moment: datetime | None, t: dict[str, str]) -> str:
    return f"{moment.astimezone(WIB):%Y-%m-%d %H:%M} WIB" if moment is not None else t["users_never"]


def _config(request: web.Request) -> CityConfig:
    config: CityConfig = request.config_dict[RUNTIME].config
    return config


def _opd_choices(config: CityConfig) -> list[tuple[str, str]]:
    return [(o.code, o.name) for o in config.opds.values()]


def _error(exc: AccountError, t: dict[str, str]) -> str:
    return t.get(f"users_err_{exc.code}", t["users_err_invalid"])


_MAX_ID = 2**31 - 1  # the column is a 32-bit integer: a bigger number names no user (and would fail the query)


def _user_id(request: web.Request) -> int:
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not 0 < user_id <= _MAX_ID:
        raise web.HTTPNotFound()
    return user_id


def _form_values(form: Any) -> dict[str, str]:
    return {
        key: str(form.get(key) or "").strip()[:300]  # longer than any valid value: the rules say why it is refused
        for key in ("name", "email", "role", "opd")
    }


# --------------------------------------------------------------------------- list


@admin_only
async def users_page(request: web.Request) -> web.StreamResponse:
    """GET /ops/pengguna: every user, filterable by role and OPD, 100 a page."""
    lang = lang_of(request)
    t = STRINGS[lang]
    config = _config(request)
    role = request.query.get("role", "")
    role = role if role in ROLES else ""
    opd = request.query.get("opd", "")
    opd = opd if opd in config.opds else ""
    try:
        page_no = max(1, min(int(request.query.get("page", "1")), 10_000))
    except ValueError:
        page_no = 1

    def load(db: Session) -> UserPage:
        return list_users(db, role=role, opd_code=opd, page=page_no)

    result: UserPage = await request.config_dict[ACCEPTOR].read(load)
    kept = {k: v for k, v in (("role", role), ("opd", opd), ("lang", lang if "lang" in request.query else "")) if v}
    prev_url = f"{USERS}?{urlencode({**kept, 'page': page_no - 1})}" if page_no > 1 else None
    next_url = f"{USERS}?{urlencode({**kept, 'page': page_no + 1})}" if result.has_next else None
    names = {o.code: o.name for o in config.opds.values()}
    rows = [
        {
            "user": u,
            "opd_name": names.get(u.opd_code, u.opd_code) if u.opd_code else "",
            "last_login": _when(u.last_login_at, t),
        }
        for u in result.users
    ]
    return await render(
        request,
        "users.html",
        lang,
        active="users",
        rows=rows,
        roles=ROLES,
        opds=_opd_choices(config),
        filter_role=role,
        filter_opd=opd,
        page=page_no,
        prev_url=prev_url,
        next_url=next_url,
    )


# --------------------------------------------------------------------------- add


async def _new_form(
    request: web.Request, lang: str, values: dict[str, str], *, error: str | None = None, status: int = 200
) -> web.Response:
    return await render(
        request,
        "user_new.html",
        lang,
        status=status,
        active="users",
        values=values,
        error=error,
        roles=ROLES,
        opds=_opd_choices(_config(request)),
    )


@admin_only
async def new_user_page(request: web.Request) -> web.StreamResponse:
    """GET /ops/pengguna/baru: the form to add a user."""
    return await _new_form(request, lang_of(request), {"name": "", "email": "", "role": "operator", "opd": ""})


@admin_only
async def add_user(request: web.Request) -> web.StreamResponse:
    """POST /ops/pengguna/baru: create the user with a one-time password, then show it once on their page."""
    admin: StaffView = request[USER_KEY]
    form = await read_form(request)
    lang = lang_of(request, form.get("lang"))
    values = _form_values(form)
    accounts = request.app[ACCOUNTS]
    try:
        created = await asyncio.to_thread(
            functools.partial(
                accounts.create_user,
                email=values["email"],
                name=values["name"],
                role=values["role"],
                opd_code=values["opd"] or None,
                actor_id=admin.id,
            )
        )
    except AccountError as exc:
        log.info("staff user refused", actor_id=admin.id, reason=exc.code)
        return await _new_form(request, lang, values, error=_error(exc, STRINGS[lang]), status=422)
    session = await aiohttp_session.get_session(request)
    session[_ONCE] = {"uid": created.user.id, "pw": created.one_time_password}
    session["flash"] = "users_added"
    raise web.HTTPSeeOther(f"{USERS}/{created.user.id}")


# --------------------------------------------------------------------------- edit


async def _edit_page(
    request: web.Request,
    lang: str,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    user_id = _user_id(request)
    detail: UserDetail | None = await request.config_dict[ACCEPTOR].read(load_user, user_id)
    if detail is None:
        raise web.HTTPNotFound()
    t = STRINGS[lang]
    session = await aiohttp_session.get_session(request)
    one_time = None
    flash = None
    if status == 200:
        once = session.get(_ONCE)
        if isinstance(once, dict) and once.get("uid") == user_id:
            one_time = once.get("pw")
            del session[_ONCE]  # shown once: a reload no longer has it
        popped = session.pop("flash", None)
        flash = t.get(popped) if isinstance(popped, str) else None
    user = detail.user
    if values is None:
        values = {"name": user.name, "email": user.email, "role": user.role, "opd": user.opd_code or ""}
    names = {o.code: o.name for o in _config(request).opds.values()}
    audit = [
        {
            "when": _when(entry.at, t),
            "who": (f"{entry.actor_name} (#{entry.actor_id})" if entry.actor_name else f"#{entry.actor_id}")
            if entry.actor_id is not None
            else t["users_audit_cli"],
            "what": t.get(f"users_audit_{entry.action}", entry.action),
            "detail": entry.detail or "",
        }
        for entry in detail.audit
    ]
    return await render(
        request,
        "user_edit.html",
        lang,
        status=status,
        active="users",
        target=user,
        target_opd=names.get(user.opd_code, user.opd_code) if user.opd_code else "",
        last_login=_when(user.last_login_at, t),
        values=values,
        error=error,
        notice=flash,
        one_time=one_time,
        roles=ROLES,
        opds=_opd_choices(_config(request)),
        audit=audit,
    )


@admin_only
async def user_page(request: web.Request) -> web.StreamResponse:
    """GET /ops/pengguna/{id}: the user's details, the forms to change them, and the change log."""
    return await _edit_page(request, lang_of(request))


async def _change(
    request: web.Request, change: Callable[[StaffAdmin, int, int, dict[str, str]], object], flash: str
) -> web.StreamResponse:
    """Run one admin change in a thread; 303 to the user's page, or 422 with the page and the reason."""
    admin: StaffView = request[USER_KEY]
    user_id = _user_id(request)
    form = await read_form(request)
    lang = lang_of(request, form.get("lang"))
    values = _form_values(form)
    staff_admin = StaffAdmin(request.app[ACCOUNTS])
    try:
        await asyncio.to_thread(change, staff_admin, admin.id, user_id, values)
    except AccountError as exc:
        if exc.code == "not_found":
            raise web.HTTPNotFound() from None
        log.info("staff change refused", actor_id=admin.id, user_id=user_id, reason=exc.code)
        kept = values if "role" in form else None  # the edit form's values; the buttons carry none
        return await _edit_page(request, lang, values=kept, error=_error(exc, STRINGS[lang]), status=422)
    session = await aiohttp_session.get_session(request)
    session["flash"] = flash
    raise web.HTTPSeeOther(f"{USERS}/{user_id}")


def _update(admin: StaffAdmin, actor: int, user_id: int, values: dict[str, str]) -> None:
    admin.update(actor_id=actor, user_id=user_id, name=values["name"], role=values["role"], opd_code=values["opd"])


@admin_only
async def update_user(request: web.Request) -> web.StreamResponse:
    """POST /ops/pengguna/{id}: save the name, role and OPD."""
    return await _change(request, _update, "users_saved")


@admin_only
async def set_active(request: web.Request) -> web.StreamResponse:
    """POST /ops/pengguna/{id}/aktif with ``active=0|1``: deactivate (sessions end at once) or reactivate."""
    form = await read_form(request)
    active = form.get("active") == "1"

    def toggle(admin: StaffAdmin, actor: int, user_id: int, values: dict[str, str]) -> None:
        admin.set_active(actor_id=actor, user_id=user_id, active=active)

    return await _change(request, toggle, "users_reactivated" if active else "users_deactivated")


@admin_only
async def reset_password(request: web.Request) -> web.StreamResponse:
    """POST /ops/pengguna/{id}/sandi: a new one-time password, shown once on the user's page."""
    admin: StaffView = request[USER_KEY]
    user_id = _user_id(request)
    form = await read_form(request)
    lang = lang_of(request, form.get("lang"))
    if user_id == admin.id:
        # Their own reset would end this very session before the new password could be shown.
        return await _edit_page(request, lang, error=STRINGS[lang]["users_err_self_reset"], status=422)
    staff_admin = StaffAdmin(request.app[ACCOUNTS])
    try:
        one_time = await asyncio.to_thread(
            functools.partial(staff_admin.reset_password, actor_id=admin.id, user_id=user_id)
        )
    except AccountError as exc:
        if exc.code == "not_found":
            raise web.HTTPNotFound() from None
        return await _edit_page(request, lang, error=_error(exc, STRINGS[lang]), status=422)
    session = await aiohttp_session.get_session(request)
    session[_ONCE] = {"uid": user_id, "pw": one_time}
    session["flash"] = "users_password_reset"
    raise web.HTTPSeeOther(f"{USERS}/{user_id}")


def add_user_routes(console: web.Application) -> None:
    """The users pages, relative to the console's ``/ops/`` mount point."""
    console.router.add_get("/pengguna", users_page, name="users")
    console.router.add_get("/pengguna/baru", new_user_page, name="user_new")
    console.router.add_post("/pengguna/baru", add_user)
    console.router.add_get(r"/pengguna/{user_id:\d+}", user_page, name="user")
    console.router.add_post(r"/pengguna/{user_id:\d+}", update_user)
    console.router.add_post(r"/pengguna/{user_id:\d+}/aktif", set_active, name="user_active")
    console.router.add_post(r"/pengguna/{user_id:\d+}/sandi", reset_password, name="user_password")
