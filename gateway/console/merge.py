"""POST /ops/kasus/{ticket}/gabung: merge the chosen duplicate cases into this one (issue 10).

The form is the case page's duplicate list (``case_duplicates.html``): the CSRF token (checked by
the console's guard middleware like every console POST), the main case's ``version`` and one
``tiket`` per chosen case. :func:`complaints.merging.merge` runs in a thread inside one
transaction; success is a 303 back to the case page with a flash message, a refusal a page in
words (403 for OPD staff, 404 for a case the user may not see, 409 when a case changed meanwhile,
422 naming the case and the merge rule that says no). Logs name the tickets and the user id, never personal data.
"""

from __future__ import annotations

import asyncio
import functools

import aiohttp_session
import structlog
from aiohttp import web
from sqlalchemy.orm import Session

from complaints import lifecycle, merging
from complaints.models import Complaint
from complaints.queries import Viewer, visible_cases
from gateway.console.auth import PREFIX, USER_KEY, StaffView
from gateway.console.case_actions import refusal_page
from gateway.console.render import lang_of
from gateway.http import read_form
from gateway.keys import RUNTIME
from normalizer.tickets import normalize_ticket

log = structlog.get_logger(__name__)
FIELD = "tiket"
ACTION = "merge"


class _NotVisible(Exception):
    """No such case, or not one this user may see (the same 404 for both)."""


async def merge_cases(request: web.Request) -> web.Response:
    """POST /ops/kasus/{ticket}/gabung: merge the posted ``tiket`` cases into the case ``ticket``."""
    user: StaffView = request[USER_KEY]
    runtime = request.config_dict[RUNTIME]
    form = await read_form(request)
    lang = lang_of(request, str(form.get("lang", "")))
    ticket = normalize_ticket(request.match_info.get("ticket", ""))
    chosen = [normalize_ticket(str(v)) or str(v)[:20] for v in form.getall(FIELD, []) if isinstance(v, str)]
    try:
        version = int(str(form.get("version", "")))
    except ValueError:
        version = -1
    viewer = Viewer(role=user.role, opd_code=user.opd_code)

    def work() -> list[str]:
        with runtime.sf.begin() as db:
            main = _load(db, viewer, ticket)
            return [
                c.ticket
                for c in merging.merge(db, main, chosen, viewer=viewer, user_id=user.id, expected_version=version)
            ]

    # The refusal pages are the case actions' (case_actions.refusal_page): the same words, a way back.
    refuse = functools.partial(refusal_page, request, lang, action=ACTION, ticket=ticket or "-", user=user, fields={})
    try:
        if ticket is None:
            raise _NotVisible()
        merged = await asyncio.to_thread(work)
    except _NotVisible:
        return await refuse(404)
    except merging.MergeForbidden:
        return await refuse(403)
    except lifecycle.CaseChanged:
        return await refuse(409, changed=True)
    except merging.MergeRefused as exc:
        # The line names the case at fault and the rule: "<ticket>: this case is already merged into another".
        return await refuse(422, errors={exc.ticket: exc.reason})
    log.info("case_merge", ticket=ticket, merged=merged, user_id=user.id, outcome="done")
    session = await aiohttp_session.get_session(request)
    session["flash"] = "merge_done"
    raise web.HTTPSeeOther(f"{PREFIX}/kasus/{ticket}")


def _load(db: Session, viewer: Viewer, ticket: str | None) -> Complaint:
    # Not locked here: merging.merge locks the main case with the chosen ones, in id order (locking the
    # main case first would let two merges in opposite directions deadlock).
    main = db.scalar(visible_cases(viewer).where(Complaint.ticket == ticket))
    if main is None:
        raise _NotVisible()
    return main


def add_merge_routes(console: web.Application) -> None:
    """The merge form's target (called from :func:`gateway.console.views.add_routes`)."""
    console.router.add_post("/kasus/{ticket}/gabung", merge_cases, name="case_merge")
