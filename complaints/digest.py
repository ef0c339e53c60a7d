"""The morning digest: one e-mail a day to each OPD listing its open cases and the overdue ones.

Due once the city's local time (``DIGEST_TIMEZONE``, WIB by default) passes ``DIGEST_TIME``
(07:00); a scheduler that was down at seven sends it when it comes back the same day. Once per
OPD and day whatever the number of schedulers: the outbox row's unique dedupe key
``digest:<opd>:<local date>`` lets only the first in. An OPD with no open case gets no mail;
one without a ``contact`` (or ``escalation``) address is skipped. Like every staff mail it holds
tickets, steps, deadlines and links, never the reporter's personal data.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.deadlines import is_overdue
from complaints.escalation import case_link, late_words, local_time_words, mail_enabled
from complaints.models import Complaint, Reply
from complaints.queries import opd_statuses, waiting_statuses
from complaints.replies import render_reply
from complaints.store import queue_reply
from config.model import CityConfig, Opd
from config.settings import Settings

KIND = "opd_digest"
MAX_LISTED = 200
"""Tickets listed per section; the counts are always complete."""


def digest_day(settings: Settings, now: datetime) -> date | None:
    """The local date whose digest is due at ``now``, or None before ``DIGEST_TIME``."""
    local = now.astimezone(ZoneInfo(settings.digest_timezone))
    return local.date() if local.time() >= settings.digest_time else None


def dedupe_key(opd_code: str, day: date) -> str:
    """The outbox key that makes one digest per OPD and day."""
    return f"{KIND}:{opd_code}:{day.isoformat()}"


def queue_due_digests(session: Session, *, config: CityConfig, settings: Settings, now: datetime) -> list[str]:
    """Queue today's digest for each OPD that has open cases and has not had it; returns the reply ids."""
    day = digest_day(settings, now)
    if day is None or not mail_enabled(settings):
        return []
    addressed = {code: opd for code, opd in config.opds.items() if opd.contact or opd.escalation}
    sent = set(
        session.scalars(
            select(Reply.dedupe_key).where(Reply.dedupe_key.in_([dedupe_key(code, day) for code in addressed]))
        )
    )
    pending = [code for code in addressed if dedupe_key(code, day) not in sent]
    if not pending:
        return []
    open_statuses = [s for s in opd_statuses() if s in config.sop.statuses and not config.sop.state(s).terminal]
    cases_by_opd: dict[str, list[Complaint]] = defaultdict(list)
    for case in session.scalars(
        select(Complaint)
        .where(Complaint.opd_code.in_(pending), Complaint.status.in_(open_statuses), Complaint.closed_at.is_(None))
        .where(Complaint.merged_into_id.is_(None))  # issue 10: a merged case is listed as its main case
        .order_by(Complaint.step_deadline_at.is_(None), Complaint.step_deadline_at, Complaint.created_at)
    ):
        cases_by_opd[case.opd_code or ""].append(case)
    reply_ids = []
    for code, cases in cases_by_opd.items():
        reply_id = _queue_digest(session, addressed[code], cases, day, config=config, settings=settings, now=now)
        if reply_id is not None:
            reply_ids.append(reply_id)
    return reply_ids


def overdue(case: Complaint, now: datetime) -> bool:
    """True when the case waits for its OPD past the step's deadline (as the escalation reads it)."""
    return case.status in waiting_statuses("opd") and is_overdue(case, now)


def _queue_digest(
    session: Session,
    opd: Opd,
    cases: list[Complaint],
    day: date,
    *,
    config: CityConfig,
    settings: Settings,
    now: datetime,
) -> str | None:
    late = [c for c in cases if overdue(c, now)]
    text = render_reply(
        config.replies,
        KIND,
        "id",
        channel="email",
        opd=opd.name,
        date=day.strftime("%d-%m-%Y"),
        open_count=len(cases),
        overdue_count=len(late),
        overdue_list=_lines(late, config, settings, late_at=now),
        open_list=_lines(cases, config, settings),
        link=f"{settings.public_base_url.rstrip('/')}/ops/",
    )
    return queue_reply(
        session,
        dedupe_key=dedupe_key(opd.code, day),
        kind=KIND,
        channel="email",
        provider="email",
        address=opd.contact or opd.escalation or "",
        text=text,
    )


def _lines(cases: list[Complaint], config: CityConfig, settings: Settings, *, late_at: datetime | None = None) -> str:
    """One line per case: ticket, status, deadline, link (no personal data, no complaint text).

    With ``late_at`` (the overdue list) each line also says how late, on the step's own clock
    ("terlambat 7 jam 30 menit kerja"), as the escalation mail does.
    """
    if not cases:
        return "-"
    lines = []
    for case in cases[:MAX_LISTED]:
        status = config.sop.label(case.status, "id") if case.status in config.sop.statuses else case.status
        deadline = local_time_words(case.step_deadline_at, settings) if case.step_deadline_at else "-"
        late = f" | terlambat {late_words(case, config, late_at)}" if late_at is not None else ""
        lines.append(f"- {case.ticket} | {status} | batas {deadline}{late} | {case_link(settings, case.ticket)}")
    if len(cases) > MAX_LISTED:
        lines.append(f"- ... (+{len(cases) - MAX_LISTED})")
    return "\n".join(lines)
