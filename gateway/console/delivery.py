"""The answer's delivery on the case page: status of every reply, resend after a failure, mark read.

- ``GET /ops/kasus/{ticket}/pengiriman``: the delivery section alone (the case page includes
  the same fragment, ``templates/case_delivery.html``, with :func:`delivery_section`'s result
  as ``delivery``).
- ``POST /ops/kasus/{ticket}/kirim-ulang`` (operator, admin; the case flagged
  ``delivery_failed``): ``via`` = ``email`` | ``sms`` and an optional ``address`` typed by the
  operator; queues the answer again (:func:`complaints.answers.resend_answer`), then hands it
  to ``send_reply`` after the commit.
- ``POST /ops/kasus/{ticket}/tandai`` (operator, admin; the case flagged ``citizen_message``,
  ``sender_limit``, ``reopened`` or ``reopen_requested``): the citizen's new message was read.

A case the user may not see is a 404 (never "exists but not yours"); an OPD user acting on
their own case is a 403. Logs carry the ticket and the outcome, never an address.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import aiohttp_session
import structlog
from aiohttp import web
from sqlalchemy.orm import Session

from complaints import answers, attention, rating
from complaints.confidential import REPORTER, identity_withheld
from complaints.models import Complaint
from complaints.queries import STAFF_ROLES, Viewer, visible_cases
from gateway.console.auth import PREFIX, USER_KEY, StaffView
from gateway.console.render import lang_of, render
from gateway.console.strings import STRINGS
from gateway.http import read_form
from gateway.keys import ACCEPTOR, RUNTIME, SETTINGS
from normalizer.tickets import normalize_ticket

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

MARKABLE = (attention.CITIZEN_MESSAGE, attention.SENDER_LIMIT, rating.REOPENED, rating.REOPEN_REQUESTED)
"""Flags an operator clears by marking the citizen's message read (issue 14: a reopen is seen, or decided)."""

MAX_ADDRESS_LENGTH = 320


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One reply to the citizen, in words (the address masked)."""

    kind: str
    channel: str
    address: str
    status: str
    status_code: str
    error: str | None
    sent_at: str


@dataclass(frozen=True, slots=True)
class DeliverySection:
    """What ``case_delivery.html`` shows: the replies, the case's flag, the forms the viewer may use."""

    ticket: str
    rows: tuple[DeliveryRow, ...]
    attention: str | None
    can_act: bool
    """Operators and admins get the resend and mark-read forms; OPD users only see the status."""
    has_email: bool
    has_phone: bool
    errors: dict[str, str] = field(default_factory=dict)
    """A refused resend: field -> message (already in words)."""
    values: dict[str, str] = field(default_factory=dict)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "–"


def delivery_section(
    session: Session, complaint: Complaint, role: str, lang: str, *, withheld: bool = False
) -> DeliverySection:
    """The delivery section of ``complaint`` for a viewer of ``role`` in ``lang`` (read inside ``session``);
    ``withheld``: the reporter is hidden from this viewer (issue 14), so no address is shown, even masked."""
    t = STRINGS[lang]
    rows = tuple(
        DeliveryRow(
            kind=t.get("delivery_kind_" + d.kind, d.kind),
            channel=t.get("channel_" + d.channel, d.channel),
            address=REPORTER if withheld else d.address,
            status=t.get("delivery_status_" + d.status, d.status),
            status_code=d.status,
            # Provider errors can quote the address: staff who may act see them, OPD users do not.
            error=d.error if role in STAFF_ROLES else None,
            sent_at=_when(d.sent_at),
        )
        for d in answers.deliveries(session, complaint)
    )
    return DeliverySection(
        ticket=complaint.ticket,
        rows=rows,
        attention=complaint.attention,
        can_act=role in STAFF_ROLES,
        has_email=bool(complaint.email) and not withheld,
        has_phone=bool(complaint.phone) and not withheld,
    )


def _viewer(user: StaffView) -> Viewer:
    return Viewer(role=user.role, opd_code=user.opd_code)


def _ticket(request: web.Request) -> str:
    ticket = normalize_ticket(request.match_info["ticket"])
    if ticket is None:
        raise web.HTTPNotFound()
    return ticket


async def _problem(request: web.Request, lang: str, status: int, title: str, body: str) -> web.Response:
    t = STRINGS[lang]
    return await render(
        request, "case_delivery_page.html", lang, status=status, title=t[title], problem=t[body], delivery=None
    )


async def delivery_page(request: web.Request) -> web.Response:
    """GET /ops/kasus/{ticket}/pengiriman: the delivery section of one case."""
    user: StaffView = request[USER_KEY]
    lang = lang_of(request)
    ticket = _ticket(request)
    viewer = _viewer(user)
    opd_sees_identity = request.config_dict[SETTINGS].opd_sees_identity

    def load(db: Session) -> DeliverySection | None:
        case = db.scalar(visible_cases(viewer).where(Complaint.ticket == ticket))
        if case is None:
            return None
        withheld = identity_withheld(viewer, case, opd_sees_identity=opd_sees_identity)
        return delivery_section(db, case, user.role, lang, withheld=withheld)

    section = await request.config_dict[ACCEPTOR].read(load)
    if section is None:
        return await _problem(request, lang, 404, "case_not_found_title", "case_not_found_body")
    return await _page(request, lang, section)


async def _page(request: web.Request, lang: str, section: DeliverySection, *, status: int = 200) -> web.Response:
    session = await aiohttp_session.get_session(request)
    flash = session.pop("flash", None)
    t = STRINGS[lang]
    return await render(
        request,
        "case_delivery_page.html",
        lang,
        status=status,
        title=t["delivery_page_title"].format(ticket=section.ticket),
        problem=None,
        notice=t.get(flash) if isinstance(flash, str) else None,
        delivery=section,
    )


async def resend(request: web.Request) -> web.Response:
    """POST /ops/kasus/{ticket}/kirim-ulang: send the answer again by e-mail or SMS."""
    user: StaffView = request[USER_KEY]
    form = await read_form(request)
    lang = lang_of(request, form.get("lang"))
    ticket = _ticket(request)
    via = str(form.get("via") or "").strip()
    address = str(form.get("address") or "").strip()[:MAX_ADDRESS_LENGTH]
    runtime = request.config_dict[RUNTIME]
    settings = request.config_dict[SETTINGS]
    viewer = _viewer(user)

    def work() -> tuple[int, list[str], DeliverySection | None, dict[str, str]]:
        with runtime.sf.begin() as db:
            case = db.scalar(visible_cases(viewer).where(Complaint.ticket == ticket).with_for_update())
            if case is None:
                return 404, [], None, {}
            if user.role not in STAFF_ROLES:
                return 403, [], None, {}
            if case.attention != attention.DELIVERY_FAILED:
                return 409, [], delivery_section(db, case, user.role, lang), {}
            try:
                with db.begin_nested():  # a refused form changes nothing
                    ids = answers.resend_answer(
                        db,
                        case,
                        via=via,
                        address=address or None,
                        actor=f"user:{user.id}",
                        config=runtime.config,
                        settings=settings,
                    )
            except answers.ResendInvalid as exc:
                return 422, [], delivery_section(db, case, user.role, lang), exc.errors
            return 303, ids, None, {}

    status, ids, section, errors = await asyncio.to_thread(work)
    if status == 404:
        return await _problem(request, lang, 404, "case_not_found_title", "case_not_found_body")
    if status == 403:
        log.info("delivery_resend_forbidden", ticket=ticket, user_id=user.id)
        return await _problem(request, lang, 403, "forbidden_title", "forbidden_body")
    if status == 409 and section is not None:
        log.info("delivery_resend_not_needed", ticket=ticket, user_id=user.id)
        t = STRINGS[lang]
        return await _page(
            request, lang, _with_errors(section, {"via": t["resend_not_needed"]}, via, address), status=409
        )
    if status == 422 and section is not None:
        log.info("delivery_resend_refused", ticket=ticket, user_id=user.id, errors=sorted(errors))
        t = STRINGS[lang]
        words = {k: t.get(v, v) for k, v in errors.items()}
        return await _page(request, lang, _with_errors(section, words, via, address), status=422)
    log.info("delivery_resent", ticket=ticket, user_id=user.id, via=via, replies=len(ids))
    await _hand_over(runtime, ids)
    return await _done(request, ticket, "resend_done", lang)


async def mark_read(request: web.Request) -> web.Response:
    """POST /ops/kasus/{ticket}/tandai: the citizen's message on a closed case was read."""
    user: StaffView = request[USER_KEY]
    form = await read_form(request)
    lang = lang_of(request, form.get("lang"))
    ticket = _ticket(request)
    runtime = request.config_dict[RUNTIME]
    viewer = _viewer(user)

    def work() -> tuple[int, DeliverySection | None]:
        with runtime.sf.begin() as db:
            case = db.scalar(visible_cases(viewer).where(Complaint.ticket == ticket).with_for_update())
            if case is None:
                return 404, None
            if user.role not in STAFF_ROLES:
                return 403, None
            if case.attention not in MARKABLE:
                return 409, delivery_section(db, case, user.role, lang)
            attention.clear(db, case, actor=f"user:{user.id}", action="citizen_message_read")
            return 303, None

    status, section = await asyncio.to_thread(work)
    if status == 404:
        return await _problem(request, lang, 404, "case_not_found_title", "case_not_found_body")
    if status == 403:
        log.info("citizen_message_read_forbidden", ticket=ticket, user_id=user.id)
        return await _problem(request, lang, 403, "forbidden_title", "forbidden_body")
    if status == 409 and section is not None:
        t = STRINGS[lang]
        return await _page(
            request, lang, _with_errors(section, {"mark": t["mark_read_not_needed"]}, "", ""), status=409
        )
    log.info("citizen_message_read", ticket=ticket, user_id=user.id)
    return await _done(request, ticket, "mark_read_done", lang)


def _with_errors(section: DeliverySection, errors: dict[str, str], via: str, address: str) -> DeliverySection:
    return DeliverySection(
        ticket=section.ticket,
        rows=section.rows,
        attention=section.attention,
        can_act=section.can_act,
        has_email=section.has_email,
        has_phone=section.has_phone,
        errors=errors,
        values={"via": via, "address": address},
    )


async def _hand_over(runtime: Runtime, ids: list[str]) -> None:
    """Enqueue the queued replies after the commit; if the queue is down, the sweeper sends them later."""
    if not ids:
        return
    try:
        await asyncio.to_thread(runtime.send, "send_reply", ids)
    except Exception as exc:  # noqa: BLE001 - the rows are durable; the sweeper re-enqueues them
        log.error("delivery_enqueue_failed", count=len(ids), error=type(exc).__name__)


async def _done(request: web.Request, ticket: str, flash: str, lang: str) -> web.Response:
    session = await aiohttp_session.get_session(request)
    session["flash"] = flash
    raise web.HTTPSeeOther(f"{PREFIX}/kasus/{ticket}?lang={lang}#pengiriman")


def add_delivery_routes(console: web.Application) -> None:
    """The delivery routes, relative to the console's ``/ops/`` mount point."""
    console.router.add_get("/kasus/{ticket}/pengiriman", delivery_page, name="case_delivery")
    console.router.add_post("/kasus/{ticket}/kirim-ulang", resend, name="case_resend")
    console.router.add_post("/kasus/{ticket}/tandai", mark_read, name="case_mark_read")
