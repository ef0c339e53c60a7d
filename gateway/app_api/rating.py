"""``POST /api/v1/complaints/{ticket}/rating``: the app's PUAS / TIDAK PUAS of a delivered answer.

Issue 14 ("a field in the app API"): the same path as an SMS reply, :func:`complaints.rating.rate`
(``via="app"``): a ``case_ratings`` row, and ``tidak_puas`` with a reason reopens the case to its
OPD (a second time, the operator decides). Only the device the case belongs to may rate it, and
only while the case takes ratings (closed, within ``RATING_PERIOD_WORKING_DAYS``); like an SMS, a
later rating of the same answer is recorded too.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from complaints import rating, sla
from gateway.app_api import queries
from gateway.app_api.complaints import owned_json
from gateway.app_api.devices import DeviceRecord
from gateway.app_api.responses import NO_STORE, error, validation_error
from gateway.keys import ACCEPTOR, RUNTIME, SETTINGS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from config.model import CityConfig

log = structlog.get_logger(__name__)

__all__ = ["CHOICES", "VIA", "rate_answer", "rating_of_body"]

VIA = "app"
CHOICES = {"puas": True, "tidak_puas": False}
"""The ``rating`` values: satisfied or not."""


def rating_of_body(data: dict[str, Any]) -> rating.Rating | dict[str, str]:
    """The rating the JSON body gives, or the field errors (``rating``, ``reason``) to answer 422.

    A reason longer than the SMS path takes is cut like an SMS reason, not refused.
    """
    errors: dict[str, str] = {}
    choice, reason = data.get("rating"), data.get("reason")
    if choice is None:
        errors["rating"] = "missing"
    elif not isinstance(choice, str) or choice not in CHOICES:
        errors["rating"] = "not_allowed"
    if reason is not None and not isinstance(reason, str):
        errors["reason"] = "type"
    if errors:
        return errors
    text = " ".join((reason or "").split())[: rating.MAX_REASON_CHARS] or None
    return rating.Rating(satisfied=CHOICES[str(choice)], score=None, reason=text)


def _record(sf: sessionmaker[Session], config: CityConfig, ticket: str, given: rating.Rating, days: int) -> str | None:
    calendar = sla.calendar_of(config.calendar)
    with sf.begin() as session:
        return rating.rate_ticket(session, ticket, given, via=VIA, days=days, sop=config.sop, calendar=calendar)


async def rate_answer(request: web.Request, device: DeviceRecord) -> web.Response:
    """POST /api/v1/complaints/{ticket}/rating: rate the answer of this device's complaint."""
    settings, runtime = request.app[SETTINGS], request.app[RUNTIME]
    got = await owned_json(request, device)
    if isinstance(got, web.Response):
        return got
    ticket, _, data = got
    given = rating_of_body(data)
    if isinstance(given, dict):
        return validation_error(given, device.language, settings)
    days = settings.rating_period_working_days
    outcome = await asyncio.to_thread(_record, runtime.sf, runtime.config, ticket, given, days)
    if outcome is None:
        return error(409, "not_rateable", "the answer is not delivered yet, or its rating period has ended")
    log.info("case_rated", ticket=ticket, satisfied=given.satisfied, outcome=outcome, via=VIA)
    case_status = await request.app[ACCEPTOR].read(queries.case_status, ticket)
    return web.json_response({"ticket": ticket, "outcome": outcome, "status": case_status}, headers=NO_STORE)
