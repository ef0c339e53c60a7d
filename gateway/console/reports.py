"""``/ops/reports``: the SOP report for a chosen period (issue 10).

Every logged-in staff user may open it; what it counts is scoped by
:func:`complaints.queries.visible_cases` (an OPD user's report holds only their OPD's cases).
The period comes from ``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (city dates, both included; default
last month); a date that cannot be read is answered 400 with the form and the reason, never a
guess. The figures are built in a thread (:func:`complaints.reports.build_report`).
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any
from urllib.parse import urlencode

import structlog
from aiohttp import web
from sqlalchemy.orm import Session

from complaints import sla
from complaints.queries import Viewer
from complaints.reports import MAX_DAYS, Period, Report, build_report
from config.model import CityConfig
from gateway.console.auth import USER_KEY, StaffView
from gateway.console.render import lang_of, render
from gateway.console.report_charts import compliance_svg, per_day_svg
from gateway.console.report_files import CSV_TYPE, XLSX_TYPE, to_csv, to_xlsx
from gateway.console.report_print import opd_report_page, today_in_city
from gateway.console.report_tables import build_tables
from gateway.console.strings import STRINGS
from gateway.keys import ACCEPTOR, RUNTIME

log = structlog.get_logger(__name__)

CHARTS = ("per_day", "compliance")
REUSE_SECONDS = 60.0
"""How long a built report serves the same user's charts and downloads (figures up to a minute old)."""
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2099, 12, 31)
"""The dates a report may cover: any complaint this system holds, and no date whose bounds overflow."""
ALL_TABLES = "semua"
"""The download name of the whole report as one workbook (``/ops/reports/semua.xlsx``)."""


class PeriodRefused(Exception):
    """The period in the query cannot be read; ``key`` names the console string saying why."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def period_of(query: dict[str, str], today: date) -> Period:
    """The period the query asks for (``from``/``to``), or last month when it names none."""
    raw_first, raw_last = query.get("from", "").strip(), query.get("to", "").strip()
    if not raw_first and not raw_last:
        return Period.month_before(today)
    try:
        first = date.fromisoformat(raw_first) if raw_first else None
        last = date.fromisoformat(raw_last) if raw_last else None
    except ValueError:
        raise PeriodRefused("report_bad_date") from None
    first = first or (last.replace(day=1) if last else today)
    last = last or today
    # part-hostile: 9999-12-31 passed every check, then its end (midnight after it) overflowed: a 500.
    if not (FIRST_DATE <= first and last <= LAST_DATE):
        raise PeriodRefused("report_out_of_range")
    if last < first:
        raise PeriodRefused("report_bad_order")
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise PeriodRefused("report_too_long")
    return period


def refusal_text(template: str) -> str:
    """A refusal's console string with its limits filled in."""
    return template.format(days=MAX_DAYS, first=FIRST_DATE.isoformat(), last=LAST_DATE.isoformat())


def viewer_of(user: StaffView) -> Viewer:
    """The query scope of a logged-in user."""
    return Viewer(role=user.role, opd_code=user.opd_code)


class _Recent:
    """Reports built in the last :data:`REUSE_SECONDS`, by (role, OPD, period): the page's two
    charts and its downloads arrive right after the page and reuse its figures."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str | None, Period], tuple[float, Report]] = {}

    def get(self, key: tuple[str, str | None, Period]) -> Report | None:
        found = self.kept.get(key)
        return found[1] if found is not None and time.monotonic() - found[0] < REUSE_SECONDS else None

    def put(self, key: tuple[str, str | None, Period], report: Report) -> None:
        now = time.monotonic()
        self.kept = {k: v for k, v in self.kept.items() if now - v[0] < REUSE_SECONDS}
        self.kept[key] = (now, report)


RECENT = web.AppKey("recent_reports", _Recent)


async def load_report(request: web.Request, period: Period, *, fresh: bool = False) -> Report:
    """The report of ``period`` for the logged-in user, built off the event loop.

    Unless ``fresh`` (the page itself), one built for the same role, OPD and period in the last
    :data:`REUSE_SECONDS` is reused (:class:`_Recent`).
    """
    config: CityConfig = request.config_dict[RUNTIME].config
    viewer = viewer_of(request[USER_KEY])
    calendar = sla.calendar_of(config.calendar)
    recent = request.app[RECENT]
    key = (viewer.role, viewer.opd_code, period)
    report = None if fresh else recent.get(key)
    if report is None:

        def load(db: Session) -> Report:
            return build_report(db, viewer, period, config.sop, calendar, class_order=tuple(config.classes.classes))

        report = await request.config_dict[ACCEPTOR].read(load)
        assert report is not None  # noqa: S101 - build_report always returns one
        recent.put(key, report)
    return report


def _query(request: web.Request) -> dict[str, str]:
    return {k: v for k, v in request.query.items() if isinstance(v, str)}


async def reports_page(request: web.Request) -> web.Response:
    """GET /ops/reports: the period form and every table of the report."""
    lang = lang_of(request)
    t = STRINGS[lang]
    user: StaffView = request[USER_KEY]
    config: CityConfig = request.config_dict[RUNTIME].config
    query = _query(request)
    own_opd = config.opd(user.opd_code) if user.role == "opd" else None
    context: dict[str, Any] = {
        "active": "reports",
        "raw_from": query.get("from", "")[:20],
        "raw_to": query.get("to", "")[:20],
        "scope_opd": own_opd.name if own_opd is not None else None,
        "opd_choices": [(o.code, o.short_name) for o in config.opds.values()] if user.role != "opd" else [],
    }
    try:
        period = period_of(query, today_in_city(config))
    except PeriodRefused as exc:
        log.info("report_period_refused", user_id=user.id, reason=exc.key)
        error = refusal_text(t[exc.key])
        return await render(request, "reports.html", lang, status=400, error=error, report=None, tables={}, **context)
    report = await load_report(request, period, fresh=True)
    context.update(
        raw_from=period.first.isoformat(),
        raw_to=period.last.isoformat(),
        period_query=urlencode({"from": period.first.isoformat(), "to": period.last.isoformat(), "lang": lang}),
        all_tables=ALL_TABLES,
    )
    return await render(
        request,
        "reports.html",
        lang,
        error=None,
        report=report,
        tables=build_tables(report, config, lang, t),
        **context,
    )


async def _period_or_400(request: web.Request) -> Period:
    """The query's period for a chart or file; a 400 saying why when it cannot be read."""
    lang = lang_of(request)
    try:
        return period_of(_query(request), today_in_city(request.config_dict[RUNTIME].config))
    except PeriodRefused as exc:
        raise web.HTTPBadRequest(text=refusal_text(STRINGS[lang][exc.key])) from None


def _file(body: bytes, content_type: str, filename: str | None = None) -> web.Response:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return web.Response(body=body, headers=headers, content_type=content_type.split(";")[0], charset=None)


async def chart(request: web.Request) -> web.Response:
    """GET /ops/reports/chart/{name}.svg: ``per_day`` or ``compliance``, drawn in a thread."""
    name = request.match_info["name"]
    if name not in CHARTS:
        raise web.HTTPNotFound()
    period = await _period_or_400(request)
    lang = lang_of(request)
    config: CityConfig = request.config_dict[RUNTIME].config
    report = await load_report(request, period)
    t = STRINGS[lang]
    if name == "per_day":
        svg = await asyncio.to_thread(per_day_svg, report, t)
    else:
        svg = await asyncio.to_thread(compliance_svg, report, config, t)
    return _file(svg, "image/svg+xml")


async def download(request: web.Request) -> web.Response:
    """GET /ops/reports/{table}.csv or .xlsx (``semua.xlsx``: every table, a sheet each)."""
    name, ext = request.match_info["table"], request.match_info["ext"]
    period = await _period_or_400(request)
    lang = lang_of(request)
    config: CityConfig = request.config_dict[RUNTIME].config
    t = STRINGS[lang]
    report = await load_report(request, period)
    tables = build_tables(report, config, lang, t)
    chosen = list(tables.values()) if name == ALL_TABLES and ext == "xlsx" else [tables[name]] if name in tables else []
    if not chosen:
        raise web.HTTPNotFound()
    filename = f"laporan-{name}-{period.first.isoformat()}-{period.last.isoformat()}.{ext}"
    if ext == "csv":
        return _file(to_csv(chosen[0]), CSV_TYPE, filename)
    title = f"{t['report_title']} {period.first.isoformat()} – {period.last.isoformat()}"
    body = await asyncio.to_thread(to_xlsx, chosen, title)
    return _file(body, XLSX_TYPE, filename)


def add_report_routes(console: web.Application) -> None:
    """The reports pages, relative to the console's ``/ops/`` mount point."""
    console[RECENT] = _Recent()
    console.router.add_get("/reports", reports_page, name="reports")
    console.router.add_get("/reports/chart/{name}.svg", chart, name="report_chart")
    console.router.add_get("/reports/opd", opd_report_page, name="report_opd")
    console.router.add_get(r"/reports/{table:[a-z_]+}.{ext:csv|xlsx}", download, name="report_download")
