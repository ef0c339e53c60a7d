"""GET /ops/kasus/{ticket}: one case as a staff member sees it; GET /ops/berkas/{ticket}/{sha256}: its files.

The case is read through :mod:`complaints.casefile` (scoped by :func:`complaints.queries.visible_cases`):
an OPD user asking for another OPD's case gets the same 404 as for an unknown ticket. Personal
data is masked unless the page is opened with ``?identitas=1``; that view is recorded
(:class:`complaints.models.PersonalDataView`) in the same transaction that reads the case. The
action forms are those of :func:`complaints.actions.available` only (the POST handler checks again).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp_session
import structlog
from aiohttp import web
from sqlalchemy.orm import Session

from channels.storage import attachment_path
from complaints import actions, complaint_class, duplicates, merging
from complaints.casefile import Attachment, CaseFile, case_attachment, case_file, find_case, pending_state
from complaints.confidential import identity_withheld
from complaints.queries import Viewer
from config.model import CityConfig
from gateway.console.auth import PREFIX, USER_KEY, StaffView
from gateway.console.clock import step_clock_words
from gateway.console.delivery import DeliverySection, delivery_section
from gateway.console.identity_sources import source_words
from gateway.console.render import lang_of, render
from gateway.console.strings import STRINGS
from gateway.keys import ACCEPTOR, RUNTIME, SETTINGS
from normalizer.envelope import utcnow
from normalizer.tickets import normalize_ticket

log = structlog.get_logger(__name__)

WIB = timezone(timedelta(hours=7), "WIB")  # Kota Bogor's time zone, no DST
_SHA256 = re.compile(r"[0-9a-f]{64}")
REVEAL_PARAM = "identitas"


@dataclass(frozen=True, slots=True)
class Loaded:
    """What one database visit gives the page: the case file and the viewer's actions on it."""

    case: CaseFile
    actions: tuple[str, ...]
    delivery: DeliverySection
    duplicates: tuple[duplicates.Proposal, ...] = ()
    """Open cases that look like the same complaint (operators and admins only; issue 10)."""
    merged_into: str | None = None
    """The ticket of the main case this one was merged into."""
    merged: tuple[str, ...] = ()
    """The tickets of the cases merged into this one."""
    class_proposal: str | None = None
    """Issue 14: the complaint class the verify form proposes (only when the viewer may verify)."""


def local_time(moment: datetime | None) -> str:
    """A timestamp as Bogor local time, ``05-12-2026 14:03 WIB`` (empty for None)."""
    if moment is None:
        return ""
    return f"{moment.astimezone(WIB):%d-%m-%Y %H:%M} WIB"


def _viewer(user: StaffView) -> Viewer:
    return Viewer(role=user.role, opd_code=user.opd_code)


async def _load(request: web.Request, ticket: str, *, reveal: bool, lang: str) -> Loaded | None:
    """Read the case (and record a reveal in the same transaction); None when the viewer may not see it."""
    user: StaffView = request[USER_KEY]
    viewer = _viewer(user)
    runtime = request.config_dict[RUNTIME]
    config: CityConfig = runtime.config
    settings = request.config_dict[SETTINGS]

    def read(db: Session) -> Loaded | None:
        complaint = find_case(db, viewer, ticket)
        if complaint is None:
            return None
        withheld = identity_withheld(viewer, complaint, opd_sees_identity=settings.opd_sees_identity)
        file = case_file(
            db, complaint, reveal=reveal, user_id=user.id, config=config, lang=lang, now=utcnow(), withheld=withheld
        )
        delivery = delivery_section(db, complaint, user.role, lang, withheld=withheld)
        similar = duplicates.proposals(
            db,
            complaint,
            viewer,
            config=config,
            window_days=settings.duplicate_window_days,
            min_similarity=settings.duplicate_min_similarity,
        )
        main = merging.main_of(db, complaint)
        available = actions.available(complaint, viewer)
        return Loaded(
            case=file,
            actions=available,
            delivery=delivery,
            duplicates=similar,
            merged_into=main.ticket if main is not None else None,
            merged=tuple(c.ticket for c in merging.merged_into(db, complaint)),
            class_proposal=complaint_class.suggest(complaint, config) if "verify" in available else None,
        )

    if not reveal:
        result: Loaded | None = await request.config_dict[ACCEPTOR].read(read)
        return result

    def read_and_record() -> Loaded | None:
        with runtime.sf.begin() as db:
            return read(db)

    result = await asyncio.get_running_loop().run_in_executor(None, read_and_record)
    if result is not None and result.case.identity.revealed:
        # Who looked at which case is in the database; the log says only that someone did (no data).
        log.info("personal_data_viewed", user_id=user.id, ticket=ticket)
    return result


async def render_case(
    request: web.Request,
    ticket: str,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    failed_action: str | None = None,
    values: Mapping[str, str] | None = None,
    problem: str | None = None,
    lang: str | None = None,
) -> web.Response:
    """Render the case page (also for the POST handler's 409/422: ``errors`` maps a field of
    ``failed_action``'s form to a string key, ``values`` keeps what was typed, ``problem`` is a
    string key shown at the top; ``lang`` the form's ``lang`` field). Raises 404 when the viewer may not
    see the case."""
    user: StaffView = request[USER_KEY]
    lang = lang_of(request, lang)  # checked against the known languages
    t = STRINGS[lang]
    config: CityConfig = request.config_dict[RUNTIME].config
    reveal = request.method == "GET" and request.query.get(REVEAL_PARAM) == "1"
    loaded = await _load(request, ticket, reveal=reveal, lang=lang)
    if loaded is None:
        viewer = _viewer(user)
        pending = await request.config_dict[ACCEPTOR].read(pending_state, viewer, ticket)
        if pending is not None:
            return await render(request, "case_processing.html", lang, ticket=ticket, failed=pending == "failed")
        raise web.HTTPNotFound()
    session = await aiohttp_session.get_session(request)
    flash = session.pop("flash", None) if status == 200 else None
    case = loaded.case
    return await render(
        request,
        "case.html",
        lang,
        status=status,
        case=case,
        s=case.summary,
        ident=case.identity,
        actions=loaded.actions,
        delivery=loaded.delivery,
        duplicates=loaded.duplicates,
        merge_url=f"{PREFIX}/kasus/{ticket}/gabung" if loaded.duplicates else None,
        merged_into=loaded.merged_into,
        merged=loaded.merged,
        status_label=lambda status: config.sop.label(status, lang) if status in config.sop.statuses else status,
        notice=t.get(flash) if isinstance(flash, str) else None,
        problem=t.get(problem, problem) if problem else None,
        errors={k: t.get(v, v) for k, v in (errors or {}).items()},
        failed_action=failed_action,
        values=dict(values or {}),
        # part-clock: time left on the step's own clock (working hours for people's steps)
        clock=step_clock_words(
            t, config, case.summary.status, case.summary.step_deadline_at, utcnow(), clock=case.summary.clock
        ),
        when=local_time,
        channel_label=lambda c: t.get("channel_" + c, c),
        opds=[(o.code, o.name) for o in config.opds.values()],
        # issue 14: the classes the operator picks from at verification, the proposal preselected
        classes=[
            (c.code, t["form_class_days"].format(label=c.label(lang), n=c.working_days))
            for c in config.classes.classes.values()
        ],
        class_proposal=loaded.class_proposal,
        reasons=actions.return_reasons(config, lang),
        # issue 14: with "bukan wewenang", the national institution the citizen is pointed to
        institutions=[(i.code, i.name) for i in config.institutions.institutions.values()],
        field_labels=config.replies.of(lang).fields,
        source_words=lambda key: source_words(t, key, case.identity.sources.get(key), when=local_time),
        problem_labels=config.replies.of(lang).problems,
        viewer_role=user.role,
        reveal_url=f"{PREFIX}/kasus/{ticket}?{REVEAL_PARAM}=1",
        case_url=f"{PREFIX}/kasus/{ticket}",
        file_url=lambda att: f"{PREFIX}/berkas/{ticket}/{att.sha256}",
        active="case",
    )


async def case_page(request: web.Request) -> web.Response:
    """GET /ops/kasus/{ticket}: the case, masked by default, unmasked (and recorded) with ``?identitas=1``."""
    ticket = normalize_ticket(request.match_info["ticket"])
    if ticket is None:
        raise web.HTTPNotFound()
    return await render_case(request, ticket)


async def case_file_download(request: web.Request) -> web.StreamResponse:
    """GET /ops/berkas/{ticket}/{sha256}: one stored file of a case the viewer may see (404 otherwise)."""
    user: StaffView = request[USER_KEY]
    ticket = normalize_ticket(request.match_info["ticket"])
    sha256 = request.match_info["sha256"]
    if ticket is None or not _SHA256.fullmatch(sha256):
        raise web.HTTPNotFound()
    found: Attachment | None = await request.config_dict[ACCEPTOR].read(case_attachment, _viewer(user), ticket, sha256)
    if found is None:
        raise web.HTTPNotFound()
    root: Path = request.config_dict[SETTINGS].attachments_dir
    try:
        data = await asyncio.to_thread(attachment_path(root, sha256).read_bytes)
    except OSError:
        log.warning("case_file_missing", ticket=ticket, sha256=sha256)
        raise web.HTTPNotFound() from None
    return web.Response(
        body=data,
        content_type=_safe_type(found.content_type),
        headers={
            # inline: a photo opens in the browser; nosniff + the stored type: nothing is guessed into HTML.
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        },
    )


def _safe_type(content_type: str) -> str:
    # A file claiming to be HTML (or script) is served as bytes: the console's origin never runs it.
    base = content_type.split(";", 1)[0].strip().lower()
    if not re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", base) or "html" in base or "javascript" in base or "xml" in base:
        return "application/octet-stream"
    return base


def add_case_routes(console: web.Application) -> None:
    """The case page and its files (called from :func:`gateway.console.views.add_routes`)."""
    console.router.add_get("/kasus/{ticket}", case_page, name="case")
    console.router.add_get("/berkas/{ticket}/{sha256}", case_file_download, name="case_file")
