"""``GET /statistik``: the public statistics page (issue 10). No login, no personal data, no complaint text.

It shows counts only (:mod:`complaints.statistics`): complaints per month, per status and per
OPD, and each OPD's share answered within the standard; OPDs with fewer than
``STATISTIK_MIN_CASES`` complaints are left out. The figures are built in a thread and kept for
``STATISTIK_CACHE_SECONDS`` (one build at a time: a burst of visitors costs one query), and the
page says so to browsers and proxies with ``Cache-Control: public, max-age``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy.orm import Session

from complaints import sla
from complaints.reports import MERGED_STATUS
from complaints.statistics import PublicFigures, opd_standard_minutes, public_figures
from gateway.html import html_response, pick_language
from gateway.keys import ACCEPTOR, RUNTIME, SETTINGS
from gateway.pages.strings import LANGUAGES, STRINGS
from gateway.pages.views import TEMPLATES
from normalizer.envelope import utcnow


@dataclass
class _Cache:
    figures: PublicFigures | None = None
    built: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


CACHE = web.AppKey("statistik_cache", _Cache)


async def _figures(request: web.Request) -> PublicFigures:
    cache = request.app[CACHE]
    max_age = request.app[SETTINGS].statistik_cache_seconds
    async with cache.lock:
        if cache.figures is None or time.monotonic() - cache.built >= max_age:
            runtime = request.app[RUNTIME]
            calendar = sla.calendar_of(runtime.config.calendar)
            min_cases = request.app[SETTINGS].statistik_min_cases

            def build(db: Session) -> PublicFigures:
                return public_figures(db, runtime.config.sop, calendar, calendar.local_date(utcnow()), min_cases)

            cache.figures = await request.app[ACCEPTOR].read(build)
            cache.built = time.monotonic()
        return cache.figures


async def statistik_page(request: web.Request) -> web.Response:
    """GET /statistik: the public figures in the visitor's language."""
    lang = pick_language(request, None, LANGUAGES)
    t = STRINGS[lang]
    config = request.app[RUNTIME].config
    figures = await _figures(request)
    months = t["months"].split()
    opds = [
        {
            "name": opd.name if (opd := config.opd(f.opd_code)) else f.opd_code,
            "received": f.received,
            "answered": f.answered,
            "merged": f.merged,
            "share": round(100 * f.answered_within / f.answered, 1) if f.answered else None,
            # Issue 14: shares only, and only over enough ratings (answers) not to point at anyone.
            "satisfied": round(100 * f.satisfied / f.ratings, 1) if f.ratings >= figures.min_cases else None,
            "reopened": round(100 * f.reopened / f.answered, 1) if f.answered >= figures.min_cases else None,
        }
        for f in figures.per_opd
    ]
    other = "en" if lang == "id" else "id"
    page = (
        request.app[TEMPLATES]
        .get_template("statistik.html")
        .render(
            t=t,
            lang=lang,
            other_lang=other,
            switch_url=f"{request.path}?lang={other}",
            figures=figures,
            month_label=lambda d: f"{months[d.month - 1]} {d.year}",
            status_label=lambda s: (
                t["statistik_status_merged"]
                if s == MERGED_STATUS
                else config.sop.label(s, lang)
                if s in config.sop.statuses
                else s
            ),
            opds=opds,
            standard_hours=round(opd_standard_minutes(config.sop) / 60, 1),
        )
    )
    max_age = int(request.app[SETTINGS].statistik_cache_seconds)
    return html_response(request, page, lang, extra_headers={"Cache-Control": f"public, max-age={max_age}"})


def add_statistik_routes(app: web.Application) -> None:
    """``/statistik`` on the main application, beside the citizen pages (call after :func:`setup_pages`)."""
    app[CACHE] = _Cache()
    app.router.add_get("/statistik", statistik_page)
