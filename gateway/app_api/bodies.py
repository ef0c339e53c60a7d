"""Reading the app's request bodies: JSON, or multipart/form-data with photos.

Bounded while reading, never after: a JSON body stops at ``max_body_bytes``, each photo at
``max_upload_bytes`` (both answered 413 at once), the text parts of a form share
``max_body_bytes``, and a fourth photo ends the read. Problems raise :class:`BodyError` with the
HTTP status and error code to answer.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import MultipartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from channels.android_app.payload import COMPLAINT_FIELDS, MAX_PHOTOS, NOT_ALLOWED
from channels.web_form import UploadedPhoto
from config.settings import Settings
from gateway.http import read_body

JSON = "application/json"
MULTIPART = "multipart/form-data"
PHOTO_PART = "photo"
MAX_PARTS = 64  # far more than the form has; bounds the work an endless stream of tiny parts causes
LOCATION_PART = "location"
FLAG_PARTS = frozenset({"rahasia", "anonim"})  # issue 14: booleans, "true"/"false" in a form


class BodyError(Exception):
    """The body cannot be read; ``status``/``code`` say how to answer."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class FormFieldErrors(Exception):
    """A readable form with parts it may not have: more than MAX_PHOTOS photos, or a part
    name the form does not know (field -> code, answered 422 like any field error)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (RFC 8259) does not.
    raise ValueError(f"{name} is not JSON")


def decode_json(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``. Raises :class:`BodyError` (400) for anything else."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        # "\ud800" is valid JSON but no Unicode text: no database could store it.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise BodyError(400, "bad_request", f"body is not valid UTF-8 JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise BodyError(400, "bad_request", "body must be a JSON object")
    return data


async def read_json(request: web.Request, settings: Settings) -> dict[str, Any]:
    """Read a JSON object body. Raises :class:`BodyError` (415, 413, 400)."""
    if request.content_type != JSON:
        raise BodyError(415, "unsupported_media_type", f"send {JSON}")
    try:
        body = await read_body(request, settings.max_body_bytes)
    except web.HTTPRequestEntityTooLarge:
        raise BodyError(413, "too_large", f"body larger than {settings.max_body_bytes} bytes") from None
    return decode_json(body)


async def read_complaint_body(request: web.Request, settings: Settings) -> tuple[dict[str, Any], list[UploadedPhoto]]:
    """The complaint fields and photos, from JSON or multipart/form-data.

    Raises :class:`BodyError` (415, 413, 400) and :class:`FormFieldErrors`.
    """
    if request.content_type == JSON:
        return await read_json(request, settings), []
    if request.content_type != MULTIPART:
        raise BodyError(415, "unsupported_media_type", f"send {JSON}, or {MULTIPART} with photos")
    return await _read_form(request, settings)


async def _read_form(request: web.Request, settings: Settings) -> tuple[dict[str, Any], list[UploadedPhoto]]:
    overall = MAX_PHOTOS * settings.max_upload_bytes + settings.max_body_bytes + 64 * 1024
    if request.content_length is not None and request.content_length > overall:
        raise BodyError(413, "too_large", f"body larger than {overall} bytes")
    fields: dict[str, Any] = {}
    unknown: dict[str, str] = {}
    photos: list[UploadedPhoto] = []
    text_bytes = parts = 0
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            parts += 1
            if parts > MAX_PARTS:
                raise BodyError(400, "bad_request", f"more than {MAX_PARTS} form parts")
            if isinstance(part, MultipartReader):
                raise BodyError(400, "bad_request", "nested multipart is not supported")
            if part.name == PHOTO_PART:
                if len(photos) == MAX_PHOTOS:
                    raise FormFieldErrors({PHOTO_PART: "too_many"})
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data += chunk
                    if len(data) > settings.max_upload_bytes:
                        raise BodyError(413, "too_large", f"a photo is larger than {settings.max_upload_bytes} bytes")
                if data:  # an empty file input is "no photo"
                    photos.append(UploadedPhoto(bytes(data), part.filename, part.headers.get(hdrs.CONTENT_TYPE)))
                continue
            raw = bytearray()
            while chunk := await part.read_chunk(16 * 1024):
                raw += chunk
                text_bytes += len(chunk)
                if text_bytes > settings.max_body_bytes:
                    raise BodyError(413, "too_large", f"form fields larger than {settings.max_body_bytes} bytes")
            # Unlike the JSON body, the form is closed: its parts are exactly the documented
            # fields, which keeps part names (free text in a header) out of what is accepted.
            if part.name in COMPLAINT_FIELDS:
                fields[part.name] = _form_value(part.name, bytes(raw))
            elif len(unknown) < 10:
                unknown[part.name or ""] = NOT_ALLOWED
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as exc:
        # HttpProcessingError: a part header aiohttp refuses (control characters in a name).
        raise BodyError(400, "bad_request", f"body is not readable multipart/form-data: {type(exc).__name__}") from None
    if unknown:
        raise FormFieldErrors(unknown)
    return fields, photos


def _form_value(name: str, raw: bytes) -> Any:
    """A form part as the JSON body would carry it: text, except ``location`` (a JSON object).

    An empty part is an absent field (forms send every input). A part that is not UTF-8 or a
    location that is not JSON is kept as-is, so the field check names it instead of a 400.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if not text:
        return None
    if name == LOCATION_PART:
        try:
            value = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return text
        # A form has no null: "null" is a wrongly typed location, not a missing one.
        return text if value is None else value
    if name in FLAG_PARTS:
        # Only the two JSON words are booleans; anything else stays text and fails the type check.
        return {"true": True, "false": False}.get(text, text)
    # Kept as sent (CRLF included): the length limits are those of the value as sent, and
    # the normalizer tidies line ends anyway.
    return text
