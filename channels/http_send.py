"""Shared outbound HTTP for adapters: one place that decides which failures are retryable."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from channels.base import SendError

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def classify_status(status: int) -> bool:
    """True when an HTTP answer means "try again later" (throttling, server trouble)."""
    return status in RETRYABLE_STATUSES or status >= 500


async def post_or_get(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    idempotent: bool = False,
    **kwargs: Any,
) -> tuple[int, str]:
    """Make one request and return (status, body text).

    Network errors and time-outs raise a retryable :class:`SendError`: the provider may
    come back, and the outbox keeps the reply until it does. A failure before the request
    could leave (no connection) is a plain retry; one after it may have reached the provider
    (a time-out waiting for the answer, a connection dropped mid-request) is
    ``outcome_unknown`` — unless the caller says the request is ``idempotent`` (the provider
    drops a repeat, e.g. a message id of ours), when retrying it is harmless.
    """
    try:
        async with session.request(method, url, **kwargs) as response:
            return response.status, await response.text(errors="replace")
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        # Nothing was sent: no connection to send it on.
        raise SendError(f"{type(exc).__name__}: {exc}", retryable=True) from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        # "from None": the message says it all; a chained traceback per failed send would
        # flood the logs while a provider is down.
        raise SendError(
            f"{type(exc).__name__}: {exc}" + ("" if idempotent else " (the request may have arrived)"),
            retryable=True,
            outcome_unknown=not idempotent,
        ) from None


def json_field(body: str, name: str) -> Any:
    """``name`` from a JSON object in a provider's answer, or None when it is not JSON."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data.get(name) if isinstance(data, dict) else None
