"""Small request helpers shared by webhooks, pages and the API."""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from channels.base import RawRequest


async def read_body(request: web.Request, limit: int) -> bytes:
    """Read the body, answering 413 as soon as it passes ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(
            max_size=limit, actual_size=request.content_length, text=f"body larger than {limit} bytes"
        )
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(
                max_size=limit, actual_size=size, text=f"body larger than {limit} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def raw_request(request: web.Request, body: bytes, public_base_url: str) -> RawRequest:
    """Copy what an adapter needs out of the aiohttp request.

    ``url`` is PUBLIC_BASE_URL followed by the path and query exactly as the provider sent
    them (``raw_path``, still percent-encoded): providers that sign over the URL (Twilio) sign
    those bytes, and decoding then re-joining them changes ``%2B`` into ``+``, which means a
    space. ``query_string`` is the same raw query, for adapters that need the undecoded bytes
    (Kannel's ``%b`` text).
    """
    raw_target = request.raw_path
    return RawRequest(
        method=request.method,
        path=request.path,
        query={k: v for k, v in request.query.items()},
        headers={k: v for k, v in request.headers.items()},
        body=body,
        url=public_base_url.rstrip("/") + raw_target,
        query_string=raw_target.partition("?")[2],
    )


# part-hostile: aiohttp decodes each multipart field strictly in its declared charset, so one byte
# that is not UTF-8 (or a charset Python does not know) in any console form was a 500.
async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """``request.post()``, answering 400 when a field is not text in its charset (instead of a 500).

    Raises :class:`aiohttp.web.HTTPBadRequest` saying so; size and field-count limits are left to
    ``gateway.limits``.
    """
    try:
        return await request.post()
    except (UnicodeDecodeError, LookupError) as exc:
        what = "an unknown charset" if isinstance(exc, LookupError) else "bytes that are not text in its charset"
        raise web.HTTPBadRequest(text=f"a form field holds {what}\n") from None
