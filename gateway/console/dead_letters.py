"""``/ops/health/dead-letters``: dead queue messages for operators and admins (part-dlq).

- ``GET /ops/health/dead-letters``: the list, newest death first (time in WIB, the stage in
  words, how many items, attempts, the error with personal data masked, links to the cases),
  checkboxes, requeue (selected or all) and discard with a required reason; recent actions.
- ``GET /ops/health/dead-letters/{message_id}``: one message: its fields and the rows it names.
- ``POST /ops/health/dead-letters``: ``action`` = ``requeue_selected`` | ``requeue_all`` |
  ``discard_selected`` | ``discard_all``, ``ids`` (checkboxes), ``reason``; or ``retry_rows``
  with ``rows``: inbox messages that died on their row (no queue message; see
  :func:`workers.dead_rows.retry_dead_rows`). The console's CSRF field is checked by the
  console's guard. Success: 303 back to the list with a flash message.

OPD users get a 403 page. Broker reads and the actions block (Redis round trips, database
writes): they run in a thread. Logs name the user id and counts, never a row's content.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp_session
import structlog
from aiohttp import web

from gateway.console.auth import PREFIX, USER_KEY, StaffView
from gateway.console.render import lang_of, render
from gateway.console.strings import STRINGS
from gateway.console.users import WIB
from gateway.http import read_form
from gateway.keys import RUNTIME
from workers.queue_inspect import (
    DeadLetterOutcome,
    dead_inbox_rows,
    dead_letter,
    dead_letters,
    discard_dead,
    recent_actions,
    requeue_dead,
    retry_dead_rows,
)

log = structlog.get_logger(__name__)

PAGE = f"{PREFIX}/health/dead-letters"
PAGE_SIZE = 50
ROLES = ("operator", "admin")
_FLASH = "dlq_flash"  # session key: {"key": ..., "n": ..., "rows": ..., "missing": ...} until the list shows it
_MESSAGE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
MAX_REASON = 500

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def staff_only(handler: Handler) -> Handler:
    """Operators and admins through; OPD users get the 403 page."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        user: StaffView = request[USER_KEY]
        if user.role not in ROLES:
            log.info("console_forbidden", user_id=user.id, path=PAGE)
            lang = lang_of(request)
            t = STRINGS[lang]
            return await render(
                request, "dead_letters_problem.html", lang, status=403, title=t["forbidden_title"],
                body=t["dlq_forbidden_body"],
            )  # fmt: skip
        return await handler(request)

    return wrapped


def when(moment: datetime) -> str:
    """A moment in Kota Bogor's time, as staff read it."""
    return f"{moment.astimezone(WIB):%Y-%m-%d %H:%M:%S} WIB"


def who(actor: str, t: dict[str, str]) -> str:
    """``staff:7`` / ``cli:ani`` in words."""
    kind, _, rest = actor.partition(":")
    if kind == "staff":
        return t["dlq_who_staff"].format(id=rest)
    if kind == "cli":
        return t["dlq_who_cli"].format(user=rest)
    return actor


def actor_words(actor: str, t: dict[str, str]) -> str:
    """The Dramatiq actor's name as the stage it is in words."""
    return t.get(f"dlq_actor_{actor}", actor)


def _page_number(request: web.Request) -> int:
    try:
        return max(1, min(int(request.query.get("page", "1")), 10_000))
    except ValueError:
        return 1


async def list_page(request: web.Request, *, errors: list[str] | None = None, status: int = 200) -> web.Response:
    """GET /ops/health/dead-letters: the dead messages and the forms to requeue or discard them."""
    runtime = request.config_dict[RUNTIME]
    lang = lang_of(request)
    t = STRINGS[lang]
    page = _page_number(request)

    def load() -> tuple[Any, int, Any, Any]:
        letters, total = dead_letters(runtime, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        # An inbox row a listed dead message names is requeued with it: list it once, there.
        named = {i for letter in letters if letter.actor == "verify_intake" for i in letter.ids}
        return letters, total, dead_inbox_rows(runtime, PAGE_SIZE, named), recent_actions(runtime)

    letters, total, (dead_rows, dead_rows_total), actions = await asyncio.to_thread(load)
    session = await aiohttp_session.get_session(request)
    flash = session.pop(_FLASH, None)
    notices = _flash_lines(flash, t) if isinstance(flash, dict) else []
    rows = [
        {
            "letter": letter,
            "died": when(letter.died_at),
            "actor": actor_words(letter.actor, t),
            "tickets": letter.tickets,
        }
        for letter in letters
    ]
    recent = [
        {"when": when(a.at), "who": who(a.actor, t), "what": t.get(f"dlq_what_{a.action}", a.action),
         "stage": actor_words(a.actor_name, t), "message_id": a.message_id, "reason": a.reason or "–"}
        for a in actions
    ]  # fmt: skip
    return await render(
        request,
        "dead_letters.html",
        lang,
        status=status,
        active="health",  # part health's nav item: these pages are under /ops/health
        rows=rows,
        total=total,
        notices=notices,
        errors=errors or [],
        recent=recent,
        dead_rows=[
            {"row": r, "died": when(r.died_at), "channel": t.get(f"channel_{r.channel}", r.channel)} for r in dead_rows
        ],
        dead_rows_total=dead_rows_total,
        page=page,
        prev_url=f"{PAGE}?page={page - 1}&lang={lang}" if page > 1 else None,
        next_url=f"{PAGE}?page={page + 1}&lang={lang}" if page * PAGE_SIZE < total else None,
        reason="",
    )


def _flash_lines(flash: dict[str, Any], t: dict[str, str]) -> list[str]:
    lines = []
    if flash.get("key") == "requeue":
        lines.append(t["dlq_done_requeue"].format(n=flash.get("n", 0), rows=flash.get("rows", 0)))
    elif flash.get("key") == "discard":
        lines.append(t["dlq_done_discard"].format(n=flash.get("n", 0)))
    elif flash.get("key") == "rows":
        lines.append(t["dlq_done_rows"].format(n=flash.get("n", 0)))
    if flash.get("missing"):
        lines.append(t["dlq_done_missing"].format(n=flash["missing"]))
    return lines


async def detail_page(request: web.Request) -> web.Response:
    """GET /ops/health/dead-letters/{message_id}: one dead message and the rows it names."""
    runtime = request.config_dict[RUNTIME]
    lang = lang_of(request)
    t = STRINGS[lang]
    message_id = request.match_info["message_id"]
    detail = await asyncio.to_thread(dead_letter, runtime, message_id) if _MESSAGE_ID.fullmatch(message_id) else None
    if detail is None:
        return await render(
            request, "dead_letters_problem.html", lang, status=404, title=t["dlq_not_found_title"],
            body=t["dlq_not_found_body"],
        )  # fmt: skip
    letter = detail.letter
    return await render(
        request,
        "dead_letter.html",
        lang,
        active="health",  # part health's nav item: these pages are under /ops/health
        letter=letter,
        died=when(letter.died_at),
        actor=actor_words(letter.actor, t),
        rows=[{"row": r, "kind": t.get(f"dlq_kind_{r.kind}", r.kind)} for r in detail.rows],
        options=detail.options,
        reason="",
    )


async def act(request: web.Request) -> web.Response:
    """POST /ops/health/dead-letters: requeue or discard the selected (or all) dead messages."""
    user: StaffView = request[USER_KEY]
    runtime = request.config_dict[RUNTIME]
    form = await read_form(request)
    lang = lang_of(request, form.get("lang"))
    t = STRINGS[lang]
    action = str(form.get("action") or "")
    ids = [str(i) for i in form.getall("ids", []) if isinstance(i, str) and _MESSAGE_ID.fullmatch(i)]
    reason = " ".join(str(form.get("reason") or "").split())[:MAX_REASON]
    if action == "retry_rows":
        return await _retry_rows(request, user, form.getall("rows", []), lang)
    verb, _, scope = action.partition("_")
    error = None
    if verb not in ("requeue", "discard") or scope not in ("selected", "all"):
        error = "dlq_err_action"
    elif scope == "selected" and not ids:
        error = "dlq_err_none_selected"
    elif verb == "discard" and not reason:
        error = "dlq_err_reason_missing"
    if error is not None:
        log.info("dead_letters_refused", user_id=user.id, action=action[:40], error=error)
        return await list_page(request, errors=[t[error]], status=422)
    chosen = ids if scope == "selected" else None
    who_acts = f"staff:{user.id}"

    def work() -> DeadLetterOutcome:
        if verb == "requeue":
            return requeue_dead(runtime, chosen, actor=who_acts)
        return discard_dead(runtime, chosen, reason, actor=who_acts)

    try:
        outcome = await asyncio.to_thread(work)
    except Exception as exc:  # noqa: BLE001 - a broker or database outage: the message was put back
        log.error("dead_letters_action_failed", user_id=user.id, action=action, error=type(exc).__name__)
        return await list_page(request, errors=[t["dlq_err_failed"]], status=503)
    log.info(
        "dead_letters_action", user_id=user.id, action=action, done=len(outcome.done), missing=len(outcome.missing)
    )
    session = await aiohttp_session.get_session(request)
    session[_FLASH] = {"key": verb, "n": len(outcome.done), "rows": outcome.rows_reset, "missing": len(outcome.missing)}
    raise web.HTTPSeeOther(f"{PAGE}?lang={lang}")


async def _retry_rows(request: web.Request, user: StaffView, picked: list[Any], lang: str) -> web.Response:
    """Process the selected dead inbox messages again (``rows`` checkboxes)."""
    t = STRINGS[lang]
    ids = [str(i) for i in picked if isinstance(i, str) and _MESSAGE_ID.fullmatch(i)]
    if not ids:
        return await list_page(request, errors=[t["dlq_err_none_selected"]], status=422)
    runtime = request.config_dict[RUNTIME]
    try:
        count = await asyncio.to_thread(retry_dead_rows, runtime, ids, actor=f"staff:{user.id}")
    except Exception as exc:  # noqa: BLE001 - a database outage: nothing was changed
        log.error("dead_rows_action_failed", user_id=user.id, error=type(exc).__name__)
        return await list_page(request, errors=[t["dlq_err_failed"]], status=503)
    log.info("dead_rows_action", user_id=user.id, done=count, asked=len(ids))
    session = await aiohttp_session.get_session(request)
    session[_FLASH] = {"key": "rows", "n": count, "missing": len(ids) - count}
    raise web.HTTPSeeOther(f"{PAGE}?lang={lang}")


def add_dead_letter_routes(console: web.Application) -> None:
    """The dead-letter routes, relative to the console's ``/ops/`` mount point."""
    console.router.add_get("/health/dead-letters", staff_only(list_page), name="dead_letters")
    console.router.add_post("/health/dead-letters", staff_only(act))
    console.router.add_get("/health/dead-letters/{message_id}", staff_only(detail_page), name="dead_letter")
