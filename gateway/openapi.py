"""The OpenAPI 3.0 document of ``/api/v1`` (served at ``GET /api/v1/openapi.json``).

Written by hand, but every limit comes from the constants the handlers check with
(:mod:`channels.android_app.payload`, the web form's text limit, the normalizer's identity field
sizes, the ticket alphabet), so the document cannot drift from the code on those; a
Schemathesis test (``tests/gateway/test_openapi_schemathesis.py``) checks the rest against the
running app. 3.0 rather than 3.1 because Android code generators (openapi-generator's Kotlin
client) read 3.0 best.

Request bodies allow unknown properties (they are ignored), so an older gateway accepts a newer
app. Rules JSON Schema cannot say — a NIK's region and birth date, a phone number's validity,
a text that is only spaces, a photo's magic bytes — are answered 422 with field messages.
"""

from __future__ import annotations

from typing import Any

from channels.android_app.payload import (
    CLIENT_ID_PATTERN,
    LANGUAGES,
    MAX_PHOTOS,
    MAX_PUSH_TOKEN_CHARS,
    PLATFORMS,
    REQUIRED_IDENTITY,
)
from channels.web_form import MAX_TEXT_CHARS
from complaints.rating import MAX_REASON_CHARS
from config.settings import Settings
from normalizer.normalize import FIELD_LIMITS
from normalizer.tickets import TICKET_ALPHABET, TICKET_LENGTH, TICKET_PREFIX

# The prefix is plain letters and a dash: written as is, since "\-" is an error in ECMA-262's
# unicode mode, the regex dialect JSON Schema validators use.
TICKET_PATTERN = f"^{TICKET_PREFIX}[{TICKET_ALPHABET}]{{{TICKET_LENGTH}}}$"

_IDENTITY_DOC = {
    "nik": "NIK from the e-KTP: 16 digits (spaces, dots and dashes are ignored); region and birth date are checked.",
    "name": "Full name: letters, at least two, no digits.",
    "address": "Home address (street, RT/RW, kelurahan).",
    "phone": "Phone number, Indonesian spellings accepted (0812-3456-7890, +62 812 ...).",
    "email": "E-mail address (optional; empty means none).",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str, schema: str = "Error", headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json(_ref(schema))}
    if headers:
        response["headers"] = headers
    return response


def _string(max_length: int, *, min_length: int | None = None, nullable: bool = False, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length, **extra}
    if min_length is not None:
        schema["minLength"] = min_length
    if nullable:
        schema["nullable"] = True
    return schema


_DATE_TIME = {"type": "string", "format": "date-time"}

ERRORS: dict[int, dict[str, Any]] = {
    400: _error("The body is not valid UTF-8 JSON (or not a JSON object), or the form cannot be read."),
    401: _error(
        "No `Authorization: Bearer <device token>`, or a token no device has.",
        headers={
            "WWW-Authenticate": {
                "required": True,
                "schema": {"type": "string"},
                "description": 'Always `Bearer realm="intake-app"`.',
            }
        },
    ),
    404: _error("No complaint of this device has that ticket."),
    409: _error(
        "The complaint is still being registered (about a second); send again.",
        headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
    ),
    413: _error("The JSON body is larger than MAX_BODY_BYTES, or a photo larger than MAX_UPLOAD_BYTES."),
    415: _error("Unsupported Content-Type."),
    422: _error("Field-level problems: `fields` has a message per field in the device's language.", "ValidationError"),
    # part-abuse: per client address (gateway/rate_limits.py).
    429: _error(
        "Too many requests from this client address (LOOKUP_RATE_LIMIT for look-ups,"
        " DEVICE_REGISTRATION_RATE_LIMIT for registration); wait `Retry-After` seconds.",
        headers={"Retry-After": {"required": True, "schema": {"type": "integer"}, "description": "Seconds to wait."}},
    ),
    503: _error("Nothing could be stored right now and nothing was kept; retry (with the same client_id)."),
}


def _responses(ok: dict[int, dict[str, Any]], *errors: int) -> dict[str, Any]:
    responses: dict[str, Any] = {str(status): body for status, body in ok.items()}
    responses.update({str(status): ERRORS[status] for status in errors})
    return responses


def _complaint_properties(*, form: bool) -> dict[str, Any]:
    """The complaint fields; in a form nothing is null (an empty part means "not given")."""
    properties: dict[str, Any] = {
        "text": _string(MAX_TEXT_CHARS, min_length=1, description="The complaint: what, where, since when."),
    }
    for attr, doc in _IDENTITY_DOC.items():
        required = attr in REQUIRED_IDENTITY
        properties[attr] = _string(
            FIELD_LIMITS[attr], min_length=1 if required else None, nullable=not required and not form, description=doc
        )
    location: dict[str, Any] = {"allOf": [_ref("Location")]}
    if not form:
        location["nullable"] = True
    properties["location"] = location
    properties["client_id"] = {
        "type": "string",
        "pattern": CLIENT_ID_PATTERN,
        "nullable": not form,
        "description": "Idempotency key chosen by the app (e.g. a UUID without dashes): a retry with the same "
        "client_id answers 200 with the first ticket instead of making a second complaint.",
    }
    # issue 14: the citizen's protection choices (in a form: the words true / false).
    properties["rahasia"] = {
        "type": "boolean",
        "nullable": not form,
        "description": "Confidential: the text, photos and answer never appear on public pages (counts only).",
    }
    properties["anonim"] = {
        "type": "boolean",
        "nullable": not form,
        "description": "Anonymous toward the OPD: its staff never see the reporter's identity "
        "(the operator still checks it).",
    }
    return properties


def _schemas() -> dict[str, Any]:
    opd = {
        "type": "object",
        "required": ["code", "name"],
        "nullable": True,
        "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
    }
    public_status = {
        "type": "object",
        "required": [
            "ticket",
            "status",
            "status_label",
            "step",
            "opd",
            "received_at",
            "step_deadline_at",
            "history",
            "answer",
        ],
        "properties": {
            "ticket": {"type": "string", "pattern": TICKET_PATTERN},
            "status": {"type": "string", "description": "SOP status code (config/sop.yaml), e.g. `diterima`."},
            "status_label": {"type": "string"},
            "step": {"type": "integer", "description": "SOP step (1-9)."},
            "opd": opd,
            "channel": {"type": "string"},
            "received_at": _DATE_TIME,
            "step_deadline_at": {**_DATE_TIME, "nullable": True},
            "class_deadline_at": {
                **_DATE_TIME,
                "nullable": True,
                "description": "The overall deadline of the complaint's class (issue 14; working days from receipt, "
                "set when the complaint is verified); null before.",
            },
            "merged_into": {
                "type": "string",
                "pattern": TICKET_PATTERN,
                "description": "Only on a complaint merged into another one reporting the same problem (issue 10): "
                "the main complaint's ticket. Status, step, OPD, deadline, the history since the merge and the answer "
                "are then the main complaint's.",
            },
            "history": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["at", "status", "status_label", "action"],
                    "properties": {
                        "at": _DATE_TIME,
                        "status": {"type": "string", "nullable": True},
                        "status_label": {"type": "string"},
                        "action": {"type": "string"},
                    },
                },
            },
            "answer": {
                "type": "object",
                "nullable": True,
                "description": "Null until the case is closed (`selesai`). Then where the answer was sent, "
                "and its text only when the city chose to publish it (personal data masked).",
                "required": ["published", "text", "sent_on"],
                "properties": {
                    "published": {"type": "boolean"},
                    "text": {"type": "string", "nullable": True},
                    "sent_on": {"type": "string", "description": "The channel the answer was sent on (sms, email...)."},
                },
            },
        },
    }
    device: dict[str, Any] = {
        "type": "object",
        "required": ["device_id", "platform", "language", "push_enabled"],
        "properties": {
            "device_id": {"type": "string"},
            "platform": {"type": "string", "enum": list(PLATFORMS)},
            "language": {"type": "string", "enum": list(LANGUAGES)},
            "push_enabled": {
                "type": "boolean",
                "description": "A push token is registered and FCM has not refused it.",
            },
        },
    }
    push_token = _string(
        MAX_PUSH_TOKEN_CHARS,
        min_length=1,
        nullable=True,
        description="FCM registration token; null means no pushes (the app polls).",
    )
    # OpenAPI 3.0: an enum that may be null must list null itself.
    language = {
        "type": "string",
        "enum": [*LANGUAGES, None],
        "nullable": True,
        "description": "Language of replies and messages (default `id`); null means unchanged/default.",
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error", "detail"],
            "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        },
        "ValidationError": {
            "type": "object",
            "required": ["error", "detail", "fields", "codes"],
            "properties": {
                "error": {"type": "string", "enum": ["validation"]},
                "detail": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Field -> message for the citizen, in the device's language.",
                },
                "codes": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Field -> code: missing, type, too_long, format, invalid, region, "
                    "birthdate, range, not_allowed, image_type, too_large, too_many.",
                },
            },
        },
        "PublicError": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "DeviceRegistration": {
            "type": "object",
            "required": ["platform"],
            "properties": {
                "platform": {"type": "string", "enum": list(PLATFORMS)},
                "language": language,
                "push_token": push_token,
            },
        },
        "DeviceUpdate": {
            "type": "object",
            "properties": {"language": language, "push_token": push_token},
            "description": "Only the fields given change; `push_token: null` stops pushes.",
        },
        "Device": device,
        "DeviceCreated": {
            "type": "object",
            "required": ["device_token", *device["required"]],
            "properties": {
                **device["properties"],
                "device_token": {
                    "type": "string",
                    "minLength": 43,
                    "description": "Secret, shown only here: send it as `Authorization: Bearer ...`.",
                },
            },
        },
        "Location": {
            "type": "object",
            "required": ["lat", "lon"],
            "description": "WGS 84 degrees, as Android's Location reports them.",
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
            },
        },
        "ComplaintSubmission": {
            "type": "object",
            "required": ["text", *REQUIRED_IDENTITY],
            "properties": _complaint_properties(form=False),
        },
        "ComplaintForm": {
            "type": "object",
            "required": ["text", *REQUIRED_IDENTITY],
            "additionalProperties": False,
            "description": "The JSON fields as form parts (`location` as a JSON part) plus `photo` parts; "
            "other part names are refused (422).",
            "properties": {
                **_complaint_properties(form=True),
                "photo": {
                    "type": "array",
                    "maxItems": MAX_PHOTOS,
                    "description": "JPEG, PNG or WebP (checked by content, not by the declared type), each at most "
                    "MAX_UPLOAD_BYTES; repeat the part for several photos.",
                    "items": {"type": "string", "format": "binary"},
                },
            },
        },
        "MessageSubmission": {
            "type": "object",
            "required": ["text"],
            "properties": {
                "text": _string(MAX_TEXT_CHARS, min_length=1),
                "client_id": {
                    "type": "string",
                    "pattern": CLIENT_ID_PATTERN,
                    "nullable": True,
                    "description": "Idempotency key: the same message sent twice is kept once.",
                },
            },
        },
        "RatingSubmission": {  # issue 14: the app's PUAS / TIDAK PUAS
            "type": "object",
            "required": ["rating"],
            "properties": {
                "rating": {"type": "string", "enum": ["puas", "tidak_puas"]},
                "reason": {
                    "type": "string",
                    "nullable": True,
                    "description": "Why not satisfied; with `tidak_puas` it reopens the case to its OPD "
                    f"(a second time the operator decides). Kept up to {MAX_REASON_CHARS} characters.",
                },
            },
        },
        "RatingOutcome": {
            "type": "object",
            "required": ["ticket", "outcome", "status"],
            "properties": {
                "ticket": {"type": "string", "pattern": TICKET_PATTERN},
                "outcome": {
                    "type": "string",
                    "enum": ["recorded", "reopened", "to_operator"],
                    "description": "recorded; reopened (back to the OPD); to_operator (reopened once "
                    "already: the operator decides).",
                },
                "status": {"type": "string", "description": "The case's status after the rating."},
            },
        },
        "Receipt": {
            "type": "object",
            "required": ["ticket", "status_url"],
            "properties": {
                "ticket": {"type": "string", "pattern": TICKET_PATTERN},
                "status_url": {"type": "string", "description": "Public status path (no login)."},
            },
        },
        "ComplaintSummary": {
            "type": "object",
            "required": ["ticket", "status", "status_label", "opd", "created_at"],
            "properties": {
                "ticket": {"type": "string", "pattern": TICKET_PATTERN},
                "status": {"type": "string"},
                "status_label": {"type": "string"},
                "opd": opd,
                "created_at": _DATE_TIME,
            },
        },
        "ComplaintList": {
            "type": "object",
            "required": ["complaints"],
            "properties": {"complaints": {"type": "array", "items": _ref("ComplaintSummary"), "maxItems": 100}},
        },
        "PublicStatus": public_status,
        "Reply": {
            "type": "object",
            "required": ["id", "kind", "text", "created_at", "sent_at"],
            "properties": {
                "id": {"type": "string"},
                "kind": {"type": "string", "description": "ack, identity_missing, status, answer ..."},
                "text": {"type": "string"},
                "created_at": _DATE_TIME,
                "sent_at": {
                    **_DATE_TIME,
                    "nullable": True,
                    "description": "When the push went out; null while queued, or when it could not be "
                    "pushed (the text is here either way).",
                },
            },
        },
        "MyComplaint": {
            "allOf": [
                _ref("PublicStatus"),
                {
                    "type": "object",
                    "required": ["replies"],
                    "properties": {"replies": {"type": "array", "items": _ref("Reply")}},
                },
            ],
        },
    }


def _ticket_parameter() -> dict[str, Any]:
    return {
        "name": "ticket",
        "in": "path",
        "required": True,
        "description": "Ticket number; lower case, spaces and a missing dash are tolerated.",
        "schema": {"type": "string", "pattern": TICKET_PATTERN},
    }


# Example bodies (shown by API browsers; Schemathesis sends them too). The NIK is synthetic:
# a valid Kota Bogor region and birth date, serial 0002.
EXAMPLE_COMPLAINT = {
    "text": "Lampu PJU mati di Jl. Pajajaran dekat Kebun Raya sejak tiga hari",
    "nik": "3271014501900002",
    "name": "Siti Aminah",
    "address": "Jl. Pajajaran No. 5, RT 02/RW 03, Baranangsiang",
    "phone": "0812-3456-7890",
    "email": "siti.aminah@example.id",
    "location": {"lat": -6.5971, "lon": 106.8060},
    "client_id": "3f9c1a7e5b2d4c8f9a0b1c2d3e4f5a6b",
}

# Where a ticket from a receipt can be used next (OpenAPI links; clients and Schemathesis's
# stateful tests follow them).
_TICKET_LINKS = {
    name: {"operationId": operation, "parameters": {"ticket": "$response.body#/ticket"}}
    for name, operation in (
        ("GetMyComplaint", "getMyComplaint"),
        ("AddMessage", "addMessage"),
        ("PublicStatus", "publicStatus"),
    )
}


def _paths() -> dict[str, Any]:
    none: list[dict[str, Any]] = []  # no authentication
    receipt = {"description": "Accepted.", "content": _json(_ref("Receipt")), "links": _TICKET_LINKS}
    return {
        "/api/v1/devices": {
            "post": {
                "operationId": "registerDevice",
                "tags": ["devices"],
                "security": none,
                "summary": "Register the phone; keep the device token it returns (it is shown once).",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("DeviceRegistration"),
                            "example": {
                                "platform": "android",
                                "language": "id",
                                "push_token": "fcm-registration-token",
                            },
                        }
                    },
                },
                "responses": _responses(
                    {201: {"description": "Registered.", "content": _json(_ref("DeviceCreated"))}},
                    400,
                    413,
                    415,
                    422,
                    429,
                    503,
                ),
            }
        },
        "/api/v1/devices/me": {
            "get": {
                "operationId": "getDevice",
                "tags": ["devices"],
                "summary": "This phone's registration.",
                "responses": _responses({200: {"description": "The device.", "content": _json(_ref("Device"))}}, 401),
            },
            "put": {
                "operationId": "updateDevice",
                "tags": ["devices"],
                "summary": "Change the push token (after FCM rotates it) or the language.",
                "requestBody": {"required": True, "content": _json(_ref("DeviceUpdate"))},
                "responses": _responses(
                    {200: {"description": "Updated.", "content": _json(_ref("Device"))}}, 400, 401, 413, 415, 422, 503
                ),
            },
        },
        "/api/v1/complaints": {
            "post": {
                "operationId": "submitComplaint",
                "tags": ["complaints"],
                "summary": f"Submit a complaint: JSON, or multipart/form-data with up to {MAX_PHOTOS} `photo` parts.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("ComplaintSubmission"), "example": EXAMPLE_COMPLAINT},
                        "multipart/form-data": {
                            "schema": _ref("ComplaintForm"),
                            "encoding": {"location": {"contentType": "application/json"}},
                        },
                    },
                },
                "responses": _responses(
                    {
                        201: {**receipt, "description": "A new complaint."},
                        200: {
                            **receipt,
                            "description": "A retry with a known client_id: the first complaint's ticket.",
                        },
                    },
                    400,
                    401,
                    413,
                    415,
                    422,
                    503,
                ),
            },
            "get": {
                "operationId": "listMyComplaints",
                "tags": ["complaints"],
                "summary": "This device's complaints, newest first (at most 100).",
                "responses": _responses(
                    {200: {"description": "The list.", "content": _json(_ref("ComplaintList"))}}, 401, 429
                ),
            },
        },
        "/api/v1/complaints/{ticket}": {
            "get": {
                "operationId": "publicStatus",
                "tags": ["public"],
                "security": none,
                "summary": "Public status of any ticket: no identity, no complaint text.",
                "parameters": [
                    _ticket_parameter(),
                    # Any value is accepted: the endpoint answers in Indonesian unless it is "en".
                    {
                        "name": "lang",
                        "in": "query",
                        "required": False,
                        "description": "`id` or `en`; any other value means `id`.",
                        "schema": {"type": "string", "default": "id"},
                    },
                ],
                "responses": {
                    "200": {"description": "The status.", "content": _json(_ref("PublicStatus"))},
                    "400": _error("Not a ticket number.", "PublicError"),
                    "404": _error("No such ticket.", "PublicError"),
                    "429": ERRORS[429],
                },
            }
        },
        "/api/v1/complaints/{ticket}/mine": {
            "get": {
                "operationId": "getMyComplaint",
                "tags": ["complaints"],
                "summary": "One of this device's complaints: public history plus every reply sent to the device.",
                "parameters": [_ticket_parameter()],
                "responses": _responses(
                    {200: {"description": "The complaint.", "content": _json(_ref("MyComplaint"))}}, 401, 404, 429
                ),
            }
        },
        "/api/v1/complaints/{ticket}/messages": {
            "post": {
                "operationId": "addMessage",
                "tags": ["complaints"],
                "summary": "Add information to one of this device's complaints.",
                "parameters": [_ticket_parameter()],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("MessageSubmission"),
                            "example": {
                                "text": "Lampu kedua di depan sekolah juga mati.",
                                "client_id": "9b8a7c6d5e4f3a2b",
                            },
                        }
                    },
                },
                "responses": _responses(
                    {202: {**receipt, "description": "Accepted; it is added to the case."}},
                    400,
                    401,
                    404,
                    409,
                    413,
                    415,
                    422,
                    503,
                ),
            }
        },
        "/api/v1/complaints/{ticket}/rating": {
            "post": {
                "operationId": "rateAnswer",
                "tags": ["complaints"],
                "summary": "Rate the delivered answer of one of this device's complaints (PUAS / TIDAK PUAS).",
                "parameters": [_ticket_parameter()],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("RatingSubmission"),
                            "example": {"rating": "tidak_puas", "reason": "Lubang di depan sekolah masih ada."},
                        }
                    },
                },
                "responses": {
                    **_responses(
                        {200: {"description": "Recorded.", "content": _json(_ref("RatingOutcome"))}},
                        400,
                        401,
                        404,
                        413,
                        415,
                        422,
                        429,
                    ),
                    "409": _error(
                        "The answer is not delivered yet, or the rating period (RATING_PERIOD_WORKING_DAYS) ended."
                    ),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["meta"],
                "security": none,
                "summary": "This document.",
                "responses": {"200": {"description": "OpenAPI 3.0 document.", "content": _json({"type": "object"})}},
            }
        },
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document, with ``settings.public_base_url`` as its server."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Kota Bogor complaint intake: app API",
            "version": "1.0.0",
            "description": (
                "The city app's API. Register the phone once (`POST /api/v1/devices`), then send "
                "`Authorization: Bearer <device token>`. Replies arrive as FCM pushes when a push token is "
                "registered, and can always be read with `GET /api/v1/complaints/{ticket}/mine`. Errors are "
                '`{"error", "detail"}`; 422 adds `fields` (messages) and `codes`.'
            ),
        },
        "servers": [{"url": settings.public_base_url.rstrip("/")}],
        "security": [{"deviceToken": []}],
        "tags": [{"name": "devices"}, {"name": "complaints"}, {"name": "public"}, {"name": "meta"}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "deviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The device token from POST /api/v1/devices.",
                }
            },
            "schemas": _schemas(),
        },
    }
