"""The app's request bodies as plain data: every field checked, every problem named.

Sans-I/O: these functions take an already decoded JSON object (or the text parts of a
multipart form turned into one) and return typed values, or raise :class:`FieldErrors`
mapping each bad field to a short code. The gateway turns the codes into messages in the
device's language; the OpenAPI document (``gateway/openapi.py``) is built from the same
constants, so what the document promises is what is checked here.

Identity follows SOP step 3 with the web form's rules (:func:`normalizer.identity.check_identity`),
so a citizen fixes a typo at once instead of getting the complaint back later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from channels.web_form import MAX_TEXT_CHARS
from config.regions import Regions
from normalizer.envelope import Identity
from normalizer.identity import check_identity
from normalizer.normalize import FIELD_LIMITS
from normalizer.text import clean_text

MAX_PHOTOS = 3
MAX_PUSH_TOKEN_CHARS = 4096  # FCM tokens are ~160 characters; room for whatever comes next
LANGUAGES = ("id", "en")
PLATFORMS = ("android",)
IDENTITY_ATTRS = ("nik", "name", "address", "phone", "email")
REQUIRED_IDENTITY = ("nik", "name", "address", "phone")
COMPLAINT_FIELDS = ("text", *IDENTITY_ATTRS, "location", "client_id")
"""What a complaint body may carry (a multipart form adds ``photo`` parts)."""
# No ":" so "app:<device>:<client id>" and "app:<device>:msg:<client id>" never collide.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN[1:-1])

# Codes a field error can carry (the gateway has a message for each, in id and en).
MISSING = "missing"
WRONG_TYPE = "type"
TOO_LONG = "too_long"
OUT_OF_RANGE = "range"
NOT_ALLOWED = "not_allowed"


class FieldErrors(Exception):
    """The body cannot be accepted; ``errors`` maps field name -> code (``missing``, ``type``,
    ``too_long``, ``range``, ``not_allowed``, identity codes such as ``region``, photo codes)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{field}:{code}" for field, code in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ComplaintInput:
    """A checked complaint: cleaned text, identity as typed (trimmed), optional location."""

    text: str
    identity: Identity
    location: tuple[float, float] | None = None
    client_id: str | None = None
    rahasia: bool = False
    """Confidential: nothing of it on public pages (issue 14)."""
    anonim: bool = False
    """Anonymous toward the OPD (issue 14)."""


@dataclass(frozen=True, slots=True)
class MessageInput:
    """A checked follow-up message on an existing complaint."""

    text: str
    client_id: str | None = None


_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class DeviceInput:
    """A checked device registration or update; ``push_token`` is ``UNSET`` when not given."""

    platform: str | None
    language: str | None
    push_token: str | None | Any = _UNSET

    @property
    def push_token_given(self) -> bool:
        """True when the body named ``push_token`` (``null`` included: it clears the token)."""
        return self.push_token is not _UNSET


def parse_complaint(data: Mapping[str, Any], *, regions: Regions) -> ComplaintInput:
    """Check a complaint body (``text``, identity fields, ``location``, ``client_id``).

    ``regions`` is the region list a NIK is checked against. Raises :class:`FieldErrors`
    listing every bad field at once.
    """
    errors: dict[str, str] = {}
    text = _text(data, errors)
    values: dict[str, str | None] = {}
    for attr in IDENTITY_ATTRS:
        raw = _optional_string(data, attr, errors, max_chars=FIELD_LIMITS[attr])
        values[attr] = raw.strip() or None if raw is not None else None
    identity = Identity(**values)
    for problem in check_identity(identity, regions=regions, required=REQUIRED_IDENTITY):
        errors.setdefault(problem.field, problem.code)
    location = _location(data.get("location"), errors)
    client_id = _client_id(data, errors)
    rahasia, anonim = _flag(data, "rahasia", errors), _flag(data, "anonim", errors)
    if errors:
        raise FieldErrors(errors)
    return ComplaintInput(
        text=text, identity=identity, location=location, client_id=client_id, rahasia=rahasia, anonim=anonim
    )


def parse_message(data: Mapping[str, Any]) -> MessageInput:
    """Check a follow-up message body (``text``, ``client_id``). Raises :class:`FieldErrors`."""
    errors: dict[str, str] = {}
    text = _text(data, errors)
    client_id = _client_id(data, errors)
    if errors:
        raise FieldErrors(errors)
    return MessageInput(text=text, client_id=client_id)


def parse_device(data: Mapping[str, Any], *, registering: bool) -> DeviceInput:
    """Check a device registration (``registering``: ``platform`` required) or update.

    ``language`` is ``id`` or ``en``; ``push_token`` is an FCM registration token or
    ``null`` (no push: the app polls the API). Raises :class:`FieldErrors`.
    """
    errors: dict[str, str] = {}
    # An update ignores "platform" like any unknown field: a phone keeps its operating system.
    platform = _choice(data, "platform", PLATFORMS, errors, required=True) if registering else None
    language = _choice(data, "language", LANGUAGES, errors, required=False)
    push_token: Any = _UNSET
    if "push_token" in data:
        value = data["push_token"]
        if value is None:
            push_token = None
        elif not isinstance(value, str):
            errors["push_token"] = WRONG_TYPE
        elif not value:
            errors["push_token"] = MISSING
        elif len(value) > MAX_PUSH_TOKEN_CHARS:
            errors["push_token"] = TOO_LONG
        else:
            push_token = value
    if errors:
        raise FieldErrors(errors)
    return DeviceInput(platform=platform, language=language, push_token=push_token)


# --------------------------------------------------------------------------- helpers


def _text(data: Mapping[str, Any], errors: dict[str, str]) -> str:
    """The complaint/message text, cleaned; empty after cleaning counts as missing."""
    raw = _optional_string(data, "text", errors, max_chars=MAX_TEXT_CHARS)
    if raw is None:
        errors.setdefault("text", MISSING)
        return ""
    text = clean_text(raw, max_len=MAX_TEXT_CHARS)
    if not text and "text" not in errors:
        errors["text"] = MISSING  # only spaces or control characters
    return text


def _optional_string(data: Mapping[str, Any], name: str, errors: dict[str, str], *, max_chars: int) -> str | None:
    """``data[name]`` when it is a string (None when absent or null); records type/length errors.

    The length is that of the value as sent, as JSON Schema's ``maxLength`` counts it.
    """
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors[name] = WRONG_TYPE
        return None
    if len(value) > max_chars:
        errors[name] = TOO_LONG
        return None
    return value


def _choice(
    data: Mapping[str, Any], name: str, allowed: tuple[str, ...], errors: dict[str, str], *, required: bool
) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            errors[name] = MISSING
        return None
    if value not in allowed:
        errors[name] = NOT_ALLOWED
        return None
    return str(value)


def _flag(data: Mapping[str, Any], name: str, errors: dict[str, str]) -> bool:
    """An optional JSON boolean (absent or null: false); anything else is a type error."""
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        errors[name] = WRONG_TYPE
        return False
    return value


def _client_id(data: Mapping[str, Any], errors: dict[str, str]) -> str | None:
    value = data.get("client_id")
    if value is None:
        return None
    if not isinstance(value, str) or not _CLIENT_ID.fullmatch(value):
        errors["client_id"] = WRONG_TYPE if not isinstance(value, str) else "format"
        return None
    return value


def _number(value: Any) -> float | None:
    """A JSON number as a float (``true``/``false`` are not numbers, though Python says so);
    an integer too large for a float becomes infinity, which no range accepts."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _location(value: Any, errors: dict[str, str]) -> tuple[float, float] | None:
    """``{"lat": -90..90, "lon": -180..180}`` (WGS 84 degrees, as Android's Location gives them)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors["location"] = WRONG_TYPE
        return None
    lat, lon = _number(value.get("lat")), _number(value.get("lon"))
    if lat is None or lon is None:
        errors["location"] = MISSING if "lat" not in value or "lon" not in value else WRONG_TYPE
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        errors["location"] = OUT_OF_RANGE
        return None
    return (lat, lon)
