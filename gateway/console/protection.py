"""POST /ops/kasus/{ticket}/perlindungan: an admin lifts a case's ``rahasia`` / ``anonim`` protection.

Issue 14: a citizen (or the operator at verification) protects a report; only an admin may take a
protection off again, with a reason, and that is a history line of the case
(:func:`complaints.confidential.lift_protection`). Everyone else gets the 403 page.
"""

from __future__ import annotations

import asyncio

import aiohttp_session
import structlog
from aiohttp import web

from complaints import confidential
from complaints.casefile import find_case
from complaints.queries import Viewer
from gateway.console.auth import PREFIX, USER_KEY, StaffView
from gateway.console.case import render_case
from gateway.console.render import lang_of
from gateway.console.users import admin_only
from gateway.http import read_form
from gateway.keys import RUNTIME
from normalizer.tickets import normalize_ticket

log = structlog.get_logger(__name__)

ACTION = "lift_protection"
MAX_REASON_CHARS = 1000


async def lift(request: web.Request) -> web.Response:
    """Lift the ticked protections (``lift`` = ``rahasia`` / ``anonim``) with a ``reason``; back to the case."""
    user: StaffView = request[USER_KEY]
    ticket = normalize_ticket(request.match_info["ticket"])
    if ticket is None:
        raise web.HTTPNotFound()
    form = await read_form(request)
    lang = lang_of(request, form.get("lang") if isinstance(form.get("lang"), str) else None)
    flags = [str(v) for v in form.getall("lift", []) if v in confidential.FLAGS]
    reason = str(form.get("reason") or "").strip()[:MAX_REASON_CHARS]
    if not flags or not reason:
        errors = {"reason": "required"} if not reason else {"lift": "required"}
        return await render_case(request, ticket, status=422, errors=errors, failed_action=ACTION, lang=lang)
    runtime = request.config_dict[RUNTIME]

    def work() -> tuple[str, ...] | None:
        with runtime.sf.begin() as db:
            case = find_case(db, Viewer(role=user.role, opd_code=user.opd_code), ticket)
            if case is None:
                return None
            viewer = Viewer(role=user.role, opd_code=user.opd_code)
            return confidential.lift_protection(db, case, flags, viewer=viewer, actor=f"staff:{user.id}", reason=reason)

    lifted = await asyncio.to_thread(work)
    if lifted is None:
        raise web.HTTPNotFound()
    log.info("protection_lifted", ticket=ticket, user_id=user.id, flags=",".join(lifted))
    session = await aiohttp_session.get_session(request)
    session["flash"] = "protection_lifted"
    raise web.HTTPSeeOther(f"{PREFIX}/kasus/{ticket}?lang={lang}")


def add_protection_routes(console: web.Application) -> None:
    """The admin's lift route, relative to the console's ``/ops/`` mount point."""
    console.router.add_post("/kasus/{ticket}/perlindungan", admin_only(lift), name="case_protection")
