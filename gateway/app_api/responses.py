"""JSON answers of the app API: one error shape, and field messages in the device's language.

Every error is ``{"error": <code>, "detail": <English sentence for developers>}``; a 422 adds
``fields`` (field -> message for the citizen, in the device's language) and ``codes``
(field -> machine code, for apps that word messages themselves). Identity, text and photo
messages are the web form's own (``gateway/pages/strings.py``), so both channels say the same.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from channels.android_app.payload import MAX_PHOTOS
from channels.web_form import MAX_TEXT_CHARS
from config.settings import Settings
from gateway.pages.strings import STRINGS
from normalizer.normalize import FIELD_LIMITS

# API field -> web form field, whose messages are reused.
_FORM_FIELD = {
    "nik": "nik",
    "name": "nama",
    "address": "alamat",
    "phone": "telp",
    "email": "email",
    "text": "isi",
    "photo": "foto",
}
# API codes whose web form message key differs.
_FORM_CODE = {
    ("text", "too_long"): "isi_too_long",
    ("photo", "too_large"): "foto_too_large",
    ("photo", "image_type"): "foto_type",
}

# Messages the web form has no use for.
API_STRINGS: dict[str, dict[str, str]] = {
    "id": {
        "type": "Jenis isian salah.",
        "too_long": "Isian terlalu panjang (maksimal {max} karakter).",
        "missing": "Wajib diisi.",
        "not_allowed": "Nilai ini tidak diperbolehkan.",
        "range": "Lokasi di luar jangkauan (lintang -90..90, bujur -180..180).",
        "format": "Format tidak valid.",
        "too_many": "Paling banyak {photos} foto.",
    },
    "en": {
        "type": "Wrong kind of value.",
        "too_long": "Too long (at most {max} characters).",
        "missing": "Required.",
        "not_allowed": "This value is not allowed.",
        "range": "Location out of range (latitude -90..90, longitude -180..180).",
        "format": "Not a valid format.",
        "too_many": "At most {photos} photos.",
    },
}

NO_STORE = {"Cache-Control": "no-store"}
"""Answers carrying tokens or personal data are never cached by proxies or the phone."""


def error(status: int, code: str, detail: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """An error answer in the API's one shape."""
    return web.json_response({"error": code, "detail": detail}, status=status, headers=headers)


def unauthorized(detail: str) -> web.Response:
    """401 with the RFC 6750 challenge."""
    return error(401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="intake-app"'})


def validation_error(errors: dict[str, str], lang: str, settings: Settings) -> web.Response:
    """422 naming every bad field, with messages in ``lang``."""
    limits = {
        "max_chars": {**FIELD_LIMITS, "text": MAX_TEXT_CHARS},
        "photos": MAX_PHOTOS,
        "mb": _megabytes(settings.max_upload_bytes),
    }
    fields = {field: field_message(field, code, lang, limits) for field, code in errors.items()}
    body = {
        "error": "validation",
        "detail": "some fields are not valid: " + ", ".join(sorted(errors)),
        "fields": fields,
        "codes": dict(errors),
    }
    return web.json_response(body, status=422)


def field_message(field: str, code: str, lang: str, limits: dict[str, Any]) -> str:
    """The citizen-facing message for ``code`` on ``field``, in ``lang`` (Indonesian fallback)."""
    lang = lang if lang in STRINGS else "id"
    form_field = _FORM_FIELD.get(field)
    candidates = []
    if form_field:
        candidates += [_FORM_CODE.get((field, code), ""), f"{form_field}_{code}"]
    page, api = STRINGS[lang], API_STRINGS[lang]
    params = {
        "max": limits.get("max_chars", {}).get(field, ""),
        "mb": limits.get("mb", ""),
        "photos": limits.get("photos", ""),
    }
    for key in candidates:
        if key and key in page:
            return page[key].format(**params)
    if code in api:
        return api[code].format(**params)
    return page["field_invalid"]


def _megabytes(size: int) -> str:
    mb = size / (1024 * 1024)
    return f"{mb:.0f}" if mb == int(mb) else f"{mb:.1f}"
