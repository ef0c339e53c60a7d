"""The complaint envelope: one shape for every channel.

Channel adapters turn provider payloads into ``Intake`` objects (channel-specific facts);
:func:`build_envelope` turns an intake into a :class:`ComplaintEnvelope`, the frozen,
versioned, JSON-serialisable record that is stored durably and handed to the workers.
Only JSON primitives cross the queue, so the envelope round-trips through ``to_dict`` /
``from_dict``.

What a worker decides on is a typed field, the same for every channel: the thread a message
continues (:class:`Thread`), why it must get no automatic answer (``automatic``, ``bounce``), one
turn of a guided chat (:class:`ChatTurn`) and files still held by the provider
(:class:`RemoteFile`). ``raw`` keeps the provider's own facts for the record only; no worker
reads it. Version 1 envelopes (still in inbox rows written before version 2) kept those facts
in ``raw``; ``from_dict`` lifts them into the typed fields (``normalizer.envelope_v1``).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from normalizer.envelope_v1 import upgrade_v1

ENVELOPE_VERSION = 2

Kind = Literal["complaint", "status_query", "conversation"]
"""``conversation``: one turn of a guided chat (/lapor on Telegram or any chat channel); the
worker keeps its state. An adapter makes its channel conversational by setting this kind."""

ChatContent = Literal["text", "command", "photo", "location", "contact", "other"]
"""What one chat message carries; ``other`` is content the conversation cannot use (a sticker,
a voice note), answered with "text, photos and locations only"."""


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
class Thread:
    """Which earlier message or case this one continues."""

    message_id: str | None = None
    """The provider's id of this message where replies can refer to it (e-mail Message-ID)."""
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    """Ids of earlier messages of the thread (e-mail In-Reply-To / References, oldest first)."""
    case_ticket: str | None = None
    """The ticket the client says this message continues (the app's "add a message" call);
    the worker still checks that the case is this sender's."""

    def to_dict(self) -> dict[str, Any]:
        """JSON primitives."""
        return {
            "message_id": self.message_id,
            "in_reply_to": list(self.in_reply_to),
            "references": list(self.references),
            "case_ticket": self.case_ticket,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Thread:
        """Rebuild from :meth:`to_dict` output (None: no thread)."""
        data = data or {}
        return cls(
            message_id=data.get("message_id"),
            in_reply_to=tuple(data.get("in_reply_to") or ()),
            references=tuple(data.get("references") or ()),
            case_ticket=data.get("case_ticket"),
        )


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery failure report (RFC 3464) about a message we sent."""

    original_message_id: str | None
    """Provider id of our message that failed (the Message-ID of our mail)."""
    action: str | None = None
    """``failed``, ``delayed`` (a warning: still trying), ``delivered``..."""
    status: str | None = None
    diagnostic: str | None = None


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One message of a chat channel, as the guided conversation needs it."""

    content: ChatContent = "text"
    message_id: str | None = None
    """The chat message's id, so an edit can be matched to the answer it changes."""
    edited: bool = False
    """The citizen edited an earlier message (``message_id``); the text is its new wording."""
    contact_phone: str | None = None
    """A phone number the channel vouches for as the sender's own (Telegram "share my contact")."""
    command: str | None = None
    """For ``content="command"``: the command word without ``/`` or ``@bot`` (``lapor``, ``cek``)."""
    args: str = ""
    """For ``content="command"``: the rest of the message."""


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file the provider still holds (a Telegram ``file_id``), to be fetched by reference later."""

    provider: str
    ref: str
    content_type: str | None = None
    size: int | None = None


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
    thread: Thread = field(default_factory=Thread)
    automatic: str | None = None
    """Why no automatic answer may go back (RFC 3834: ``auto-replied``, ``bounce``, ``list``...)."""
    bounce: Bounce | None = None
    turn: ChatTurn | None = None
    """For ``kind="conversation"``; left None, the normaliser makes a text or command turn."""
    attachments_to_fetch: tuple[RemoteFile, ...] = ()
    source_details: dict[str, Any] | None = None
    """Where a complaint entered by hand came from (newspaper name and date, who entered it):
    copied to the case (``Complaint.source_details``); JSON primitives only."""
    raw: dict[str, Any] | None = None
    """The provider's facts for the record; no worker reads them."""
    rahasia: bool = False
    """The citizen ticked "confidential" (a form checkbox, an app field; issue 14). A leading
    ``RAHASIA`` keyword in the text sets it too (:mod:`normalizer.confidential`)."""
    anonim: bool = False
    """The citizen asked to stay anonymous toward the OPD (checkbox, app field or ``ANONIM`` keyword)."""


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
    thread: Thread = field(default_factory=Thread)
    automatic: str | None = None
    """Why no automatic answer may go back (RFC 3834); None for a person's message."""
    bounce: Bounce | None = None
    turn: ChatTurn | None = None
    """Set for ``kind="conversation"``."""
    attachments_to_fetch: tuple[RemoteFile, ...] = ()
    source_details: dict[str, Any] | None = None
    """Where a complaint entered by hand came from (channels.manual_entry); copied to the case."""
    raw: dict[str, Any] | None = None
    """The provider's facts for the record only."""
    identity_sources: dict[str, str] | None = None
    """Where each identity field came from (issue 13): ``label:<label as written>`` or ``text``
    (read from the message), ``sender`` (the SMS number, the e-mail From address), or
    ``channel:<name>`` (given by the channel: a form field, a profile or e-mail display name).
    Never a value; None in envelopes stored before it existed."""
    text_label: str | None = None
    """The label the complaint text stood behind ("Isi", "LAPOR#"): a whole complaint, not a short
    reply completing a returned one (issue 13)."""
    rahasia: bool = False
    """Confidential (issue 14): text, photos and answer never on public pages; counts only."""
    anonim: bool = False
    """Anonymous toward the OPD (issue 14): its staff never see the reporter's identity."""
    version: int = ENVELOPE_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Return the envelope as JSON primitives."""
        data = dataclasses.asdict(self)
        data["attachments"] = [dataclasses.asdict(a) for a in self.attachments]
        data["location"] = list(self.location) if self.location else None
        data["thread"] = self.thread.to_dict()
        data["attachments_to_fetch"] = [dataclasses.asdict(f) for f in self.attachments_to_fetch]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComplaintEnvelope:
        """Rebuild an envelope from :meth:`to_dict` output.

        Reads version 1 too (its typed facts were keys of ``raw``). Raises ``ValueError`` for
        an envelope version this code does not know.
        """
        version = data.get("version", 1)
        if version > ENVELOPE_VERSION:
            raise ValueError(f"envelope version {data['version']} is newer than this code")
        if version < 2:
            data = upgrade_v1(data)
        loc = data.get("location")
        bounce, turn = data.get("bounce"), data.get("turn")
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
            thread=Thread.from_dict(data.get("thread")),
            automatic=data.get("automatic"),
            bounce=Bounce(**bounce) if bounce else None,
            turn=ChatTurn(**turn) if turn else None,
            attachments_to_fetch=tuple(RemoteFile(**f) for f in data.get("attachments_to_fetch") or ()),
            source_details=data.get("source_details"),
            raw=data.get("raw"),
            identity_sources=data.get("identity_sources"),
            text_label=data.get("text_label"),
            rahasia=bool(data.get("rahasia", False)),
            anonim=bool(data.get("anonim", False)),
            version=ENVELOPE_VERSION,
        )


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh random identifier (UUID4 hex)."""
    return uuid.uuid4().hex
