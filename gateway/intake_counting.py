"""Counts what happened to each HTTP intake request, in one place for every channel.

The routes that take a citizen's message (every webhook, ``POST /lapor``, the app's complaint
and message routes) are registered here with their channel. One middleware then counts their
answers on ``runtime.activity`` (labels in :mod:`workers.activity`):

- 401/403 → ``refused`` (bad or missing signature or token), 413 → ``too_large``,
  400/415/422 → ``malformed``;
- a request that got something stored (accepted or a provider's retry) → its accept latency.

``accepted`` and ``duplicate`` are counted per message by the acceptor itself
(:meth:`gateway.accept.GroupCommitAcceptor.accept`), which also serves pollers and the SMTP
server; ``unreadable`` where the input is kept (:func:`note_unreadable`). A request that was
kept as unreadable is not counted a second time from its status (a 400 after keeping it).
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from workers.activity import Activity

INTAKE_ROUTES = web.AppKey("intake_routes", dict)
"""Route object → the channel its requests belong to."""

_STATUS_OUTCOMES = {
    401: "refused",
    403: "refused",
    413: "too_large",
    400: "malformed",
    415: "malformed",
    422: "malformed",
}


@dataclass
class _RequestTally:
    """What the handler of one intake request did, seen by the middleware after it returns."""

    stored: int = 0
    unreadable: bool = False


_current: contextvars.ContextVar[_RequestTally | None] = contextvars.ContextVar("intake_request_tally", default=None)


def count_intake_route(app: web.Application, route: web.AbstractRoute, channel: str) -> None:
    """Count the answers of ``route`` as intake outcomes of ``channel``."""
    app.setdefault(INTAKE_ROUTES, {})[route] = channel


def note_stored(n: int) -> None:
    """The running intake request had ``n`` messages stored (accepted or duplicate)."""
    tally = _current.get()
    if tally is not None:
        tally.stored += n


def note_unreadable() -> None:
    """The running intake request was kept as unreadable (already counted by the keeper)."""
    tally = _current.get()
    if tally is not None:
        tally.unreadable = True


def outcome_of_status(status: int) -> str | None:
    """The intake outcome an HTTP answer stands for, or None (success, or our own 5xx)."""
    return _STATUS_OUTCOMES.get(status)


def count_intake_outcomes(activity: Activity) -> Middleware:
    """The middleware counting outcome and accept latency of registered intake routes on ``activity``.

    Takes the recorder itself, not the app key: :mod:`gateway.accept` imports this module,
    and the app keys import the acceptor.
    """

    @web.middleware
    async def counting(request: web.Request, handler: Handler) -> web.StreamResponse:
        channel = request.app.get(INTAKE_ROUTES, {}).get(request.match_info.route)
        if channel is None:
            return await handler(request)
        started = time.perf_counter()
        tally = _RequestTally()
        token = _current.set(tally)
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # answers raised as exceptions: 413 from read_body, 303 after the form
            status = exc.status
            raise
        finally:
            _current.reset(token)
            outcome = None if tally.unreadable else outcome_of_status(status)
            if outcome is not None:
                activity.inbound(channel, outcome)
            elif tally.stored and status < 400:
                activity.accept_latency(channel, time.perf_counter() - started)

    return counting
