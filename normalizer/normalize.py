"""Turn a channel's :class:`Intake` into the one :class:`ComplaintEnvelope` every stage uses."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from normalizer.envelope import ComplaintEnvelope, Identity, Intake, new_id, utcnow
from normalizer.identity import merge_identity, normalize_phone, parse_identity_text
from normalizer.text import clean_text
from normalizer.tickets import parse_status_query

# Providers that give no message id are deduplicated on content within this window: a
# retry arrives within seconds, while the same words sent again later are a new message.
FINGERPRINT_WINDOW_SECONDS = 300

# Channels whose sender address is a phone number the citizen can be reached on.
PHONE_CHANNELS = frozenset({"sms"})


def content_fingerprint(intake: Intake, received_at: datetime) -> str:
    """A stable id for a message without a provider id: sender + text + time window."""
    bucket = int(received_at.timestamp()) // FINGERPRINT_WINDOW_SECONDS
    digest = hashlib.sha256(f"{intake.channel}\0{intake.sender}\0{intake.text}\0{bucket}".encode())
    return "fp:" + digest.hexdigest()[:40]


def build_envelope(intake: Intake) -> ComplaintEnvelope:
    """Normalise an intake: clean text, classify, extract identity, fix the external id."""
    received_at = (intake.received_at or utcnow()).astimezone(UTC)
    text = clean_text(intake.text)
    kind = intake.kind
    query_ticket = intake.query_ticket
    identity = intake.identity
    if kind is None:
        query = parse_status_query(text)
        kind = "status_query" if query is not None else "complaint"
        if query is not None:
            query_ticket = query
    if kind == "complaint":
        parsed, body = parse_identity_text(text)
        identity = merge_identity(identity, parsed)
        text = body.strip()
        if intake.channel in PHONE_CHANNELS and not identity.phone:
            identity = merge_identity(identity, Identity(phone=normalize_phone(intake.sender)))
    return ComplaintEnvelope(
        id=new_id(),
        channel=intake.channel,
        provider=intake.provider,
        external_id=intake.external_id or content_fingerprint(intake, received_at),
        received_at=received_at.isoformat(),
        sender=intake.sender,
        reply_route=intake.reply_route,
        identity=identity,
        text=text,
        kind=kind,
        query_ticket=query_ticket,
        subject=intake.subject,
        attachments=intake.attachments,
        location=intake.location,
        language=intake.language,
        raw=intake.raw,
    )
