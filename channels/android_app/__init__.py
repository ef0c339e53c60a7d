"""The city's Android app: JSON API payloads in, Firebase Cloud Messaging pushes out.

Inbound has no webhook (``path = None``): the gateway's ``/api/v1`` handlers authenticate the
device, read the body and call :meth:`AndroidApp.parse_complaint` /
:meth:`AndroidApp.parse_message`, which check the fields (sans-I/O, :mod:`.payload`) and build
the :class:`Intake`. Complaints are answered on the channel they came in on: every reply to an
app complaint is a row addressed to the device id, readable through
``GET /api/v1/complaints/{ticket}/mine`` whatever happens to the push; the push (:mod:`.fcm`)
only tells the phone that something is there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from channels.android_app.errors import PushTokenDead
from channels.android_app.payload import (
    MAX_PHOTOS,
    FieldErrors,
    parse_complaint,
    parse_device,
    parse_message,
)
from channels.base import OutboundReply, PushTokenKiller, PushTokenLookup, SendError, SendResult
from channels.web_form import FormErrors, UploadedPhoto, WebForm
from config.regions import Regions
from config.settings import Settings
from normalizer.envelope import Attachment, Intake, ReplyRoute, Thread

__all__ = [
    "AndroidApp",
    "PushTokenKiller",
    "PushTokenLookup",
    "AppDevice",
    "FieldErrors",
    "parse_device",
    "push_message",
]

CHANNEL = "app"
PUSH_BODY_CHARS = 200
"""Notification text is a preview; the whole reply is read through the API (FCM caps a
message at 4096 bytes: https://firebase.google.com/docs/cloud-messaging/concept-options)."""

# The web form's photo check answers with form field codes; the API names fields in English.
_PHOTO_CODES = {"foto_too_large": "too_large", "foto_type": "image_type"}


@dataclass(frozen=True, slots=True)
class AppDevice:
    """The authenticated phone a request comes from (the gateway looks it up by token)."""

    id: str
    language: str = "id"


def push_message(reply: OutboundReply, token: str) -> dict[str, Any]:
    """The FCM v1 request body for ``reply`` (data values must be strings in FCM v1)."""
    title = f"Pengaduan {reply.ticket}" if reply.ticket else "Pengaduan"
    return {
        "message": {
            "token": token,
            "notification": {"title": title, "body": _preview(reply.text)},
            "data": {"ticket": reply.ticket or "", "kind": reply.kind or "", "reply_id": reply.id},
            # High priority wakes a dozing phone; the citizen is waiting for this answer.
            "android": {"priority": "high"},
        }
    }


class AndroidApp:
    """The app channel: builds intakes from API bodies and pushes replies through FCM."""

    name = "app"
    idempotent_sends = False  # a repeated send may reach the citizen twice (README: send outcomes)
    channel = CHANNEL
    path: str | None = None  # no webhook: gateway/app_api serves the JSON API
    methods: tuple[str, ...] = ()

    push_token_lookup: PushTokenLookup | None
    """device id -> live FCM token; set by :meth:`bind_push_tokens` in processes that send replies."""
    push_token_killer: PushTokenKiller | None
    """Marks a token dead after ``UNREGISTERED``; set by :meth:`bind_push_tokens`."""

    def __init__(self, settings: Settings) -> None:
        """Load the FCM service account when FCM is configured (ConfigurationError if unusable)."""
        self._photos = WebForm(settings)  # the same size and magic-byte checks as the web form
        self.fcm: Any = None  # channels.android_app.fcm.FcmClient, imported only when FCM is configured
        if settings.provider_enabled("fcm"):
            from channels.android_app.fcm import FcmClient  # google-auth only where pushes are sent

            self.fcm = FcmClient(
                project_id=settings.fcm_project_id or "",
                credentials_file=settings.fcm_credentials_file or "",
                api_base=settings.fcm_api_base,
                timeout=settings.send_timeout_seconds,
            )
        self.push_token_lookup = None
        self.push_token_killer = None

    def bind_push_tokens(self, lookup: PushTokenLookup, killer: PushTokenKiller) -> None:
        """Let :meth:`send` find devices' push tokens and mark dead ones (see workers/push_tokens.py)."""
        self.push_token_lookup = lookup
        self.push_token_killer = killer

    # -- inbound (sans-I/O) ---------------------------------------------------------------

    def parse_complaint(
        self, device: AppDevice, data: Mapping[str, Any], photos: Sequence[UploadedPhoto], *, regions: Regions
    ) -> Intake:
        """The intake of one complaint; ``photos`` (non-empty uploads, in order) become its
        attachments in the same order, so the caller can store each photo's bytes by hash.
        ``regions`` (the city config's region list) is what a NIK is checked against.

        Raises :class:`FieldErrors` for every bad field, ``photo`` included.
        """
        errors: dict[str, str] = {}
        try:
            complaint = parse_complaint(data, regions=regions)
        except FieldErrors as exc:
            errors.update(exc.errors)
        attachments = self._attachments(photos, errors)
        if errors:
            raise FieldErrors(errors)
        return Intake(
            channel=CHANNEL,
            provider=self.name,
            # The app's idempotency key; without one the normalizer's content fingerprint
            # still folds a quick resend of the same text into one complaint.
            external_id=f"app:{device.id}:{complaint.client_id}" if complaint.client_id else None,
            sender=device.id,
            text=complaint.text,
            reply_route=ReplyRoute(channel=CHANNEL, address=device.id, provider=self.name),
            identity=complaint.identity,
            attachments=attachments,
            location=complaint.location,
            language=device.language,
            kind="complaint",
            rahasia=complaint.rahasia,
            anonim=complaint.anonim,
        )

    def parse_message(self, device: AppDevice, ticket: str, data: Mapping[str, Any]) -> Intake:
        """The intake of a follow-up message on the device's complaint ``ticket``.

        ``thread.case_ticket`` tells the verify worker which case it continues (it checks
        again that the case's reply route is this device). Raises :class:`FieldErrors`.
        """
        message = parse_message(data)
        return Intake(
            channel=CHANNEL,
            provider=self.name,
            external_id=f"app:{device.id}:msg:{message.client_id}" if message.client_id else None,
            sender=device.id,
            text=message.text,
            reply_route=ReplyRoute(channel=CHANNEL, address=device.id, provider=self.name),
            language=device.language,
            kind="complaint",
            thread=Thread(case_ticket=ticket),
        )

    def _attachments(self, photos: Sequence[UploadedPhoto], errors: dict[str, str]) -> tuple[Attachment, ...]:
        if len(photos) > MAX_PHOTOS:
            errors["photo"] = "too_many"
            return ()
        attachments = []
        for photo in photos:
            try:
                attachment = self._photos.photo_attachment(photo)
            except FormErrors as exc:
                code = next(iter(exc.errors.values()))
                errors["photo"] = _PHOTO_CODES.get(code, code)
                return ()
            if attachment is not None:
                attachments.append(attachment)
        return tuple(attachments)

    # -- outbound -------------------------------------------------------------------------

    async def send(self, reply: OutboundReply) -> SendResult:
        """Push ``reply`` to the device's phone through FCM HTTP v1.

        Without FCM settings nothing is pushed and a result without an id is returned: that
        is not an error, because the app reads every reply through the API
        (``GET /api/v1/complaints/{ticket}/mine``) and a city may run without Firebase.

        Raises :class:`SendError`: permanent when no token lookup is bound (a wiring error),
        when the device has no live push token, for ``UNREGISTERED`` (the token is marked
        dead first) and other refusals such as ``INVALID_ARGUMENT``; retryable for 429,
        5xx, network and token-endpoint trouble.
        """
        if self.fcm is None:
            return SendResult(provider_message_id=None)
        if self.push_token_lookup is None:
            raise SendError(
                "no push token lookup bound: call AndroidApp.bind_push_tokens() in the sender", retryable=False
            )
        token = await self.push_token_lookup(reply.address)
        if not token:
            raise SendError("device has no live push token; the app reads the reply through the API", retryable=False)
        try:
            return await self.fcm.send(push_message(reply, token))
        except PushTokenDead:
            if self.push_token_killer is not None:
                await self.push_token_killer(reply.address, token)
            raise

    async def close(self) -> None:
        """Close the FCM HTTP session."""
        if self.fcm is not None:
            await self.fcm.close()


def _preview(text: str) -> str:
    """``text`` on one line, cut at a word boundary to :data:`PUSH_BODY_CHARS`."""
    flat = " ".join(text.split())
    if len(flat) <= PUSH_BODY_CHARS:
        return flat
    cut = flat[: PUSH_BODY_CHARS - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > PUSH_BODY_CHARS // 2 else cut).rstrip(" ,.;:") + "…"
