"""The complaint envelope: one shape for every channel.

Channel adapters turn provider payloads into ``Intake`` objects (channel-specific facts);
:func:`build_envelope` turns an intake into a :class:`ComplaintEnvelope`, the frozen,
versioned, JSON-serialisable record that is stored durably and handed to the workers.
Only JSON primitives cross the queue, so the envelope round-trips through ``to_dict`` /
``from_dict``.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ENVELOPE_VERSION = 1

Kind = Literal["complaint", "status_query", "conversation"]
"""``conversation``: one turn of a guided chat (Telegram /lapor); the worker keeps its state."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Reporter identity as parsed from the message; any field may be missing."""

    nik: str | None = None
    name: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ReplyRoute:
    """Where answers go: the channel the complaint came in on, the address, the thread."""

    channel: str
    address: str
    thread_ref: str | None = None
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A stored file, referenced by content hash (never the bytes themselves)."""

    sha256: str
    size: int
    content_type: str
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Intake:
    """What a channel adapter's ``parse`` returns: the facts of one inbound message."""

    channel: str
    provider: str
    external_id: str | None
    sender: str
    text: str
    reply_route: ReplyRoute
    identity: Identity = field(default_factory=Identity)
    subject: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: tuple[float, float] | None = None
    language: str = "id"
    received_at: datetime | None = None
    kind: Kind | None = None
    """``None`` lets the normalizer decide (e.g. SMS ``CEK <ticket>`` is a status query)."""
    query_ticket: str | None = None
    raw: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ComplaintEnvelope:
    """The normalised message every later stage works on."""

    id: str
    channel: str
    provider: str
    external_id: str
    received_at: str
    sender: str
    reply_route: ReplyRoute
    identity: Identity
    text: str
    kind: Kind = "complaint"
    query_ticket: str | None = None
    subject: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: tuple[float, float] | None = None
    language: str = "id"
    raw: dict[str, Any] | None = None
    version: int = ENVELOPE_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Return the envelope as JSON primitives."""
        data = dataclasses.asdict(self)
        data["attachments"] = [dataclasses.asdict(a) for a in self.attachments]
        data["location"] = list(self.location) if self.location else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComplaintEnvelope:
        """Rebuild an envelope from :meth:`to_dict` output.

        Raises ``ValueError`` for an envelope version this code does not know.
        """
        if data.get("version", 1) > ENVELOPE_VERSION:
            raise ValueError(f"envelope version {data['version']} is newer than this code")
        loc = data.get("location")
        return cls(
            id=data["id"],
            channel=data["channel"],
            provider=data["provider"],
            external_id=data["external_id"],
            received_at=data["received_at"],
            sender=data["sender"],
            reply_route=ReplyRoute(**data["reply_route"]),
            identity=Identity(**data["identity"]),
            text=data["text"],
            kind=data.get("kind", "complaint"),
            query_ticket=data.get("query_ticket"),
            subject=data.get("subject"),
            attachments=tuple(Attachment(**a) for a in data.get("attachments") or ()),
            location=(loc[0], loc[1]) if loc else None,
            language=data.get("language", "id"),
            raw=data.get("raw"),
            version=data.get("version", ENVELOPE_VERSION),
        )


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh random identifier (UUID4 hex)."""
    return uuid.uuid4().hex
