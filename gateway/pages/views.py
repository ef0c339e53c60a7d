"""Citizen pages: the complaint form (``/lapor``) and public tracking (``/lacak``).

The form is read with ``request.multipart()`` as a stream, so an oversized photo is refused
(413) as soon as it passes ``max_upload_bytes``, before the rest of the body is read.
Identity is checked here too (SOP step 3's rules, :func:`normalizer.identity.check_identity`)
so a citizen fixes a typo at once instead of getting the complaint back later; the worker
checks it again. Tracking pages show the case's status only: never identity or complaint text.
Everything a citizen typed is escaped by Jinja's autoescape.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
import structlog
from aiohttp import MultipartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from channels.storage import attachment_path, held_uploads_dir, hold_upload, release_held_upload, save_attachment
from channels.web_form import (
    FLAG_FIELDS,
    IDENTITY_FIELDS,
    MAX_TEXT_CHARS,
    PHOTO_FIELD,
    TEXT_FIELD,
    FormErrors,
    UploadedPhoto,
    WebForm,
    identity_from_fields,
    new_submission_id,
    valid_submission_id,
)
from config.statuses import CLOSED
from gateway.health import public_status
from gateway.html import html_response, pick_language
from gateway.http import read_body
from gateway.intake_counting import count_intake_route
from gateway.keys import ACCEPTOR, ADAPTERS, RUNTIME, SETTINGS
from gateway.limits import BodyTooLarge, FormBudget, TooManyFields  # part-hostile
from gateway.pages import csrf, rating_page  # part-hostile; issue 14
from gateway.pages.strings import LANGUAGES, STRINGS
from gateway.rate_limits import ADDRESS_LIMITER, LOOKUP, limited
from gateway.unreadable import traceback_text
from normalizer.identity import check_identity
from normalizer.normalize import InvalidIntake, build_envelope
from normalizer.tickets import normalize_ticket

log = structlog.get_logger(__name__)

HERE = Path(__file__).parent
TEMPLATES = web.AppKey("page_templates", jinja2.Environment)

WIB = timezone(timedelta(hours=7), "WIB")  # Kota Bogor's time zone, no DST
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Problem.field (Identity attribute) -> form field name.
_FORM_FIELD = {attr: name for name, attr in IDENTITY_FIELDS.items()}
_FIELD_ORDER = (*IDENTITY_FIELDS, TEXT_FIELD, PHOTO_FIELD)


class _TooLarge(Exception):
    """The upload passed a size limit; ``what`` is "photo" or "fields"; ``fields`` read so far."""

    def __init__(self, what: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.fields = fields or {}


class _Unreadable(Exception):
    """The body is not the multipart form we serve."""


# --------------------------------------------------------------------------- rendering


def _pick_lang(request: web.Request, form_lang: str | None = None) -> str:
    """``?lang=`` first, then the form's hidden field, the cookie, the configured default."""
    return pick_language(request, form_lang, LANGUAGES)


def _format_time(value: str | None, lang: str) -> str:
    """An ISO timestamp as Bogor local time, e.g. ``5 Jun 2025 14:03 WIB``."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(WIB)
    month = STRINGS[lang]["months"].split()[local.month - 1]
    return f"{local.day} {month} {local.year} {local:%H:%M} WIB"


def _render(request: web.Request, template: str, lang: str, *, status: int = 200, **context: Any) -> web.Response:
    """Render ``template`` in ``lang``; remember an explicit ``?lang=`` choice in a cookie."""
    settings = request.app[SETTINGS]
    other = "en" if lang == "id" else "id"
    page = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            t=STRINGS[lang],
            lang=lang,
            other_lang=other,
            switch_url=f"{request.path}?lang={other}",
            max_chars=MAX_TEXT_CHARS,
            max_mb=_megabytes(settings.max_upload_bytes),
            **context,
        )
    )
    response = html_response(request, page, lang, status=status)
    return response


def _megabytes(size: int) -> str:
    mb = size / (1024 * 1024)
    return f"{mb:.0f}" if mb == int(mb) else f"{mb:.1f}"


def _error_page(request: web.Request, lang: str, status: int, title_key: str, body: str) -> web.Response:
    return _render(request, "error.html", lang, status=status, title_key=title_key, body=body)


def _not_found(request: web.Request, lang: str) -> web.Response:
    return _error_page(request, lang, 404, "error_404_title", STRINGS[lang]["error_404_body"])


def _too_many(request: web.Request, retry_after: int) -> web.Response:
    """429 page for an address past its look-up limit: how long to wait, and ``Retry-After``."""
    lang = _pick_lang(request)
    body = STRINGS[lang]["error_429_body"].format(minutes=max(1, -(-retry_after // 60)))
    response = _error_page(request, lang, 429, "error_429_title", body)
    response.headers["Retry-After"] = str(retry_after)
    return response


# --------------------------------------------------------------------------- the form


async def index(request: web.Request) -> web.StreamResponse:
    """GET /: the form is the home page."""
    raise web.HTTPFound("/lapor" + (f"?{request.query_string}" if request.query_string else ""))


async def form_page(request: web.Request) -> web.Response:
    """GET /lapor: an empty form with a fresh submission id."""
    lang = _pick_lang(request)
    return _form(request, lang, values={}, errors={}, submission_id=new_submission_id(), kept_photo=None)


def _form(
    request: web.Request,
    lang: str,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    submission_id: str,
    kept_photo: dict[str, str] | None,
    status: int = 200,
) -> web.Response:
    strings = STRINGS[lang]
    mb = _megabytes(request.app[SETTINGS].max_upload_bytes)
    # In the order of the form, so the summary reads top to bottom like the page.
    ordered = sorted(errors.items(), key=lambda item: _FIELD_ORDER.index(item[0]) if item[0] in _FIELD_ORDER else 99)
    messages = {
        field: strings.get(key, strings["field_invalid"]).format(max=MAX_TEXT_CHARS, mb=mb) for field, key in ordered
    }
    token = csrf.form_token(request)  # part-hostile: every form carries the browser's token
    response = _render(
        request,
        "form.html",
        lang,
        status=status,
        values=values,
        errors=messages,
        submission_id=submission_id,
        kept_photo=kept_photo,
        csrf_token=token,
    )
    csrf.remember_token(request, response, token)
    return response


async def _read_form(request: web.Request) -> tuple[dict[str, str], UploadedPhoto | None]:
    """Stream the multipart body: text fields up to ``max_body_bytes`` in total, the photo up
    to ``max_upload_bytes``. A urlencoded body (no photo) is read too, for clients without
    the page. Raises :class:`_TooLarge` or :class:`_Unreadable`."""
    settings = request.app[SETTINGS]
    overall = settings.max_upload_bytes + settings.max_body_bytes + 64 * 1024
    if request.content_length is not None and request.content_length > overall:
        raise _TooLarge("photo")
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            body = await read_body(request, settings.max_body_bytes)
        except web.HTTPRequestEntityTooLarge as exc:
            raise _TooLarge("fields") from exc
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Unreadable(str(exc)) from exc
        # part-hostile: the number of fields is bounded like a multipart form's parts.
        if text.count("&") + text.count(";") >= settings.max_form_fields:
            raise _TooLarge("fields")
        try:
            pairs = parse_qsl(text, keep_blank_values=True)
        except ValueError as exc:
            raise _Unreadable(str(exc)) from exc
        return {k: v.replace("\r\n", "\n") for k, v in pairs}, None
    if request.content_type != "multipart/form-data":
        raise _Unreadable(request.content_type)
    fields: dict[str, str] = {}
    photo: UploadedPhoto | None = None
    text_bytes = 0
    # part-hostile: every byte (chunked or not) and every part counts, whatever its name: one
    # photo and the text fields fit, a stream of photo parts or of empty parts does not.
    budget = FormBudget.for_request(request, overall)
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            try:
                budget.field()
            except TooManyFields as exc:
                raise _TooLarge("fields", fields) from exc
            if isinstance(part, MultipartReader):
                raise _Unreadable("nested multipart")
            if part.name == PHOTO_FIELD:
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data += chunk
                    if len(data) > settings.max_upload_bytes:
                        raise _TooLarge("photo", fields)
                    try:
                        budget.take(len(chunk))
                    except BodyTooLarge as exc:
                        raise _TooLarge("photo", fields) from exc
                if data:  # an empty file input arrives as a part with no bytes
                    photo = UploadedPhoto(bytes(data), part.filename, part.headers.get(hdrs.CONTENT_TYPE))
                continue
            raw = bytearray()
            while chunk := await part.read_chunk(16 * 1024):
                raw += chunk
                text_bytes += len(chunk)
                if text_bytes > settings.max_body_bytes:
                    raise _TooLarge("fields", fields)
                try:
                    budget.take(len(chunk))
                except BodyTooLarge as exc:
                    raise _TooLarge("fields", fields) from exc
            if part.name:
                fields[part.name] = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    except (ValueError, AssertionError, RuntimeError) as exc:
        raise _Unreadable(str(exc)) from exc
    return fields, photo


def _token_refused(request: web.Request, lang: str, fields: dict[str, str], event: str) -> web.Response | None:
    """The 403 page when the post lacks this browser's CSRF token, else None."""
    if csrf.token_matches(request, fields.get(csrf.FIELD)):
        return None
    # part-hostile: no token, or not this browser's (a forged post, or cookies off): nothing is kept.
    log.info(event, has_cookie=csrf.COOKIE in request.cookies)
    return _error_page(request, lang, 403, "error_403_title", STRINGS[lang]["error_403_expired"])


async def _load_kept_photo(root: Path, sha256: str, filename: str | None) -> UploadedPhoto | None:
    """The photo stored on an earlier, rejected submission of this form (or None)."""
    if not _SHA256.fullmatch(sha256):
        return None
    path = attachment_path(root, sha256)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError:
        return None
    return UploadedPhoto(data, filename)


async def submit(request: web.Request) -> web.Response:
    """POST /lapor: check, store the photo, accept the complaint, redirect to the receipt."""
    settings = request.app[SETTINGS]
    if csrf.cross_site(request):
        # part-hostile: another site's page posting here; refused before the body is read.
        lang = _pick_lang(request)
        log.info("web_form_cross_site", fetch_site=request.headers.get("Sec-Fetch-Site"))
        return _error_page(request, lang, 403, "error_403_title", STRINGS[lang]["error_403_cross_site"])
    try:
        fields, photo = await _read_form(request)
    except _TooLarge as exc:
        lang = _pick_lang(request, exc.fields.get("lang"))
        key = "error_413_photo" if exc.what == "photo" else "error_413_fields"
        body = STRINGS[lang][key].format(mb=_megabytes(settings.max_upload_bytes))
        log.info("web_form_too_large", part=exc.what)
        return _error_page(request, lang, 413, "error_413_title", body)
    except (_Unreadable, HttpProcessingError) as exc:
        # HttpProcessingError: aiohttp's multipart reader refusing e.g. control characters.
        lang = _pick_lang(request)
        log.info("web_form_unreadable", reason=type(exc).__name__)
        return _error_page(request, lang, 400, "error_400_title", STRINGS[lang]["error_400_body"])

    lang = _pick_lang(request, fields.get("lang"))
    if (refused := _token_refused(request, lang, fields, "web_form_token_refused")) is not None:
        return refused
    submission_id = valid_submission_id(fields.get("submission_id")) or new_submission_id()
    fields["submission_id"] = submission_id
    if photo is None and fields.get("foto_ref"):
        # part-hostile: a kept photo waits in the held uploads, never in the attachment store.
        photo = await _load_kept_photo(held_uploads_dir(settings.data_dir), fields["foto_ref"], fields.get("foto_nama"))

    adapter = request.app[ADAPTERS].named("web", WebForm)
    errors: dict[str, str] = {}
    intake = None
    try:
        # part-abuse: the sender the per-sender limit counts is the client's address, not what was typed.
        client = request.app[ADDRESS_LIMITER].web_form_sender(request)
        intake = adapter.parse_submission(fields, photo, lang=lang, client=client)
    except FormErrors as exc:
        errors.update(exc.errors)
    for problem in check_identity(identity_from_fields(fields), regions=request.app[RUNTIME].config.regions):
        field = _FORM_FIELD[problem.field]
        errors.setdefault(field, f"{field}_{problem.code}")

    attachments = intake.attachments if intake is not None else ()
    if intake is None and PHOTO_FIELD not in errors and photo is not None:
        # The text was rejected but the photo is fine: keep it so the citizen need not pick it again.
        attachment = adapter.photo_attachment(photo)
        attachments = (attachment,) if attachment else ()

    async def rejected(status: int = 422) -> web.Response:
        """The form again, with the citizen's input and photo kept and what to fix marked."""
        # part-hostile: the photo is held apart (DATA_DIR/held-uploads) for the corrected post and
        # deleted by the sweeper when nobody comes back for it; the attachment store gets nothing.
        for attachment in attachments:
            assert photo is not None
            await asyncio.to_thread(hold_upload, settings.data_dir, attachment.sha256, photo.data)
        values = {name: fields.get(name, "") for name in (*IDENTITY_FIELDS, TEXT_FIELD, *FLAG_FIELDS)}
        kept = {"sha256": attachments[0].sha256, "name": attachments[0].filename or "foto"} if attachments else None
        log.info("web_form_rejected", fields=sorted(errors))
        return _form(
            request, lang, values=values, errors=errors, submission_id=submission_id, kept_photo=kept, status=status
        )

    if errors or intake is None:
        return await rejected()
    try:
        envelope = build_envelope(intake)
    except InvalidIntake:
        # The reply address (e-mail, else phone) cannot be a real one: that field needs fixing.
        field = _FORM_FIELD["email"] if intake.identity.email else _FORM_FIELD["phone"]
        errors[field] = f"{field}_invalid"
        return await rejected()
    except Exception as exc:  # noqa: BLE001 - our bug: the citizen keeps their input and may send again
        log.error("web_form_unreadable", error=type(exc).__name__, traceback=traceback_text(exc))
        errors[TEXT_FIELD] = "isi_not_processed"
        return await rejected(500)
    for attachment in attachments:
        assert photo is not None
        await asyncio.to_thread(save_attachment, settings.attachments_dir, attachment.sha256, photo.data)
    try:
        outcomes = await request.app[ACCEPTOR].accept([envelope])
    except Exception:  # noqa: BLE001 - nothing stored: tell the citizen to try again
        log.exception("web_form_store_failed")
        return _error_page(request, lang, 503, "error_503_title", STRINGS[lang]["error_503_body"])
    for attachment in attachments:
        await asyncio.to_thread(release_held_upload, settings.data_dir, attachment.sha256)
    outcome = outcomes[0]
    log.info("accepted", provider="web", inbox=outcome.inbox_id, ticket=outcome.ticket, duplicate=outcome.duplicate)
    raise web.HTTPSeeOther(f"/lapor/terima/{outcome.ticket}")


async def receipt_page(request: web.Request) -> web.Response:
    """GET /lapor/terima/{ticket}: the ticket number the citizen keeps."""
    lang = _pick_lang(request)
    ticket = normalize_ticket(request.match_info["ticket"])
    if ticket is None:
        return _not_found(request, lang)
    status = await request.app[ACCEPTOR].read(public_status, request.app[RUNTIME].config, ticket, lang)
    if status is None:
        return _not_found(request, lang)
    return _render(request, "receipt.html", lang, ticket=ticket)


# --------------------------------------------------------------------------- tracking


async def track_form(request: web.Request) -> web.Response:
    """GET /lacak: ask for a ticket; ``?tiket=`` redirects to its page."""
    lang = _pick_lang(request)
    raw = request.query.get("tiket")
    if raw is None:
        return _render(request, "track_form.html", lang, value="", error=None)
    ticket = normalize_ticket(raw)
    if ticket is None:
        return _render(request, "track_form.html", lang, status=422, value=raw, error=STRINGS[lang]["tiket_invalid"])
    raise web.HTTPSeeOther(f"/lacak/{ticket}")


async def track_page(request: web.Request) -> web.Response:
    """GET /lacak/{ticket}: status, SOP step, OPD, deadline and history — no personal data."""
    lang = _pick_lang(request)
    given = request.match_info["ticket"]
    ticket = normalize_ticket(given)
    if ticket is None:
        return _not_found(request, lang)
    if ticket != given:
        raise web.HTTPMovedPermanently(f"/lacak/{ticket}")
    data = await request.app[ACCEPTOR].read(public_status, request.app[RUNTIME].config, ticket, lang)
    if data is None:
        return _not_found(request, lang)
    view = {
        "ticket": data["ticket"],
        "status": data["status"],
        "status_label": data["status_label"],
        "step": data.get("step"),
        "opd_name": (data.get("opd") or {}).get("name"),
        "received_at": _format_time(data.get("received_at"), lang),
        "deadline": _format_time(data.get("step_deadline_at"), lang),
        "class_deadline": _format_time(data.get("class_deadline_at"), lang),  # issue 14
        "history": [
            {"at": _format_time(h.get("at"), lang), "status_label": h.get("status_label") or ""}
            for h in data.get("history") or ()
        ],
        "note": STRINGS[lang].get(f"note_{data['status']}"),
        "answer": _answer_view(data.get("answer"), lang),
        "merged_into": data.get("merged_into"),  # issue 10: merged into another reporter's case
    }
    # issue 14: an answered case may be rated here, once, within its rating period.
    done = request.query.get("dinilai")
    rated = STRINGS[lang][f"rating_done_{done}"] if done in rating_page.OUTCOMES else None
    token = None
    if data["status"] == CLOSED and not data.get("merged_into"):
        days = request.app[SETTINGS].rating_period_working_days
        if await request.app[ACCEPTOR].read(rating_page.offers_rating, request.app[RUNTIME].config, ticket, days):
            token = csrf.form_token(request)
    response = _render(request, "track.html", lang, case=view, rating_token=token, rated=rated)
    if token is not None:
        csrf.remember_token(request, response, token, path="/lacak")
    return response


async def rate_answer(request: web.Request) -> web.Response:
    """POST /lacak/{ticket}/nilai: the tracking page's PUAS / TIDAK PUAS, recorded like an SMS reply."""
    lang = _pick_lang(request)
    ticket = normalize_ticket(request.match_info["ticket"])
    if ticket is None:
        return _not_found(request, lang)
    if csrf.cross_site(request):
        log.info("rating_cross_site", fetch_site=request.headers.get("Sec-Fetch-Site"))
        return _error_page(request, lang, 403, "error_403_title", STRINGS[lang]["error_403_cross_site"])
    try:
        fields, _ = await _read_form(request)
    except (_TooLarge, _Unreadable, HttpProcessingError) as exc:
        log.info("rating_unreadable", reason=type(exc).__name__)
        return _error_page(request, lang, 400, "error_400_title", STRINGS[lang]["error_400_body"])
    lang = _pick_lang(request, fields.get("lang"))
    if (refused := _token_refused(request, lang, fields, "rating_token_refused")) is not None:
        return refused
    given = rating_page.rating_of_form(fields)
    if given is None:
        log.info("rating_choice_invalid")
        return _error_page(request, lang, 400, "error_400_title", STRINGS[lang]["error_400_body"])
    runtime, days = request.app[RUNTIME], request.app[SETTINGS].rating_period_working_days
    outcome = await asyncio.to_thread(rating_page.record_rating, runtime.sf, runtime.config, ticket, given, days)
    if outcome is None:
        log.info("rating_not_taken", ticket=ticket)
        return _error_page(request, lang, 409, "rating_closed_title", STRINGS[lang]["rating_closed_body"])
    log.info("case_rated", ticket=ticket, satisfied=given.satisfied, outcome=outcome, via=rating_page.VIA)
    raise web.HTTPSeeOther(f"/lacak/{ticket}?dinilai={outcome}")


def _answer_view(answer: dict[str, Any] | None, lang: str) -> dict[str, str | None] | None:
    """The closed case's answer for the page: its published text, or else where it was sent."""
    if not answer:
        return None
    strings = STRINGS[lang]
    if answer.get("published") and answer.get("text"):
        return {"text": str(answer["text"]), "sent": None}
    channel = strings.get(f"channel_{answer.get('sent_on')}", strings["channel_other"])
    return {"text": None, "sent": strings["answer_sent_on"].format(channel=channel)}


# --------------------------------------------------------------------------- wiring


@web.middleware
async def _friendly_404(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown URLs get the citizen 404 page instead of aiohttp's plain text."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if request.path.startswith(("/api/", "/channels/", "/static/")) or request.method not in ("GET", "HEAD"):
            raise
        return _not_found(request, _pick_lang(request))


def build_templates() -> jinja2.Environment:
    """The page templates (autoescape on, undefined names fail loudly)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def setup_pages(app: web.Application) -> None:
    """Add the citizen pages, their static files and the friendly 404 middleware."""
    app[TEMPLATES] = build_templates()
    app.middlewares.append(_friendly_404)
    app.router.add_get("/", index)
    app.router.add_get("/lapor", form_page)
    count_intake_route(app, app.router.add_post("/lapor", submit), "web")  # part-instrument: intake outcomes
    app.router.add_get("/lapor/terima/{ticket}", receipt_page)
    app.router.add_get("/lacak", track_form)
    app.router.add_get("/lacak/{ticket}", limited(LOOKUP, track_page, _too_many))  # part-abuse: per address
    app.router.add_post("/lacak/{ticket}/nilai", limited(LOOKUP, rate_answer, _too_many))  # issue 14
    app.router.add_static("/static/", HERE / "static", name="static")
