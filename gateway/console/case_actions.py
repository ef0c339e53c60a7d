"""POST /ops/kasus/{ticket}/aksi: one staff action on a case (the forms of the case page).

The form (its fields are :mod:`complaints.actions`' contract) is read, the case loaded through
:func:`complaints.queries.visible_cases` (so an OPD user gets the same 404 for another OPD's
ticket as for an unknown one) and :func:`complaints.actions.perform` runs in a thread inside one
transaction. Only after the commit are the queue messages sent (a failure there is logged; the
sweeper re-sends what is still queued). Success: 303 back to the case page with a flash message.
Refusals get a page in words (403, 404, 409, 422) that shows back what the user typed, so nothing
written is lost. Logs name the action, the ticket, the user id and the outcome, never personal data.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping
from typing import Any

import aiohttp_session
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDictProxy
from sqlalchemy.orm import Session

from channels.storage import store_bytes
from channels.web_form import sanitize_filename
from complaints import lifecycle
from complaints.actions import (
    MAX_PHOTOS,
    ActionForbidden,
    ActionInvalid,
    ActionOutcome,
    ActionRequest,
    Upload,
    perform,
)
from complaints.models import Complaint
from complaints.queries import Viewer, visible_cases
from gateway.console.auth import PREFIX, USER_KEY, StaffView
from gateway.console.render import lang_of, render
from gateway.console.strings import STRINGS
from gateway.http import read_form
from gateway.keys import RUNTIME, SETTINGS
from normalizer.tickets import normalize_ticket

log = structlog.get_logger(__name__)

PHOTO_FIELD = "photos"
_ACTION_PATH = re.compile(rf"{PREFIX}/kasus/[^/]+/aksi")
# What the user may have typed, shown back on a refusal page (in this order).
TYPED_FIELDS: tuple[str, ...] = ("reason", "note", "answer", "phone_note")


class _NotVisible(Exception):
    """No such case, or not one this user may see (the same 404 for both)."""


def _read_uploads(form: MultiDictProxy[Any], limit: int) -> list[Upload]:
    """The posted photos, each read to at most ``limit + 1`` bytes (enough for the size check to refuse it).

    Blocking (aiohttp spooled the files to temporary files): call in a thread. At most
    ``MAX_PHOTOS + 1`` are read: one more than allowed is enough to refuse the form.
    """
    uploads: list[Upload] = []
    for item in form.getall(PHOTO_FIELD, []):
        if not isinstance(item, web.FileField):
            continue
        data = item.file.read(limit + 1)
        if not data:
            continue  # an empty file input
        uploads.append(Upload(sanitize_filename(item.filename), item.content_type, data))
        if len(uploads) > MAX_PHOTOS:
            break
    return uploads


def action_body_limit(settings_max_upload: int, settings_max_body: int) -> int:
    """The largest action form: up to :data:`MAX_PHOTOS` photos of the web form's size, plus the text fields."""
    return MAX_PHOTOS * settings_max_upload + settings_max_body + 64 * 1024


@web.middleware
async def photo_body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let an action form (only it) carry follow-up photos: the gateway's body limit is one photo's.

    Must run before :func:`gateway.console.middleware.guard`, whose CSRF check reads the form.
    The session is loaded first so the request copy shares it with the session middleware
    (which saves the flash message from the original request). Still bounded: aiohttp spools
    file parts to temporary files and refuses a body over the new limit with a 413 page.
    """
    if request.method != "POST" or not _ACTION_PATH.fullmatch(request.path):
        return await handler(request)
    settings = request.config_dict[SETTINGS]
    await aiohttp_session.get_session(request)
    limit = action_body_limit(settings.max_upload_bytes, settings.max_body_bytes)
    try:
        return await handler(request.clone(client_max_size=max(limit, request.client_max_size)))
    except web.HTTPRequestEntityTooLarge:
        lang = lang_of(request)
        t = STRINGS[lang]
        log.info("case_action", outcome="too_large", ticket=request.match_info.get("ticket", "-"))
        mb = max(1, settings.max_upload_bytes // (1024 * 1024))
        return await render(
            request,
            "action_result.html",
            lang,
            status=413,
            title=t["action_too_large_title"],
            body=t["action_too_large_body"].format(n=MAX_PHOTOS, mb=mb),
            errors=[],
            typed=[],
            case_url=None,
            switch_path=f"{PREFIX}/",
        )


def _fields(form: Mapping[str, object]) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def case_action(request: web.Request) -> web.Response:
    """POST /ops/kasus/{ticket}/aksi: take the action of the pressed button (``action``) on the case."""
    user: StaffView = request[USER_KEY]
    runtime = request.config_dict[RUNTIME]
    settings = request.config_dict[SETTINGS]
    # The CSRF check has read the body already (aiohttp caps it at the application's client_max_size).
    form = await read_form(request)
    fields = _fields(form)
    lang = lang_of(request, fields.get("lang"))
    action = fields.get("action", "")[:40]
    ticket = normalize_ticket(request.match_info.get("ticket", ""))
    if ticket is None:
        return await refusal_page(request, lang, 404, action, "-", user, fields)
    try:
        version = int(fields.get("version", ""))
    except ValueError:
        return await refusal_page(
            request, lang, 422, action, ticket, user, fields, errors={"version": "version_invalid"}
        )
    viewer = Viewer(role=user.role, opd_code=user.opd_code)

    def work() -> ActionOutcome:
        uploads = _read_uploads(form, settings.max_upload_bytes)
        action_request = ActionRequest(action=action, version=version, fields=fields, uploads=uploads)
        with runtime.sf.begin() as db:
            complaint = _load(db, viewer, ticket)
            return perform(
                db,
                complaint,
                user_id=user.id,
                viewer=viewer,
                request=action_request,
                config=runtime.config,
                settings=settings,
                store_file=functools.partial(store_bytes, settings.attachments_dir),
            )

    try:
        outcome = await asyncio.to_thread(work)
    except _NotVisible:
        return await refusal_page(request, lang, 404, action, ticket, user, fields)
    except ActionForbidden:
        return await refusal_page(request, lang, 403, action, ticket, user, fields)
    except ActionInvalid as exc:
        return await refusal_page(request, lang, 422, action, ticket, user, fields, errors=exc.errors)
    except lifecycle.CaseChanged:
        return await refusal_page(request, lang, 409, action, ticket, user, fields, changed=True)
    except lifecycle.TransitionRefused:
        return await refusal_page(request, lang, 409, action, ticket, user, fields)
    for actor, ids in outcome.enqueue.items():
        try:
            await asyncio.to_thread(runtime.send, actor, ids)
        except Exception as exc:  # noqa: BLE001 - the rows are committed; the sweeper re-sends them
            log.warning("case_action_enqueue_failed", actor=actor, ticket=ticket, error=type(exc).__name__)
    log.info("case_action", action=action, ticket=ticket, user_id=user.id, outcome="done")
    session = await aiohttp_session.get_session(request)
    session["flash"] = outcome.flash
    raise web.HTTPSeeOther(f"{PREFIX}/kasus/{ticket}")


def _load(db: Session, viewer: Viewer, ticket: str) -> Complaint:
    query = visible_cases(viewer).where(Complaint.ticket == ticket)
    bind = db.get_bind()
    if bind.dialect.name == "postgresql":
        # Hold the row while deciding: a second action on the case waits, then sees the new version.
        query = query.with_for_update()
    complaint = db.scalar(query)
    if complaint is None:
        raise _NotVisible(ticket)
    return complaint


async def refusal_page(
    request: web.Request,
    lang: str,
    status: int,
    action: str,
    ticket: str,
    user: StaffView,
    fields: Mapping[str, str],
    *,
    errors: Mapping[str, str] | None = None,
    changed: bool = False,
) -> web.Response:
    """The page for an action that was not saved, with what the user typed in textareas."""
    t = STRINGS[lang]
    outcome = {403: "forbidden", 404: "not_found", 409: "changed" if changed else "refused", 422: "invalid"}[status]
    log.info("case_action", action=action, ticket=ticket, user_id=user.id, outcome=outcome, fields=sorted(errors or {}))
    if status == 404:
        title, body = t["action_not_found_title"], t["action_not_found_body"]
    elif status == 403:
        title, body = t["action_forbidden_title"], t["action_forbidden_body"]
    elif status == 409:
        title = t["action_changed_title"]
        body = t["action_changed_body"] if changed else t["action_refused_body"]
    else:
        title, body = t["action_invalid_title"], t["action_invalid_body"]
    mb = max(1, request.config_dict[SETTINGS].max_upload_bytes // (1024 * 1024))
    shown_errors = [
        (t.get(f"action_field_{name}", name), t.get(f"action_err_{key}", key).format(mb=mb))
        for name, key in (errors or {}).items()
    ]
    typed = [(name, t[f"action_field_{name}"], fields[name]) for name in TYPED_FIELDS if fields.get(name, "").strip()]
    # No link to a case the user may not see: the 404 and 403 pages lead to the inbox.
    case_url = f"{PREFIX}/kasus/{ticket}" if status in (409, 422) else None
    return await render(
        request,
        "action_result.html",
        lang,
        status=status,
        title=title,
        body=body,
        errors=shown_errors,
        typed=typed,
        case_url=case_url,
        switch_path=case_url or f"{PREFIX}/",
    )
