"""The app's complaint routes: submit, list mine, read mine (with replies), add a message.

Submitting follows the web form's path: read the body within its limits, let the channel
adapter check the fields and build the intake, store the photos by hash, then durably accept
the envelope (group commit) before answering. The answer carries the ticket; a retry with the
same ``client_id`` is the same complaint (200 with the same ticket instead of 201).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from channels.android_app import AndroidApp, FieldErrors
from channels.storage import save_attachment
from channels.web_form import UploadedPhoto
from gateway.app_api import queries
from gateway.app_api.bodies import BodyError, FormFieldErrors, read_complaint_body, read_json
from gateway.app_api.devices import DeviceRecord
from gateway.app_api.responses import NO_STORE, error, validation_error
from gateway.keys import ACCEPTOR, ADAPTERS, RUNTIME, SETTINGS
from normalizer.envelope import Attachment, Intake
from normalizer.normalize import InvalidIntake, build_envelope
from normalizer.tickets import normalize_ticket

log = structlog.get_logger(__name__)

API = "/api/v1"


def status_url(ticket: str) -> str:
    """The public status of a ticket (``GET /api/v1/complaints/{ticket}``, no login)."""
    return f"{API}/complaints/{ticket}"


def _adapter(request: web.Request) -> AndroidApp:
    return request.app[ADAPTERS].named("app", AndroidApp)


def _store_photos(root: Path, attachments: tuple[Attachment, ...], photos: list[UploadedPhoto]) -> None:
    for attachment, photo in zip(attachments, photos, strict=True):
        save_attachment(root, attachment.sha256, photo.data)


async def _accept(request: web.Request, intake: Intake) -> tuple[str, bool] | web.Response:
    """Durably accept ``intake``: (ticket, duplicate), or the error answer."""
    try:
        envelope = build_envelope(intake)
    except InvalidIntake as exc:
        return error(400, "bad_request", str(exc))
    try:
        outcome = (await request.app[ACCEPTOR].accept([envelope]))[0]
    except Exception:  # noqa: BLE001 - nothing stored: the app keeps the complaint and retries
        log.exception("app_store_failed")
        return error(503, "unavailable", "could not store the complaint now; retry with the same client_id")
    log.info("accepted", provider="app", inbox=outcome.inbox_id, ticket=outcome.ticket, duplicate=outcome.duplicate)
    return str(outcome.ticket), outcome.duplicate


async def submit_complaint(request: web.Request, device: DeviceRecord) -> web.Response:
    """POST /api/v1/complaints: a new complaint (JSON, or multipart with up to 3 photos)."""
    settings = request.app[SETTINGS]
    try:
        data, photos = await read_complaint_body(request, settings)
        regions = request.app[RUNTIME].config.regions
        intake = _adapter(request).parse_complaint(device.app_device, data, photos, regions=regions)
    except BodyError as exc:
        return error(exc.status, exc.code, exc.detail)
    except FormFieldErrors as exc:
        return validation_error(exc.errors, device.language, settings)
    except FieldErrors as exc:
        log.info("app_complaint_rejected", fields=sorted(exc.errors))
        return validation_error(exc.errors, device.language, settings)
    if intake.attachments:
        await asyncio.to_thread(_store_photos, settings.attachments_dir, intake.attachments, photos)
    accepted = await _accept(request, intake)
    if isinstance(accepted, web.Response):
        return accepted
    ticket, duplicate = accepted
    url = status_url(ticket)
    return web.json_response(
        {"ticket": ticket, "status_url": url}, status=200 if duplicate else 201, headers={"Location": url}
    )


async def list_my_complaints(request: web.Request, device: DeviceRecord) -> web.Response:
    """GET /api/v1/complaints: this device's complaints, newest first."""
    items = await request.app[ACCEPTOR].read(
        queries.my_complaints, request.app[RUNTIME].config, device.id, device.language
    )
    return web.json_response({"complaints": items}, headers=NO_STORE)


async def read_my_complaint(request: web.Request, device: DeviceRecord) -> web.Response:
    """GET /api/v1/complaints/{ticket}/mine: public history plus the replies sent to this device."""
    ticket = normalize_ticket(request.match_info["ticket"])
    data = None
    if ticket is not None:
        data = await request.app[ACCEPTOR].read(
            queries.my_complaint, request.app[RUNTIME].config, device.id, ticket, device.language
        )
    if data is None:
        return error(404, "not_found", "no complaint of this device has that ticket")
    return web.json_response(data, headers=NO_STORE)


async def owned_json(request: web.Request, device: DeviceRecord) -> tuple[str, str, dict[str, Any]] | web.Response:
    """The path's ticket, its ownership (``case`` / ``pending``) and the JSON body, for a route on
    one of the device's complaints; else the error answer (404 not the device's, 4xx body)."""
    ticket = normalize_ticket(request.match_info["ticket"])
    owned = await request.app[ACCEPTOR].read(queries.ownership, device.id, ticket) if ticket else None
    if ticket is None or owned is None:
        return error(404, "not_found", "no complaint of this device has that ticket")
    try:
        data = await read_json(request, request.app[SETTINGS])
    except BodyError as exc:
        return error(exc.status, exc.code, exc.detail)
    return ticket, owned, data


async def add_message(request: web.Request, device: DeviceRecord) -> web.Response:
    """POST /api/v1/complaints/{ticket}/messages: more information on the device's complaint."""
    settings = request.app[SETTINGS]
    got = await owned_json(request, device)
    if isinstance(got, web.Response):
        return got
    ticket, owned, data = got
    try:
        intake = _adapter(request).parse_message(device.app_device, ticket, data)
    except FieldErrors as exc:
        return validation_error(exc.errors, device.language, settings)
    if owned == "pending":
        # The verify worker has not opened the case yet, so it could not attach the message
        # to it; this lasts about a second.
        return error(
            409,
            "not_ready",
            "the complaint is still being registered; send the message again shortly",
            headers={"Retry-After": "2"},
        )
    accepted = await _accept(request, intake)
    if isinstance(accepted, web.Response):
        return accepted
    return web.json_response({"ticket": ticket, "status_url": status_url(ticket)}, status=202)
