"""The aiohttp middleware that gives every HTTP request its request id (see :mod:`workers.request_ids`).

The id is bound for the request's log lines and for whatever it enqueues, and answered as
``X-Request-Id``, so a provider's support ticket or a citizen's screenshot leads to the logs.
An incoming ``X-Request-Id`` is not trusted: anyone could put personal data or a forged id in it.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from workers.request_ids import bind_request, new_request_id

HEADER = "X-Request-Id"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a fresh request id around the handler and answer it in ``X-Request-Id``."""
    request_id = new_request_id()
    bound = bind_request(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and error answers are raised, not returned
        exc.headers[HEADER] = request_id
        raise
    finally:
        # A keep-alive connection serves its next request in the same task: unbind.
        bound.reset()
    if not response.prepared:  # a streamed answer already sent its headers
        response.headers[HEADER] = request_id
    return response
