"""Cross-site request forgery protection of the citizen web form (issue 12).

Two checks, both before anything is stored:

- **Where the post comes from.** Browsers say it: ``Sec-Fetch-Site`` (every current browser) must
  be ``same-origin`` (or ``none``, typed by the user); otherwise ``Origin``, when sent, must be this
  site (``PUBLIC_BASE_URL`` or the Host the request came to). Checked before the body is read.
- **A double-submit token.** ``GET /lapor`` sets a random token in an HttpOnly, SameSite=Strict
  cookie and puts the same token in the form; a post must carry both, equal. Another site can
  neither read the cookie nor set it, so it cannot fill in the field.

The app API (JSON with a device token) and the webhooks (provider signatures) have their own
credentials and are not touched.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from channels.base import same_secret
from gateway.keys import SETTINGS

COOKIE = "lapor_csrf"
FIELD = "csrf_token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")
_SAME_SITE = ("same-origin", "none")


def form_token(request: web.Request) -> str:
    """The token of this browser: its cookie's when it has a well-formed one, else a new one."""
    current = request.cookies.get(COOKIE, "")
    return current if _TOKEN.fullmatch(current) else secrets.token_urlsafe(32)


def remember_token(request: web.Request, response: web.StreamResponse, token: str, *, path: str = "/lapor") -> None:
    """Set the token cookie (only for ``path``: /lapor, or /lacak for the rating form; never readable
    by scripts or sent by other sites)."""
    secure = request.secure or request.app[SETTINGS].public_base_url.startswith("https://")
    response.set_cookie(COOKIE, token, path=path, httponly=True, samesite="Strict", secure=secure)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_site(request: web.Request) -> bool:
    """True when the browser tells us the post comes from another site."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site.strip().lower() not in _SAME_SITE
    origin = request.headers.get("Origin")
    if origin is None:
        return False  # an old browser or a script: the token decides
    allowed = {_origin(request.app[SETTINGS].public_base_url), f"{request.scheme}://{request.host}".lower()}
    return origin.strip().lower() not in allowed


def token_matches(request: web.Request, given: str | None) -> bool:
    """True when the form's token equals the cookie's (constant time)."""
    cookie = request.cookies.get(COOKIE, "")
    return bool(given) and bool(_TOKEN.fullmatch(cookie)) and same_secret(given or "", cookie)
