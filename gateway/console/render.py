"""Rendering console pages: the templates, the language choice and the headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_session
import jinja2
import structlog
from aiohttp import web

from gateway.console.auth import CSRF_FIELD, PREFIX, USER_KEY, StaffView, csrf_token
from gateway.console.strings import LANGUAGES, STRINGS
from gateway.html import html_response, pick_language
from gateway.keys import RUNTIME

log = structlog.get_logger(__name__)

HERE = Path(__file__).parent
TEMPLATES = web.AppKey("console_templates", jinja2.Environment)
# Staff pages hold case data: never keep them in a shared cache or the back-forward cache.
_NO_STORE = {"Cache-Control": "no-store"}


def lang_of(request: web.Request, form_lang: Any = None) -> str:
    """``?lang=`` first, then the form's hidden field, the cookie, the configured default."""
    return pick_language(request, form_lang, LANGUAGES)


async def render(request: web.Request, template: str, lang: str, *, status: int = 200, **context: Any) -> web.Response:
    """Render ``template`` with the strings of ``lang``, the CSRF token and the user (if any).

    ``switch_path`` (optional) is where the language link goes, for pages answering a POST
    whose own path cannot be opened with GET (part-actions: the case action's refusal pages).
    """
    switch_path = context.pop("switch_path", None) or request.path
    session = await aiohttp_session.get_session(request)
    user: StaffView | None = request.get(USER_KEY)
    other = "en" if lang == "id" else "id"
    opds = request.config_dict[RUNTIME].config.opds
    page = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            t=STRINGS[lang],
            lang=lang,
            other_lang=other,
            switch_url=f"{switch_path}?lang={other}",
            csrf_field=CSRF_FIELD,
            csrf=csrf_token(session),
            user=user,
            opd_name=opds[user.opd_code].name if user and user.opd_code and user.opd_code in opds else None,
            prefix=PREFIX,
            **context,
        )
    )
    return html_response(request, page, lang, status=status, extra_headers=_NO_STORE)


def csrf_refused(request: web.Request) -> web.Response:
    """403 for a POST without the session's CSRF token: a plain page saying to reload and send again."""
    lang = lang_of(request)
    strings = STRINGS[lang]
    page = (
        request.app[TEMPLATES]
        .get_template("error.html")
        .render(t=strings, lang=lang, title=strings["error_403_title"], body=strings["error_403_body"], prefix=PREFIX)
    )
    log.info("console_csrf_refused", path=request.path)
    return html_response(request, page, lang, status=403, extra_headers=_NO_STORE)


# --- part casepage: the console's own 404 ------------------------------------------------------
def not_found(request: web.Request) -> web.Response:
    """404 for any unknown console URL, a case or file the user may not see, or an unknown ticket.

    The same page whoever asks, logged in or not: it says nothing about whether the case exists.
    """
    lang = lang_of(request)
    strings = STRINGS[lang]
    page = (
        request.app[TEMPLATES]
        .get_template("error.html")
        .render(
            t=strings,
            lang=lang,
            title=strings["error_404_title"],
            body=strings["error_404_body"],
            prefix=PREFIX,
            back_url=f"{PREFIX}/",
            back_label=strings["error_404_back"],
        )
    )
    return html_response(request, page, lang, status=404, extra_headers=_NO_STORE)


def build_templates() -> jinja2.Environment:
    """The console templates (autoescape on, undefined names fail loudly)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
