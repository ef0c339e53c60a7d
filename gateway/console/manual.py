"""Manual entry at /ops/baru: operators type in complaints received by telephone or from newspapers.

The form is checked by :func:`channels.manual_entry.parse_entry` (the web form's identity
checks); a valid entry goes through the same acceptor as every channel, so the workers verify
and route it like any other complaint, and the operator gets its ticket at once. Logs name
the fields that were wrong and the ticket, never what was typed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import structlog
from aiohttp import web

from channels.manual_entry import ANSWER_WAYS, SOURCES, TEXT_FIELDS, AnswerRoutes, answer_routes, parse_entry
from channels.web_form import MAX_TEXT_CHARS, FormErrors, new_submission_id, valid_submission_id
from config.settings import ConfigurationError, outbound_sms_provider
from gateway.console.auth import PREFIX, USER_KEY, StaffView
from gateway.console.render import lang_of, render
from gateway.console.strings import STRINGS
from gateway.http import read_form
from gateway.keys import ACCEPTOR, RUNTIME, SETTINGS
from normalizer.normalize import InvalidIntake, build_envelope

log = structlog.get_logger(__name__)

WIB = timezone(timedelta(hours=7), "WIB")  # Kota Bogor's time zone: "not in the future" means its calendar
ROLES = frozenset({"operator", "admin"})


def _today() -> date:
    return datetime.now(UTC).astimezone(WIB).date()


async def _forbidden(request: web.Request, lang: str) -> web.Response:
    t = STRINGS[lang]
    user: StaffView = request[USER_KEY]
    log.info("manual_entry_forbidden", user_id=user.id, role=user.role)
    return await render(
        request, "error.html", lang, status=403, title=t["manual_forbidden_title"], body=t["manual_forbidden_body"]
    )


def _routes(request: web.Request) -> AnswerRoutes:
    settings = request.config_dict[SETTINGS]
    try:
        sms = outbound_sms_provider(settings)
    except ConfigurationError:
        # SMS_REPLY_PROVIDER names a provider that is off: no SMS answer rather than a broken page.
        log.warning("manual_entry_sms_provider_misconfigured")
        sms = None
    return answer_routes(settings, sms)


async def _form(
    request: web.Request,
    lang: str,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    submission_id: str,
    status: int = 200,
) -> web.Response:
    t = STRINGS[lang]
    ordered = sorted(errors.items(), key=lambda item: TEXT_FIELDS.index(item[0]) if item[0] in TEXT_FIELDS else 99)
    messages = {
        field: t.get(f"manual_err_{key}", t["manual_err_field_invalid"]).format(max=MAX_TEXT_CHARS)
        for field, key in ordered
    }
    return await render(
        request,
        "manual.html",
        lang,
        status=status,
        active="manual",
        values=values,
        errors=messages,
        submission_id=submission_id,
        sources=SOURCES,
        answer_ways=ANSWER_WAYS,
        max_chars=MAX_TEXT_CHARS,
        today=_today().isoformat(),
    )


async def manual_page(request: web.Request) -> web.Response:
    """GET /ops/baru: an empty form (call centre; answered by SMS when an SMS provider is configured,
    else by phone) with a fresh submission token."""
    lang = lang_of(request)
    if request[USER_KEY].role not in ROLES:
        return await _forbidden(request, lang)
    values = {"source": "call_centre", "answer_by": "sms" if _routes(request).sms_provider else "phone"}
    return await _form(request, lang, values=values, errors={}, submission_id=new_submission_id())


async def manual_submit(request: web.Request) -> web.Response:
    """POST /ops/baru: check the entry, accept it like any channel's complaint, show its ticket."""
    user: StaffView = request[USER_KEY]
    form = await read_form(request)
    lang = lang_of(request, form.get("lang"))
    if user.role not in ROLES:
        return await _forbidden(request, lang)
    fields = {name: str(value) for name, value in form.items() if isinstance(value, str)}
    submission_id = valid_submission_id(fields.get("submission_id")) or new_submission_id()
    fields["submission_id"] = submission_id
    values = {name: fields.get(name, "") for name in TEXT_FIELDS}

    async def rejected(errors: dict[str, str], status: int = 422) -> web.Response:
        log.info("manual_entry_rejected", user_id=user.id, fields=sorted(errors))
        return await _form(request, lang, values=values, errors=errors, submission_id=submission_id, status=status)

    try:
        intake = parse_entry(
            fields,
            regions=request.config_dict[RUNTIME].config.regions,
            routes=_routes(request),
            today=_today(),
            entered_by=user.id,
        )
        envelope = build_envelope(intake)
    except FormErrors as exc:
        return await rejected(exc.errors)
    except InvalidIntake:
        return await rejected({"telp": "telp_invalid"})
    try:
        outcomes = await request.config_dict[ACCEPTOR].accept([envelope])
    except Exception:  # noqa: BLE001 - nothing stored: the operator keeps the input and sends again
        log.exception("manual_entry_store_failed", user_id=user.id)
        return await rejected({"text": "not_stored"}, status=503)
    outcome = outcomes[0]
    log.info(
        "accepted",
        provider="manual",
        channel=intake.channel,
        inbox=outcome.inbox_id,
        ticket=outcome.ticket,
        duplicate=outcome.duplicate,
        user_id=user.id,
    )
    return await render(
        request,
        "manual_done.html",
        lang,
        active="manual",
        ticket=outcome.ticket,
        case_url=f"{PREFIX}/kasus/{outcome.ticket}",
        duplicate=outcome.duplicate,
    )
