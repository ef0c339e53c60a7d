"""The citizen web form (SOP channel "Website"): form fields + optional photo → :class:`Intake`.

Unlike the webhook adapters this one has no provider and no webhook route (``path = None``):
the gateway's page views read the multipart form, and :meth:`WebForm.parse_submission` turns
the fields into an intake without any I/O, so it is tested on plain data. Identity fields go
into the intake as typed (trimmed); the worker checks them (SOP step 3) and the view also
shows field errors at once so the citizen can fix them before submitting.

Each rendered form carries a random ``submission_id``; the intake's external id is
``web:<submission_id>``, so a double click or a browser refresh after POST stores one complaint.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from channels.base import OutboundReply, SendResult
from config.settings import Settings
from normalizer.envelope import Attachment, Identity, Intake, ReplyRoute

MAX_TEXT_CHARS = 5000

# Magic numbers of the accepted photo types; the declared Content-Type is not trusted.
_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"

# Form field names (Indonesian, as the citizen sees them) -> Identity attribute.
IDENTITY_FIELDS: dict[str, str] = {
    "nik": "nik",
    "nama": "name",
    "alamat": "address",
    "telp": "phone",
    "email": "email",
}
TEXT_FIELD = "isi"
FLAG_FIELDS = ("rahasia", "anonim")
"""Issue 14's checkboxes (value ``1``): confidential, and anonymous toward the OPD."""
PHOTO_FIELD = "foto"
CLIENT_SENDER_PREFIX = "client:"
"""part-abuse: a web-form sender named by the gateway after the client's address (a keyed digest,
never the address itself), so the per-sender limit counts what the citizen cannot change per post."""

_SUBMISSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class UploadedPhoto:
    """A photo as received from the form: the bytes plus what the browser claimed about them."""

    data: bytes
    filename: str | None = None
    declared_type: str | None = None


class FormErrors(Exception):
    """The submission cannot be accepted; ``errors`` maps form field -> message key."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{f}:{k}" for f, k in errors.items()))
        self.errors = errors


def sniff_image_type(data: bytes) -> str | None:
    """The content type of a JPEG, PNG or WebP image from its first bytes, or None."""
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_PNG):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def sanitize_filename(name: str | None) -> str | None:
    """The last path segment of ``name`` with only ``[A-Za-z0-9._-]`` kept (max 100 chars)."""
    if not name:
        return None
    # Old browsers send the full client path, with either separator.
    base = PureWindowsPath(PurePosixPath(name).name).name
    cleaned = _UNSAFE_FILENAME.sub("_", base).strip("._")[:100]
    return cleaned or None


def new_submission_id() -> str:
    """A fresh random token for one rendered form (22 URL-safe characters, 128 bits)."""
    return secrets.token_urlsafe(16)


def valid_submission_id(value: str | None) -> str | None:
    """``value`` when it looks like a token from :func:`new_submission_id`, else None."""
    return value if value and _SUBMISSION_ID.fullmatch(value) else None


def identity_from_fields(fields: dict[str, str]) -> Identity:
    """The identity as typed on the form: trimmed, empty fields None, nothing else changed."""
    return Identity(**{attr: (fields.get(name) or "").strip() or None for name, attr in IDENTITY_FIELDS.items()})


class WebForm:
    """The web form channel: parses submissions; replies are read on the tracking page."""

    name = "web"
    idempotent_sends = False  # a repeated send may reach the citizen twice (README: send outcomes)
    channel = "web"
    path = None  # no webhook: the page views in gateway/pages handle the form
    methods: tuple[str, ...] = ()

    def __init__(self, settings: Settings) -> None:
        self.max_upload_bytes = settings.max_upload_bytes

    def parse_submission(
        self, fields: dict[str, str], photo: UploadedPhoto | None, *, lang: str, client: str | None = None
    ) -> Intake:
        """Build the intake for one form submission.

        ``client`` (``CLIENT_SENDER_PREFIX`` + a digest of the client's address) is the sender the
        per-sender limit counts; without it the sender is the reply address, as before.

        Raises :class:`FormErrors` for an empty or too long complaint text (``isi``) and for
        a photo (``foto``) that is not a JPEG/PNG/WebP by its magic bytes or is larger than
        ``max_upload_bytes``. Identity fields are not checked here (the worker does that).
        """
        errors: dict[str, str] = {}
        text = (fields.get(TEXT_FIELD) or "").strip()
        if not text:
            errors[TEXT_FIELD] = "isi_missing"
        elif len(text) > MAX_TEXT_CHARS:
            errors[TEXT_FIELD] = "isi_too_long"
        attachments: tuple[Attachment, ...] = ()
        try:
            attachment = self.photo_attachment(photo)
        except FormErrors as exc:
            errors.update(exc.errors)
        else:
            attachments = (attachment,) if attachment else ()
        if errors:
            raise FormErrors(errors)
        identity = identity_from_fields(fields)
        address = identity.email or identity.phone or "-"
        submission_id = valid_submission_id(fields.get("submission_id"))
        return Intake(
            channel="web",
            provider=self.name,
            # Without a valid token the normalizer falls back to a content fingerprint.
            external_id=f"web:{submission_id}" if submission_id else None,
            sender=client or address,
            text=text,
            reply_route=ReplyRoute(channel="web", address=address, provider=self.name),
            identity=identity,
            attachments=attachments,
            language=lang,
            kind="complaint",
            rahasia=fields.get("rahasia") == "1",
            anonim=fields.get("anonim") == "1",
        )

    def photo_attachment(self, photo: UploadedPhoto | None) -> Attachment | None:
        """The attachment record of ``photo`` (None for no photo or an empty file input).

        Raises :class:`FormErrors` (``foto``) when it is larger than ``max_upload_bytes`` or
        its magic bytes are not JPEG, PNG or WebP, whatever type the browser declared.
        """
        if photo is None or not photo.data:
            return None
        if len(photo.data) > self.max_upload_bytes:
            raise FormErrors({PHOTO_FIELD: "foto_too_large"})
        content_type = sniff_image_type(photo.data)
        if content_type is None:
            raise FormErrors({PHOTO_FIELD: "foto_type"})
        return Attachment(
            sha256=hashlib.sha256(photo.data).hexdigest(),
            size=len(photo.data),
            content_type=content_type,
            filename=sanitize_filename(photo.filename),
        )

    async def send(self, reply: OutboundReply) -> SendResult:
        """Deliver nothing: the web channel has no push, the citizen reads the answer on the
        tracking page (``/lacak/<ticket>``). Follow-up by email/SMS to the contact given on
        the form is a later issue. Returns a result without a provider message id."""
        return SendResult(provider_message_id=None)

    async def close(self) -> None:
        """Nothing to release."""
