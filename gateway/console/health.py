"""``/ops/health``: the system health page for operators and admins.

Problems first, in words (or "everything is running normally"), then the queues with a small
chart, the processes, the inbound channels and pollers, and the outbound providers. The picture
is built in a thread (:func:`workers.health_report.build_health`: database and broker round
trips); the page reloads itself with ``<meta http-equiv="refresh">`` every
``HEALTH_REFRESH_SECONDS`` (0: never), no JavaScript. OPD users get a 403 page: queue and
channel trouble is the city operators' business, and poller names carry mailbox names.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from aiohttp import web

from gateway.console.auth import PREFIX, USER_KEY, StaffView
from gateway.console.health_chart import build_chart
from gateway.console.render import lang_of, render
from gateway.console.strings import STRINGS
from gateway.keys import RUNTIME
from normalizer.envelope import utcnow
from workers.health_problems import PROVIDER_NAMES, clock_words, duration_words, problems
from workers.health_report import SERIES_HOURS, build_health
from workers.office_hours import WIB

log = structlog.get_logger(__name__)

HEALTH = f"{PREFIX}/health"
DEAD_LETTERS = f"{PREFIX}/health/dead-letters"  # part dlq's page
ROLES = frozenset({"operator", "admin"})


async def health_page(request: web.Request) -> web.StreamResponse:
    """GET /ops/health: the health picture and its problems (operators and admins)."""
    lang = lang_of(request)
    t = STRINGS[lang]
    user: StaffView = request[USER_KEY]
    if user.role not in ROLES:
        log.info("console_forbidden", user_id=user.id, path=request.path)
        return await render(
            request, "error.html", lang, status=403, title=t["health_forbidden_title"], body=t["health_forbidden_body"]
        )
    runtime = request.config_dict[RUNTIME]
    now = utcnow()
    picture = await asyncio.to_thread(build_health, runtime, now)
    found = problems(picture, runtime.settings, now)
    in_words = {True: 0, False: 1}[lang == "id"]

    def when(at: datetime | None) -> str:
        return f"{clock_words(at, now)} WIB" if at is not None else t["health_never"]

    def waited(seconds: float | None) -> str:
        return duration_words(timedelta(seconds=seconds))[in_words] if seconds is not None else "–"

    return await render(
        request,
        "health.html",
        lang,
        active="health",
        picture=picture,
        problems=found,
        chart=build_chart(picture.series),
        chart_hours=SERIES_HOURS,
        refresh=max(0, runtime.settings.health_refresh_seconds),
        as_of=now.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S"),
        when=when,
        waited=waited,
        provider_name=lambda p: PROVIDER_NAMES.get(p, p),
        dead_letters_url=DEAD_LETTERS,
    )


def add_health_routes(console: web.Application) -> None:
    """The health page, relative to the console's ``/ops/`` mount point."""
    console.router.add_get("/health", health_page, name="health")
