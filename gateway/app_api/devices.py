"""Device registration and device-token authentication for the app API.

``POST /api/v1/devices`` returns a random device token (32 bytes, URL-safe) exactly once; only
its SHA-256 is stored. Every other call sends ``Authorization: Bearer <device token>`` and is
matched by looking that hash up through the unique index: the comparison happens on a hash
the caller cannot steer byte by byte, so it leaks nothing through timing, and a stolen
database does not hold usable tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from channels.android_app import AppDevice, FieldErrors, parse_device
from channels.android_app.payload import LANGUAGES
from complaints.models import Device
from gateway.app_api.bodies import BodyError, read_json
from gateway.app_api.responses import NO_STORE, error, unauthorized, validation_error
from gateway.keys import ACCEPTOR, RUNTIME, SETTINGS
from normalizer.envelope import new_id, utcnow

log = structlog.get_logger(__name__)

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 256
LAST_SEEN_EVERY = timedelta(hours=1)  # one write per device per hour, not one per request


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A registered device as the API handlers see it."""

    id: str
    platform: str
    language: str
    push_token: str | None
    push_token_dead: bool
    last_seen_at: datetime

    @property
    def app_device(self) -> AppDevice:
        """What the channel adapter needs to know about the device."""
        return AppDevice(id=self.id, language=self.language)

    def public(self) -> dict[str, object]:
        """The device as ``GET``/``PUT /devices/me`` show it (never the tokens themselves)."""
        return {
            "device_id": self.id,
            "platform": self.platform,
            "language": self.language,
            "push_enabled": bool(self.push_token) and not self.push_token_dead,
        }


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a device token: what the ``devices`` table keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _record(device: Device) -> DeviceRecord:
    return DeviceRecord(
        id=device.id,
        platform=device.platform,
        language=device.language,
        push_token=device.push_token,
        push_token_dead=device.push_token_dead,
        last_seen_at=device.last_seen_at,
    )


def device_by_token_hash(session: Session, digest: str) -> DeviceRecord | None:
    """The device whose token hashes to ``digest``, or None."""
    device = session.scalar(select(Device).where(Device.token_hash == digest))
    return _record(device) if device is not None else None


def _bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    # part-hostile: our tokens are printable ASCII; other bytes (decoded by aiohttp into lone
    # surrogates) cannot be one, and hashing them would raise: answer 401 like any wrong token.
    if not (token.isascii() and token.isprintable()):
        return None
    return token


Handler = Callable[[web.Request, DeviceRecord], Awaitable[web.StreamResponse]]


def requires_device(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Wrap ``handler(request, device)``: 401 without a known device token, before any body is read."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        token = _bearer_token(request.headers.get("Authorization"))
        if token is None:
            return unauthorized("send Authorization: Bearer <device token> (from POST /api/v1/devices)")
        device = await request.app[ACCEPTOR].read(device_by_token_hash, token_hash(token))
        if device is None:
            return unauthorized("unknown device token: register again with POST /api/v1/devices")
        now = utcnow()
        if now - device.last_seen_at > LAST_SEEN_EVERY:
            await asyncio.to_thread(_touch, request.app[RUNTIME].sf, device.id, now)
        return await handler(request, device)

    wrapped.__doc__ = handler.__doc__
    return wrapped


def _touch(sf: sessionmaker[Session], device_id: str, now: datetime) -> None:
    with sf.begin() as session:
        session.execute(update(Device).where(Device.id == device_id).values(last_seen_at=now))


async def register_device(request: web.Request) -> web.Response:
    """POST /api/v1/devices: register a phone; the answer carries its device token, once."""
    settings = request.app[SETTINGS]
    try:
        data = await read_json(request, settings)
        given = parse_device(data, registering=True)
    except BodyError as exc:
        return error(exc.status, exc.code, exc.detail)
    except FieldErrors as exc:
        return validation_error(exc.errors, _lang(data.get("language")), settings)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    device = Device(
        id=new_id(),
        token_hash=token_hash(token),
        push_token=given.push_token if given.push_token_given else None,
        push_token_dead=False,
        platform=given.platform or "android",
        language=given.language or (settings.default_language if settings.default_language in LANGUAGES else "id"),
        created_at=now,
        last_seen_at=now,
    )
    record = _record(device)

    def insert() -> None:
        with request.app[RUNTIME].sf.begin() as session:
            session.add(device)

    try:
        await asyncio.to_thread(insert)
    except Exception:  # noqa: BLE001 - nothing stored: the app may simply try again
        log.exception("app_device_store_failed")
        return error(503, "unavailable", "could not register the device now; try again")
    log.info("app_device_registered", device=record.id, push=record.public()["push_enabled"])
    body = {"device_id": record.id, "device_token": token, **record.public()}
    return web.json_response(body, status=201, headers=NO_STORE)


async def update_device(request: web.Request, device: DeviceRecord) -> web.Response:
    """PUT /api/v1/devices/me: a new FCM token (``null`` stops pushes) or another language."""
    settings = request.app[SETTINGS]
    try:
        data = await read_json(request, settings)
        given = parse_device(data, registering=False)
    except BodyError as exc:
        return error(exc.status, exc.code, exc.detail)
    except FieldErrors as exc:
        return validation_error(exc.errors, device.language, settings)
    values: dict[str, object] = {}
    if given.language:
        values["language"] = given.language
    if given.push_token_given and given.push_token != device.push_token:
        # A new token starts live; the same token sent again keeps its state, so one that FCM
        # called UNREGISTERED is not pushed to (and refused) once more.
        values["push_token"] = given.push_token
        values["push_token_dead"] = False

    def write() -> DeviceRecord:
        with request.app[RUNTIME].sf.begin() as session:
            if values:
                session.execute(update(Device).where(Device.id == device.id).values(**values))
            row = session.get(Device, device.id)
            return _record(row) if row is not None else device

    try:
        updated = await asyncio.to_thread(write)
    except Exception:  # noqa: BLE001 - nothing changed: the app keeps its settings and retries
        log.exception("app_device_store_failed")
        return error(503, "unavailable", "could not update the device now; try again")
    log.info("app_device_updated", device=device.id, changed=sorted(values))
    return web.json_response(updated.public(), headers=NO_STORE)


async def show_device(request: web.Request, device: DeviceRecord) -> web.Response:
    """GET /api/v1/devices/me: what the gateway knows about this phone (checks the token works)."""
    return web.json_response(device.public(), headers=NO_STORE)


def _lang(value: object) -> str:
    return value if isinstance(value, str) and value in LANGUAGES else "id"
