"""The staff console: an aiohttp sub-application mounted at ``/ops/``.

Being a sub-application keeps its middleware (encrypted session cookie, CSRF check, login
required) on staff URLs only: citizen pages and webhooks never run it. ``GET /ops/status``
stays a route of the main application (bearer ``OPS_TOKEN``, JSON, no session): aiohttp
resolves the exact path before the ``/ops/`` prefix, so it never reaches this middleware.

- :mod:`.auth`: the session cookie, the logged-in user, CSRF tokens;
- :mod:`.middleware`: the gate every console request passes;
- :mod:`.render`, :mod:`.strings`, ``templates/``, ``static/``: the pages' look (shared with
  the citizen pages' stylesheet) in Indonesian and English;
- :mod:`.views`: login, password change and logout; :mod:`.inbox`: the inbox at ``/ops/``.
"""

from __future__ import annotations

import aiohttp_session
from aiohttp import web

from complaints.accounts import Accounts, LoginLimits
from gateway.console import views
from gateway.console.auth import ACCOUNTS, PREFIX, session_storage
from gateway.console.middleware import console_not_found, guard
from gateway.console.render import TEMPLATES, build_templates
from gateway.keys import RUNTIME, SETTINGS


def setup_console(app: web.Application) -> None:
    """Mount the console at ``/ops/`` (call after ``/ops/status`` is on the main app)."""
    runtime = app[RUNTIME]
    console = web.Application()
    console[ACCOUNTS] = Accounts(
        sf=runtime.sf,
        read_sf=runtime.read_sf,
        opd_codes=frozenset(runtime.config.opds),
        limits=LoginLimits.from_settings(app[SETTINGS]),
    )
    console[TEMPLATES] = build_templates()
    aiohttp_session.setup(console, session_storage(app))
    console.middlewares.append(console_not_found)  # part casepage: outermost, so it sees every 404
    console.middlewares.append(guard)
    views.add_routes(console)
    app.router.add_get(PREFIX, views.to_landing)
    app.add_subapp(f"{PREFIX}/", console)
