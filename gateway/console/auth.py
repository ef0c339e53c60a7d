"""Who is at the console: the session cookie, the logged-in user and the CSRF token.

- Session: ``EncryptedCookieStorage`` keyed by ``SECRET_KEY`` (:mod:`gateway.secret_key`),
  cookie ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when PUBLIC_BASE_URL is https, valid for
  ``SESSION_MAX_AGE_MINUTES`` from login (the cookie's own timestamp is checked, so an old
  cookie is refused even if a browser kept it).
- CSRF: a random token per session, put in every form and compared on every POST.
- Login (enforced by :mod:`.middleware`): every page but the login page needs a user; a user
  with a one-time password is sent to the password page until they choose one. The user is re-read on each request, so a
  deactivated account or a changed password ends the other sessions at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from sqlalchemy.orm import Session

from channels.base import same_secret
from complaints.accounts import Accounts
from complaints.staff import StaffUser
from gateway.http import read_form
from gateway.keys import SETTINGS
from gateway.secret_key import resolve_secret_key

PREFIX = "/ops"
COOKIE_NAME = "intake_ops"
CSRF_FIELD = "csrf_token"
ACCOUNTS = web.AppKey("console_accounts", Accounts)


@dataclass(frozen=True, slots=True)
class StaffView:
    """What the console needs of a logged-in user, detached from the database session."""

    id: int
    email: str
    name: str
    role: str
    opd_code: str | None
    must_change_password: bool
    fingerprint: str


USER_KEY: web.RequestKey[StaffView] = web.RequestKey("console_user", StaffView)
"""``request[USER_KEY]``: the :class:`StaffView` of the logged-in user (set by the middleware)."""


def password_fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash: a session made before a password change no longer matches."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def staff_view(user: StaffUser) -> StaffView:
    """Copy the fields the console uses out of a :class:`StaffUser` row."""
    return StaffView(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        opd_code=user.opd_code,
        must_change_password=user.must_change_password,
        fingerprint=password_fingerprint(user.password_hash),
    )


def load_staff(session: Session, user_id: int) -> StaffView | None:
    """The active user ``user_id`` (None if unknown or deactivated)."""
    user = session.get(StaffUser, user_id)
    return staff_view(user) if user is not None and user.active else None


def csrf_token(session: aiohttp_session.Session) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def csrf_ok(request: web.Request, session: aiohttp_session.Session) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str):
        return False  # no session (or an expired one): nothing a form could have carried
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return False
    given = (await read_form(request)).get(CSRF_FIELD)
    return isinstance(given, str) and same_secret(given, expected)


def session_storage(app: web.Application) -> EncryptedCookieStorage:
    """The encrypted cookie store of staff sessions, keyed by SECRET_KEY (or the embedded key file)."""
    settings = app[SETTINGS]
    return EncryptedCookieStorage(
        # `intake gateway` has already refused to start without SECRET_KEY; here the key file
        # is the embedded mode's (and the tests') fallback.
        resolve_secret_key(settings, distributed=False),
        cookie_name=COOKIE_NAME,
        path=PREFIX,
        max_age=settings.session_max_age_minutes * 60,
        httponly=True,
        samesite="Lax",
        secure=settings.public_base_url.lower().startswith("https://"),
    )
