"""GET /ops/: the inbox, the cases waiting for the logged-in user's role, as a table.

Every query goes through :mod:`complaints.queries` (scoped to the user's role and OPD). The
rows carry no personal data: ticket, channel, age, status, the identity check's *result* (which
fields have a problem, never their values), the routing proposal and the step clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import aiohttp_session
from aiohttp import web
from sqlalchemy.orm import Session

from complaints import complaint_class, deadlines, lifecycle
from complaints.models import Complaint
from complaints.queries import InboxFilters, InboxPage, Viewer, inbox, waiting_statuses
from config.model import CityConfig
from gateway.console.auth import PREFIX, USER_KEY, StaffView
from gateway.console.case import local_time
from gateway.console.clock import step_clock_words
from gateway.console.render import lang_of, render
from gateway.console.strings import STRINGS
from gateway.keys import ACCEPTOR, RUNTIME, SETTINGS
from normalizer.envelope import utcnow

CHANNELS: tuple[str, ...] = ("web", "sms", "email", "whatsapp", "telegram", "x", "app", "call_centre", "newspaper")


@dataclass(frozen=True, slots=True)
class Row:
    """One inbox line, already in words (no personal data)."""

    ticket: str
    channel: str
    age: str
    status: str
    identity: str
    identity_ok: bool
    proposal: str
    clock: str
    overdue: bool
    attention: str | None = None
    """Why the case needs an operator beyond its status, in words (a failed delivery, a new message)."""
    deadline: str = ""
    """part-clock: the step deadline as a date in WIB ("07-12-2026 08:30 WIB"), empty without a clock."""
    class_deadline: str = ""
    """Issue 14: the class and its overall deadline in WIB ("Ringan: 19-08-2026 16:00 WIB"), empty before."""
    class_overdue: bool = False


def _hours(delta_seconds: float) -> int:
    return max(0, int(delta_seconds // 3600))


def _age(t: dict[str, str], created: datetime, now: datetime) -> str:
    seconds = (now - created).total_seconds()
    if seconds < 3600:
        return t["inbox_minutes"].format(n=max(0, int(seconds // 60)))
    if seconds < 48 * 3600:
        return t["inbox_hours"].format(n=_hours(seconds))
    return t["inbox_days"].format(n=int(seconds // 86400))


def _identity(t: dict[str, str], problems: str | None, config: CityConfig, lang: str) -> tuple[str, bool]:
    if not problems:
        return t["inbox_identity_ok"], True
    labels = config.replies.of(lang)
    words = []
    for item in problems.split(","):
        field, _, code = item.partition(":")
        words.append(f"{labels.fields.get(field, field)} {labels.problems.get(code, code)}".strip())
    return "; ".join(words), False


def _row(case: Complaint, t: dict[str, str], config: CityConfig, lang: str, now: datetime) -> Row:
    identity, ok = _identity(t, case.identity_problems, config, lang)
    opd = config.opd(case.opd_code)
    if opd is not None:
        matched = (case.routing_matched or "").replace(",", ", ")
        score = f"{case.routing_score:.2f}" if case.routing_score is not None else "–"
        proposal = t["inbox_proposal"].format(opd=opd.short_name, score=score, words=matched or "–")
    else:
        proposal = t["inbox_no_proposal"]
    # part-clock: time left on the step's own clock (working hours for people's steps).
    overdue = deadlines.is_overdue(case, now)
    clock = step_clock_words(
        t, config, case.status, case.step_deadline_at, now, clock=lifecycle.step_clock(case, config.sop)
    )
    return Row(
        ticket=case.ticket,
        channel=t.get("channel_" + case.channel, case.channel),
        age=_age(t, case.created_at, now),
        status=config.sop.label(case.status, lang) if case.status in config.sop.statuses else case.status,
        identity=identity,
        identity_ok=ok,
        proposal=proposal,
        clock=clock,
        overdue=overdue,
        attention=t.get("attention_" + case.attention, case.attention) if case.attention else None,
        deadline=local_time(case.step_deadline_at),
        class_deadline=_class_deadline(case, config, lang),
        class_overdue=complaint_class.is_class_overdue(case, now),
    )


def _class_deadline(case: Complaint, config: CityConfig, lang: str) -> str:
    if case.class_deadline_at is None:
        return ""
    chosen = config.classes.get(case.complaint_class)
    label = chosen.label(lang) if chosen is not None else case.complaint_class
    return f"{label}: {local_time(case.class_deadline_at)}"


def _filters(query: dict[str, str], user: StaffView) -> InboxFilters:
    return InboxFilters(
        status=query.get("status", "").strip()[:40],
        opd_code=query.get("opd", "").strip()[:40] if user.role != "opd" else "",
        channel=query.get("channel", "").strip()[:32],
        overdue=query.get("overdue", "") == "1",
        ticket=query.get("ticket", "").strip()[:40],
        attention=query.get("attention", "") == "1" and user.role != "opd",
    )


async def inbox_page(request: web.Request) -> web.Response:
    """GET /ops/: the user's inbox with its filter form and next/previous links."""
    user: StaffView = request[USER_KEY]
    session = await aiohttp_session.get_session(request)
    flash = session.pop("flash", None)
    lang = lang_of(request)
    t = STRINGS[lang]
    config: CityConfig = request.config_dict[RUNTIME].config
    auto_dispose = request.config_dict[SETTINGS].auto_dispose
    query = {k: v for k, v in request.query.items() if isinstance(v, str)}
    filters = _filters(query, user)
    try:
        page_no = max(1, min(int(query.get("page", "1")), 10_000))
    except ValueError:
        page_no = 1
    viewer = Viewer(role=user.role, opd_code=user.opd_code)

    def load(db: Session) -> tuple[InboxPage, list[Row]]:
        now = utcnow()
        result = inbox(db, viewer, filters, page_no, auto_dispose=auto_dispose, now=now)
        # Rows are turned into words inside the session: nothing lazy is read after it closes.
        return result, [_row(c, t, config, lang, now) for c in result.cases]

    result, rows = await request.config_dict[ACCEPTOR].read(load)
    kept = {
        k: v
        for k, v in (
            ("status", filters.status),
            ("opd", filters.opd_code),
            ("channel", filters.channel),
            ("overdue", "1" if filters.overdue else ""),
            ("ticket", filters.ticket),
            ("attention", "1" if filters.attention else ""),
            ("lang", lang if "lang" in request.query else ""),
        )
        if v
    }
    prev_url = f"{PREFIX}/?{urlencode({**kept, 'page': page_no - 1})}" if page_no > 1 else None
    next_url = f"{PREFIX}/?{urlencode({**kept, 'page': page_no + 1})}" if result.has_next else None
    statuses = [(s, config.sop.label(s, lang)) for s in waiting_statuses(user.role, auto_dispose=auto_dispose)]
    return await render(
        request,
        "home.html",
        lang,
        notice=t.get(flash) if isinstance(flash, str) else None,
        rows=rows,
        filters=filters,
        statuses=statuses,
        opds=[(o.code, o.short_name) for o in config.opds.values()] if user.role != "opd" else [],
        channels=[(c, t.get("channel_" + c, c)) for c in CHANNELS],
        page=page_no,
        prev_url=prev_url,
        next_url=next_url,
    )
