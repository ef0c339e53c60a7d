"""Liveness, readiness and the public status API (no personal data anywhere here)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from complaints import merging, store
from complaints.confidential import public_text_hidden, scrub
from complaints.models import Complaint, HistoryEntry
from config.model import CityConfig
from gateway.keys import ACCEPTOR, RUNTIME
from gateway.rate_limits import LOOKUP, limited
from normalizer.tickets import normalize_ticket


async def healthz(request: web.Request) -> web.Response:
    """The process is up."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The database answers (and Redis, when it is the broker): ready to accept."""
    runtime = request.app[RUNTIME]
    checks: dict[str, str] = {}

    def probe() -> None:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        client = getattr(runtime.broker, "client", None)
        if client is not None:
            client.ping()
            checks["redis"] = "ok"

    try:
        await request.app[ACCEPTOR].read(lambda _session: probe())
    except Exception as exc:  # noqa: BLE001 - report, do not crash the probe
        return web.json_response({"status": "unavailable", "checks": checks, "error": type(exc).__name__}, status=503)
    return web.json_response({"status": "ready", "checks": checks})


# Events that keep the status but that the citizen should see: a re-route, their own follow-up.
_PUBLIC_EVENTS = frozenset({"reroute", "citizen_follow_up"})


def public_status(session: Session, config: CityConfig, ticket: str, lang: str = "id") -> dict[str, Any] | None:
    """The public view of a case: status, step, deadline, OPD (named from ``config``) and history — no identity."""
    sop = config.sop
    complaint = store.complaint_by_ticket(session, ticket)
    if complaint is None:
        pending = store.inbox_by_ticket(session, ticket)
        if pending is None:
            return None
        return {
            "ticket": ticket,
            "answer": None,
            "status": "diterima",
            "status_label": sop.label("diterima", lang),
            "step": sop.step_for_status("diterima"),
            "opd": None,
            "received_at": pending.created_at.isoformat(),
            "step_deadline_at": None,
            "class_deadline_at": None,
            "history": [],
        }
    main = merging.main_of(session, complaint)
    if main is not None:
        return _merged_status(session, config, complaint, main, lang)
    return _case_status(session, config, complaint, lang)


def _case_status(session: Session, config: CityConfig, complaint: Complaint, lang: str) -> dict[str, Any]:
    sop = config.sop
    opd = config.opd(complaint.opd_code)
    return {
        "ticket": complaint.ticket,
        "status": complaint.status,
        "status_label": sop.label(complaint.status, lang),
        "step": complaint.step,
        "opd": {"code": opd.code, "name": opd.name} if opd else None,
        "channel": complaint.channel,
        "received_at": complaint.created_at.isoformat(),
        "step_deadline_at": complaint.step_deadline_at.isoformat() if complaint.step_deadline_at else None,
        # issue 14: the overall deadline of the case's class (working days), set at verification
        "class_deadline_at": complaint.class_deadline_at.isoformat() if complaint.class_deadline_at else None,
        "history": _public_history(session, config, complaint, lang),
        "answer": public_answer(complaint),
    }


def _public_history(
    session: Session, config: CityConfig, complaint: Complaint, lang: str, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    return [
        {
            "at": h.at.isoformat(),
            "status": h.to_status,
            "status_label": config.sop.label(h.to_status or "", lang),
            "action": h.action,
        }
        for h in store.history_of(session, complaint.id)
        # Only the steps: internal events (notes, delivery flags, resends) are not the public's.
        if (h.to_status != h.from_status or h.action in _PUBLIC_EVENTS) and (since is None or h.at >= since)
    ]


def _merged_status(
    session: Session, config: CityConfig, complaint: Complaint, main: Complaint, lang: str
) -> dict[str, Any]:
    """A merged case (issue 10) as its reporter sees it: their own ticket and receipt, the main case's
    progress (status, OPD, deadline, its steps since the merge, its answer), nobody else's data."""
    data = _case_status(session, config, main, lang)
    merged_at = session.scalar(
        select(func.max(HistoryEntry.at)).where(
            HistoryEntry.complaint_id == complaint.id, HistoryEntry.action == merging.MERGED_INTO
        )
    )
    own = _public_history(session, config, complaint, lang)
    answer = public_answer(main, also=(complaint,))
    if answer is not None:
        answer["sent_on"] = complaint.reply_channel  # where *this* reporter got it
    data.update(
        ticket=complaint.ticket,
        channel=complaint.channel,
        received_at=complaint.created_at.isoformat(),
        merged_into=main.ticket,
        history=own + _public_history(session, config, main, lang, since=merged_at or complaint.updated_at),
        answer=answer,
    )
    return data


def public_answer(complaint: Complaint, also: Iterable[Complaint] = ()) -> dict[str, Any] | None:
    """The answer as the public may see it: None until the case is closed (``selesai``); then
    the channel it was sent on, and its text only when the operator ticked "publish".

    The published text is the approved answer with the reporter's own NIK, name, address, phone
    and e-mail (and anything shaped like a NIK, mobile number or e-mail address) masked: a
    public page never shows personal data, even one the OPD quoted by mistake. ``also``: cases
    merged into ``complaint`` whose reporters' data is masked too (issue 10).
    """
    if complaint.status != "selesai":
        return None
    # A confidential case's answer is never published, whatever the operator ticked (issue 14).
    published = bool(complaint.answer_public and (complaint.answer_text or "").strip())
    published = published and not public_text_hidden(complaint)
    shown = scrub(complaint.answer_text or "", complaint, *also, replacement="***") if published else None
    return {"published": published, "text": shown, "sent_on": complaint.reply_channel}


async def complaint_status(request: web.Request) -> web.Response:
    """GET /api/v1/complaints/{ticket}: public status JSON."""
    ticket = normalize_ticket(request.match_info["ticket"])
    if ticket is None:
        return web.json_response({"error": "not a ticket number"}, status=400)
    lang = request.query.get("lang", "id")
    data = await request.app[ACCEPTOR].read(
        public_status, request.app[RUNTIME].config, ticket, lang if lang in ("id", "en") else "id"
    )
    if data is None:
        return web.json_response({"error": "ticket not found"}, status=404)
    return web.json_response(data)


def setup_health(app: web.Application) -> None:
    """Add the health and public status routes."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/v1/complaints/{ticket}", limited(LOOKUP, complaint_status))  # part-abuse
