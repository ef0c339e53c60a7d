"""What operators watch: queue health, the outbox, and every poller (IMAP mailbox, X, Telegram).

``GET /ops/status`` answers JSON to a request carrying ``Authorization: Bearer <OPS_TOKEN>``;
without OPS_TOKEN set the endpoint does not exist (404), so nothing is exposed by default.
It holds counts and states only, never a citizen's data. It also carries the health page's
problem list (``problems``: code, severity, subject, text; part-health, :mod:`workers.health_problems`).
Its counts stop just above ``counts_capped_at`` (10,000), so it costs the same with a million rows.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.base import same_secret
from complaints import deadlines
from complaints.counting import COUNT_CAP, capped_count, capped_counts_by
from complaints.models import ChannelCursor, Complaint, InboxMessage, PollerState, Reply
from gateway.keys import ACCEPTOR, RUNTIME, SETTINGS
from normalizer.envelope import utcnow
from workers.health_problems import problems
from workers.health_report import build_health


def operations_status(session: Session, stale_after: float) -> dict[str, Any]:
    """Counts by state, the oldest unfinished work, every poller's health and position.

    Every count stops just above :data:`COUNT_CAP` (``counts_capped_at`` in the answer): a
    monitor polling this must not read a million rows each time (:mod:`complaints.counting`).
    """
    now = utcnow()
    capped = COUNT_CAP + 1
    inbox = capped_counts_by(session, InboxMessage.state)  # ix_inbox_state_created
    replies = capped_counts_by(session, Reply.status)  # ix_replies_status_created
    cases = capped_counts_by(session, Complaint.status)  # ix_complaints_status
    oldest = session.scalar(select(func.min(InboxMessage.created_at)).where(InboxMessage.state == "accepted"))
    overdue = capped_count(session, Complaint.id, deadlines.overdue(now), cap=capped)
    # Stuck: due longer ago than the sweeper waits (a message waiting for its scheduled retry is not).
    due = func.coalesce(InboxMessage.next_attempt_at, InboxMessage.updated_at)
    stale = due < now - timedelta(seconds=stale_after)
    stuck = capped_count(session, InboxMessage.id, InboxMessage.state == "accepted", stale, cap=capped)
    pollers = [
        {
            "poller": p.id,
            "provider": p.provider,
            "status": p.status,
            "last_poll_at": p.last_poll_at.isoformat() if p.last_poll_at else None,
            "last_error": p.last_error,
            "last_error_at": p.last_error_at.isoformat() if p.last_error_at else None,
        }
        for p in session.scalars(select(PollerState).order_by(PollerState.id))
    ]
    # Positions: IMAP "<uidvalidity>:<last uid>", X since_id, Telegram update offset (no personal data).
    cursors = {
        c.id: {"value": c.value, "updated_at": c.updated_at.isoformat()}
        for c in session.scalars(select(ChannelCursor).order_by(ChannelCursor.id))
    }
    return {
        "inbox": inbox,
        "inbox_oldest_unfinished_seconds": (now - oldest).total_seconds() if oldest else 0,
        "inbox_stuck": stuck,
        "replies": replies,
        "cases": cases,
        "cases_overdue": overdue,
        "pollers": pollers,
        "cursors": cursors,
        "counts_capped_at": COUNT_CAP,
    }


async def ops_status(request: web.Request) -> web.Response:
    """GET /ops/status (bearer OPS_TOKEN)."""
    settings = request.app[SETTINGS]
    token = settings.ops_token or ""
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer ") or not same_secret(given[7:], token):
        return web.json_response({"error": "send Authorization: Bearer <OPS_TOKEN>"}, status=401)
    data = await request.app[ACCEPTOR].read(operations_status, settings.sweep_after_seconds)
    # part-health: the problem list of the health page, for external monitors (code, severity, text).
    runtime = request.app[RUNTIME]
    now = utcnow()
    picture = await asyncio.to_thread(build_health, runtime, now)
    data["problems"] = [p.as_json() for p in problems(picture, settings, now)]
    return web.json_response(data)


def setup_ops(app: web.Application) -> None:
    """Mount /ops/status when an OPS_TOKEN is configured."""
    if app[SETTINGS].ops_token:
        app.router.add_get("/ops/status", ops_status)
