"""What every HTML page of the gateway shares: language choice, security headers, the response.

The citizen pages (``gateway/pages``) and the staff console (``gateway/console``) render their
own templates and catalogs but answer the same way: one language choice for the whole site (a
``lang`` cookie set by an explicit ``?lang=``), and a strict Content-Security-Policy (no script
at all, so nothing a citizen wrote can run in anybody's browser).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiohttp import web

from gateway.keys import SETTINGS

LANG_COOKIE = "lang"
LANGUAGES = ("id", "en")
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Ticket numbers are in the URLs: do not leak them to other sites.
    "Referrer-Policy": "no-referrer",
}


def pick_language(request: web.Request, form_lang: object = None, languages: Iterable[str] = LANGUAGES) -> str:
    """``?lang=`` first, then the form's hidden field, the cookie, the configured default."""
    known = tuple(languages)
    for candidate in (request.query.get("lang"), form_lang, request.cookies.get(LANG_COOKIE)):
        if candidate in known:
            return str(candidate)
    default = request.config_dict[SETTINGS].default_language
    return default if default in known else "id"


def html_response(
    request: web.Request, page: str, lang: str, *, status: int = 200, extra_headers: Mapping[str, str] | None = None
) -> web.Response:
    """The page with the security headers; an explicit ``?lang=`` choice is remembered in a cookie."""
    response = web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
    response.headers.update(SECURITY_HEADERS)
    response.headers.update(extra_headers or {})
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, path="/", samesite="Lax", httponly=True)
    return response
