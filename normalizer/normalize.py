"""Turn a channel's :class:`Intake` into the one :class:`ComplaintEnvelope` every stage uses."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from normalizer.chat import parse_command
from normalizer.confidential import read_keywords
from normalizer.envelope import ChatTurn, ComplaintEnvelope, Identity, Intake, new_id, utcnow
from normalizer.identity import merge_identity, normalize_phone, parse_identity_parts
from normalizer.text import clean_text, has_unstorable, storable
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


# Column sizes of the case record: longer values are cut here, never by a database error
# that would fail a whole group-committed batch.
MAX_EXTERNAL_ID = 150
MAX_ADDRESS = 320
FIELD_LIMITS = {"nik": 32, "name": 200, "address": 1000, "phone": 32, "email": 320}


class InvalidIntake(ValueError):
    """The message cannot be stored as it is (e.g. a sender address longer than any real one)."""


def _one_line(value: str) -> str:
    """Remove NUL and other control characters from a single-line value."""
    return "".join(ch for ch in value if ch >= " " and ch != "\x7f").strip()


def _bounded_identity(identity: Identity) -> Identity:
    values = {}
    for field, limit in FIELD_LIMITS.items():
        value = getattr(identity, field)
        values[field] = _one_line(value)[:limit] or None if value else None
    return Identity(**values)


def _external_id(raw: str) -> str:
    cleaned = _one_line(raw)
    if len(cleaned) <= MAX_EXTERNAL_ID and cleaned == raw:
        return raw
    # Over-long or odd ids still deduplicate: their hash is stable across retries.
    return "h:" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _given_sources(intake: Intake) -> dict[str, str]:
    """Where the identity the channel itself gave came from: the sender's address, or the channel."""
    sources = {}
    for field in ("nik", "name", "address", "phone", "email"):
        value = getattr(intake.identity, field)
        if value:
            own_address = field == "email" and intake.channel == "email" and value.lower() == intake.sender.lower()
            sources[field] = "sender" if own_address else f"channel:{intake.channel}"
    return sources


def chat_turn(turn: ChatTurn | None, text: str) -> ChatTurn:
    """The turn of a conversation message: the adapter's, with a typed ``/command`` read from its text.

    An adapter that says nothing about the content sends text; reading commands here means
    every chat channel understands /lapor and /cek without code of its own.
    """
    turn = turn or ChatTurn()
    if turn.content == "text" and (command := parse_command(text)) is not None:
        return replace(turn, content="command", command=command[0], args=command[1])
    return turn


def build_envelope(intake: Intake) -> ComplaintEnvelope:
    """Normalise an intake: clean text, classify, extract identity, fix the external id.

    Raises :class:`InvalidIntake` when the sender address cannot be a real one.
    """
    sender = _one_line(intake.sender)
    if not sender or len(sender) > MAX_ADDRESS:
        raise InvalidIntake("sender address is empty or longer than 320 characters")
    received_at = (intake.received_at or utcnow()).astimezone(UTC)
    text = clean_text(intake.text)
    kind = intake.kind
    query_ticket = intake.query_ticket
    identity = intake.identity
    sources: dict[str, str] | None = None
    text_label: str | None = None
    rahasia, anonim = intake.rahasia, intake.anonim
    if kind is None:
        query = parse_status_query(text)
        kind = "status_query" if query is not None else "complaint"
        if query is not None:
            query_ticket = query
    if kind == "complaint":
        # RAHASIA / ANONIM lead the text on channels without a checkbox (issue 14); never kept in it.
        protection = read_keywords(text)
        rahasia, anonim, text = rahasia or protection.rahasia, anonim or protection.anonim, protection.text
        labelled, unlabelled, body, read_from, text_label = parse_identity_parts(text)
        given = _given_sources(intake)
        if intake.channel in PHONE_CHANNELS and not identity.phone:
            identity = merge_identity(identity, Identity(phone=normalize_phone(intake.sender)))
            given["phone"] = "sender"
        # What the citizen typed behind a label ("Nama: ...") wins over what the provider tells
        # about the sender (an e-mail display name, a phone contact name, the SMS number); an
        # unlabelled value only fills what the provider left empty (part-parserfix: issue 13).
        sources = {f: read_from[f] for f in read_from if getattr(labelled, f)}
        sources |= {f: given[f] for f in given if f not in sources and getattr(identity, f)}
        sources |= {f: read_from[f] for f in read_from if f not in sources and getattr(unlabelled, f)}
        identity = merge_identity(merge_identity(labelled, identity), unlabelled)
        text = body.strip()
    route = intake.reply_route
    if route.address != sender and (not route.address or len(route.address) > MAX_ADDRESS):
        raise InvalidIntake("reply address is empty or longer than 320 characters")
    envelope = ComplaintEnvelope(
        id=new_id(),
        channel=intake.channel,
        provider=intake.provider,
        external_id=_external_id(intake.external_id)
        if intake.external_id
        else content_fingerprint(intake, received_at),
        received_at=received_at.isoformat(),
        sender=sender,
        reply_route=replace(route, address=_one_line(route.address)),
        identity=(identity := _bounded_identity(identity)),
        text=text,
        kind=kind,
        query_ticket=query_ticket,
        subject=_one_line(intake.subject)[:500] if intake.subject else None,
        attachments=intake.attachments,
        location=intake.location,
        language=intake.language,
        thread=intake.thread,
        automatic=intake.automatic,
        bounce=intake.bounce,
        turn=chat_turn(intake.turn, text) if kind == "conversation" else None,
        attachments_to_fetch=intake.attachments_to_fetch,
        source_details=intake.source_details,
        raw=intake.raw,
        text_label=text_label,
        rahasia=rahasia,
        anonim=anonim,
        identity_sources={f: v for f, v in sources.items() if getattr(identity, f)} if sources is not None else None,
    )
    # part-hostile: cleaned here, at the one edge every channel passes, so text no database can
    # store is never answered "accepted" and then failed by the worker on every attempt.
    if not has_unstorable(envelope):
        return envelope
    return ComplaintEnvelope.from_dict(cast("dict[str, Any]", storable(envelope.to_dict())))
