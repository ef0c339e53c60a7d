"""The city app's JSON API under ``/api/v1``, described by ``GET /api/v1/openapi.json``.

| route | what |
| --- | --- |
| ``POST /api/v1/devices`` | register a phone → device id + device token (shown once) |
| ``GET``/``PUT /api/v1/devices/me`` | the phone's settings: FCM push token, language |
| ``POST /api/v1/complaints`` | submit (JSON, or multipart/form-data with up to 3 photos) |
| ``GET /api/v1/complaints`` | this device's complaints |
| ``GET /api/v1/complaints/{ticket}/mine`` | one of them: public history + replies sent to it |
| ``POST /api/v1/complaints/{ticket}/messages`` | add a message to one of them |
| ``POST /api/v1/complaints/{ticket}/rating`` | rate its delivered answer: PUAS / TIDAK PUAS (issue 14) |
| ``GET /api/v1/complaints/{ticket}`` | public status, no login (``gateway/health.py``) |

Everything but registration, the public status and the document itself needs
``Authorization: Bearer <device token>``. Errors are JSON ``{"error", "detail"}`` everywhere
under ``/api/v1/``, including aiohttp's own 404/405, so a client never has to parse text.
"""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.typedefs import Handler

from channels.android_app import CHANNEL
from gateway.app_api.complaints import add_message, list_my_complaints, read_my_complaint, submit_complaint
from gateway.app_api.devices import register_device, requires_device, show_device, update_device
from gateway.app_api.rating import rate_answer
from gateway.app_api.responses import error
from gateway.intake_counting import count_intake_route
from gateway.keys import SETTINGS
from gateway.openapi import openapi_document
from gateway.rate_limits import LOOKUP, REGISTRATION, limited

__all__ = ["setup_app_api"]

API = "/api/v1"
OPENAPI_JSON = web.AppKey("app_api_openapi_json", bytes)

_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own error answers (unknown path, wrong method) as API JSON under /api/v1/."""
    if not request.path.startswith(API + "/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error(exc.status, _ERROR_CODES.get(exc.status, "error"), exc.reason, headers=headers)


async def openapi_json(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json: the OpenAPI 3.0 document of this API."""
    return web.Response(body=request.app[OPENAPI_JSON], content_type="application/json")


def setup_app_api(app: web.Application) -> None:
    """Mount the app API routes, the OpenAPI document and JSON error answers under /api/v1/."""
    app[OPENAPI_JSON] = json.dumps(openapi_document(app[SETTINGS]), ensure_ascii=False, indent=1).encode("utf-8")
    app.middlewares.append(_json_errors)
    router = app.router
    router.add_get(f"{API}/openapi.json", openapi_json)
    router.add_post(f"{API}/devices", limited(REGISTRATION, register_device))  # part-abuse: per address
    router.add_get(f"{API}/devices/me", requires_device(show_device))
    router.add_put(f"{API}/devices/me", requires_device(update_device))
    # part-instrument: the two routes that take a citizen's message count their outcomes.
    count_intake_route(app, router.add_post(f"{API}/complaints", requires_device(submit_complaint)), CHANNEL)
    # part-abuse: the app's own look-ups count against the address's look-up limit too.
    router.add_get(f"{API}/complaints", limited(LOOKUP, requires_device(list_my_complaints)))
    router.add_get(f"{API}/complaints/{{ticket}}/mine", limited(LOOKUP, requires_device(read_my_complaint)))
    message_route = router.add_post(f"{API}/complaints/{{ticket}}/messages", requires_device(add_message))
    count_intake_route(app, message_route, CHANNEL)
    # issue 14: the rating is a look-up-sized write; it counts against the look-up limit.
    router.add_post(f"{API}/complaints/{{ticket}}/rating", limited(LOOKUP, requires_device(rate_answer)))
