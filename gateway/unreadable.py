"""Requests the gateway could not turn into messages are kept, like unreadable mail.

The request (method, path, query, content type and body, as JSON) is stored content-addressed
under ``DATA_DIR/webhooks`` (the same layout as raw mail) and an ``unreadable`` inbox row names
it, so operators see it in /ops/status and it can be replayed once the bug is fixed. The
provider's retries of the same request find the same row. Other headers are not kept, and query
values named like credentials are blanked: they carry signatures and tokens, never the message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import traceback

import structlog

from channels.base import RawRequest
from channels.storage import store_bytes
from complaints import store
from gateway.intake_counting import note_unreadable
from workers.runtime import Runtime

log = structlog.get_logger(__name__)

# A query parameter whose name looks like a credential, value and all (kept still encoded, so
# the rest of the query stays byte for byte as the provider sent it).
_CREDENTIAL_PARAM = re.compile(r"(^|&)([^=&]*(?:token|secret|pass|key|sig|auth)[^=&]*)=[^&]*", re.IGNORECASE)


def request_record(request: RawRequest) -> bytes:
    """The request as JSON bytes, credentials blanked (see the module docstring)."""
    record = {
        "method": request.method,
        "path": request.path,
        "query_string": _CREDENTIAL_PARAM.sub(r"\1\2=REMOVED", request.query_string),
        "content_type": request.header("Content-Type"),
        "body_base64": base64.b64encode(request.body).decode("ascii"),
    }
    return json.dumps(record, sort_keys=True).encode()


def traceback_text(exc: BaseException) -> str:
    """Where ``exc`` was raised (frames and the exception's class), without its message.

    An exception's message can quote what the citizen sent (a name, an address) that no
    masking pattern recognises; the frames are code, never data. The text still passes
    through the PII-masking log processor like every other value.
    """
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    return f"Traceback (most recent call last):\n{frames}{type(exc).__module__}.{type(exc).__qualname__}"


async def keep_unreadable_request(
    runtime: Runtime, *, channel: str, provider: str, request: RawRequest, reason: str
) -> str | None:
    """Store the request and an ``unreadable`` inbox row; return the stored record's SHA-256.

    Returns None when even that fails (the caller still answers 5xx, so the provider retries).
    """
    try:
        sha = await asyncio.to_thread(store_bytes, runtime.settings.data_dir / "webhooks", request_record(request))
        await asyncio.to_thread(
            store.keep_unreadable,
            runtime.sf,
            channel=channel,
            provider=provider,
            external_id=f"unreadable:{sha}",
            reason=f"{request.method} {request.path}: {reason}",
            raw_ref=sha,
        )
    except Exception as exc:  # noqa: BLE001 - keeping it is best effort; the 5xx still makes the provider retry
        log.error("webhook_keep_failed", provider=provider, error=type(exc).__name__)
        return None
    runtime.activity.inbound(channel, "unreadable")
    note_unreadable()  # the answer's status (400 or 500) is not counted again
    return sha
