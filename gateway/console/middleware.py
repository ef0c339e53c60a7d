"""The console's gate: the CSRF check on every POST, then login required (and the forced password change)."""

from __future__ import annotations

import hmac

import aiohttp_session
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.console.auth import COOKIE_NAME, PREFIX, USER_KEY, csrf_ok, load_staff
from gateway.console.render import csrf_refused, not_found
from gateway.keys import ACCEPTOR

# Pages reachable without a login, and pages a user who must change the password may still open.
_PUBLIC = {f"{PREFIX}/login"}
_WHILE_FORCED = {f"{PREFIX}/password", f"{PREFIX}/logout"}


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CSRF on every POST, then login (and the forced password change) on every non-public page."""
    if request.match_info.http_exception is not None or request.path.startswith(f"{PREFIX}/static/"):
        return await handler(request)  # 404/405 and the stylesheet need neither
    session = await aiohttp_session.get_session(request)
    if request.method == "POST" and not await csrf_ok(request, session):
        return csrf_refused(request)
    if request.path in _PUBLIC:
        return await handler(request)
    user = None
    user_id = session.get("uid")
    if isinstance(user_id, int):
        user = await request.config_dict[ACCEPTOR].read(load_staff, user_id)
        if user is not None and not hmac.compare_digest(user.fingerprint, str(session.get("pw", ""))):
            user = None  # the password changed since this session logged in
    if user is None:
        # "Your session has ended" only to someone who had one: a cookie too old to read (new
        # session) or a login that no longer holds; a visitor of the login page is simply sent there.
        ended = COOKIE_NAME in request.cookies and (session.new or "uid" in session)
        session.invalidate()
        raise web.HTTPSeeOther(f"{PREFIX}/login" + ("?expired=1" if ended else ""))
    if user.must_change_password and request.path not in _WHILE_FORCED:
        raise web.HTTPSeeOther(f"{PREFIX}/password")
    request[USER_KEY] = user
    return await handler(request)


@web.middleware
async def console_not_found(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every 404 under /ops/ (unknown URL, a case the user may not see) gets the console's own page.

    Outermost of the console's middlewares, so it also answers unknown URLs for a visitor who is
    not logged in, and the citizen site's 404 page never shows under /ops/.
    """
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if request.method not in ("GET", "HEAD"):
            raise
        return not_found(request)
