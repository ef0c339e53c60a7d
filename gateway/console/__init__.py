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
- :mod:`.users`: the admin's staff users pages at ``/ops/pengguna``.
"""

from __future__ import annotations

import warnings

import aiohttp_session
from aiohttp import web

from complaints.accounts import Accounts, LoginLimits
from gateway.console import case_actions, views
from gateway.console.auth import ACCOUNTS, PREFIX, session_storage
from gateway.console.middleware import console_not_found, guard
from gateway.console.render import TEMPLATES, build_templates
from gateway.keys import RUNTIME, SETTINGS


def _quiet_session_library() -> None:
    """Silence aiohttp's NotAppKeyWarning raised from aiohttp-session's own code, and only that.

    aiohttp-session 2.12.1 (its latest release) keeps the session under plain ``str`` request
    keys, which aiohttp >= 3.12 warns about at the first console request: noise on the console
    of ``intake serve``, and a 500 under ``python -W error``. The keys are the library's, so the
    filter names its module; a ``str`` key of ours would still warn.
    """
    warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module="aiohttp_session")


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
    _quiet_session_library()
    aiohttp_session.setup(console, session_storage(app))
    console.middlewares.append(console_not_found)  # part casepage: outermost, so it sees every 404
    # part-actions: before the guard, whose CSRF check reads the (photo-carrying) action forms.
    console.middlewares.append(case_actions.photo_body_limit)
    console.middlewares.append(guard)
    views.add_routes(console)
    app.router.add_get(PREFIX, views.to_landing)
    app.add_subapp(f"{PREFIX}/", console)
