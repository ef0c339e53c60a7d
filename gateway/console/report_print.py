"""``/ops/reports/opd``: one OPD's monthly SOP report as a printable page (print CSS, A4, no JavaScript).

``?opd=<code>&month=YYYY-MM`` (default: last month). An OPD user always gets their own OPD's
report, whatever ``opd`` says; operators and admins choose any OPD in ``opd.yaml``. An unknown
OPD is the console's 404; a month that cannot be read is a 400 page saying why. The figures come
from :func:`complaints.opd_report.build_opd_report` (in a thread).
"""

from __future__ import annotations

import re
from datetime import date

import structlog
from aiohttp import web
from sqlalchemy.orm import Session

from complaints import sla
from complaints.opd_report import OpdReport, build_opd_report
from complaints.reports import Period
from config.model import CityConfig
from gateway.console.auth import USER_KEY, StaffView
from gateway.console.case import local_time
from gateway.console.render import lang_of, not_found, render
from gateway.console.report_tables import minutes, share
from gateway.console.strings import STRINGS
from gateway.keys import ACCEPTOR, RUNTIME
from normalizer.envelope import utcnow

log = structlog.get_logger(__name__)

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def today_in_city(config: CityConfig) -> date:
    """Today's date in the city (a report's default period is the month before it)."""
    return sla.calendar_of(config.calendar).local_date(utcnow())


def month_of(raw: str, today: date) -> Period | None:
    """The month ``YYYY-MM`` names (empty: last month), or None when it cannot be read."""
    if not raw:
        return Period.month_before(today)
    match = _MONTH.fullmatch(raw)
    # Years as /ops/reports allows them (2000-2099): December 9999 would overflow its end date.
    if match is None or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2099:
        return None
    return Period.month(int(match.group(1)), int(match.group(2)))


async def opd_report_page(request: web.Request) -> web.Response:
    """GET /ops/reports/opd: the printable monthly report of one OPD."""
    lang = lang_of(request)
    t = STRINGS[lang]
    user: StaffView = request[USER_KEY]
    config: CityConfig = request.config_dict[RUNTIME].config
    code = user.opd_code if user.role == "opd" else str(request.query.get("opd", "")).strip()
    opd = config.opd(code)
    if opd is None or user.role not in ("opd", "operator", "admin"):
        return not_found(request)
    raw_month = str(request.query.get("month", "")).strip()[:7]
    period = month_of(raw_month, today_in_city(config))
    if period is None:
        log.info("report_period_refused", user_id=user.id, reason="month")
        return await render(
            request, "error.html", lang, status=400, title=t["report_opd_title"], body=t["report_bad_month"]
        )
    calendar = sla.calendar_of(config.calendar)

    def load(db: Session) -> OpdReport:
        return build_opd_report(db, opd.code, period, config.sop, calendar)

    report: OpdReport = await request.config_dict[ACCEPTOR].read(load)
    months = t["report_months"].split()
    return await render(
        request,
        "report_opd.html",
        lang,
        active="reports",
        opd=opd,
        report=report,
        month_words=f"{months[period.first.month - 1]} {period.first.year}",
        made_at=local_time(utcnow()),
        status_label=lambda s: config.sop.label(s, lang),
        local_time=local_time,
        minutes=minutes,
        share=share,
    )
