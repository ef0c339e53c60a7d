"""The case page's read model: one case as plain frozen values, personal data masked unless revealed.

:func:`load_case` reads a case only through :func:`complaints.queries.visible_cases`, so an OPD
user asking for another OPD's case gets None (the page answers 404, as for an unknown ticket).
No ORM object leaves this module: templates get :class:`CaseFile` and its parts.

Revealing personal data writes a :class:`~complaints.models.PersonalDataView` row in the
caller's session (who, when, which case): call it with ``reveal=True`` only inside a writing
transaction, so the look and its record commit together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from complaints import complaint_class, deadlines, lifecycle, sla
from complaints.confidential import identity_withheld, scrub
from complaints.escalation import STAFF_MAIL_KINDS
from complaints.masking import HIDDEN, mask_digits, mask_email, mask_name
from complaints.models import CaseNote, Complaint, HistoryEntry, InboxMessage, PersonalDataView, Reply
from complaints.queries import STAFF_ROLES, Viewer, visible_cases
from complaints.staff import StaffUser
from config.model import CityConfig
from normalizer.envelope import utcnow

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A stored file of the case (the complaint's or a note's), served by its SHA-256."""

    sha256: str
    filename: str
    content_type: str
    size: int | None


@dataclass(frozen=True, slots=True)
class Identity:
    """The citizen's personal data, masked (the default) or as entered (``revealed``)."""

    nik: str | None
    name: str | None
    address: str | None
    phone: str | None
    email: str | None
    revealed: bool
    problems: tuple[tuple[str, str], ...]
    """The automatic identity check's findings: (field, problem code)."""
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Field -> where its value was read from (``Complaint.identity_sources``; no values in it)."""
    withheld: bool = False
    """The viewer is an OPD user the reporter is hidden from (issue 14): no value, not even masked."""

    @property
    def empty(self) -> bool:
        """True when the citizen gave no personal data at all."""
        return not any((self.nik, self.name, self.address, self.phone, self.email))


@dataclass(frozen=True, slots=True)
class Summary:
    """The facts at the top of the page: where the case is, who has it, how long is left."""

    ticket: str
    status: str
    status_label: str
    step: int
    opd_code: str | None
    opd_name: str | None
    routing_score: float | None
    routing_words: tuple[str, ...]
    channel: str
    reply_channel: str
    language: str
    received_at: datetime
    step_deadline_at: datetime | None
    clock: str | None
    """The clock the step deadline counts on (``working`` | ``wall``); None without a deadline."""
    seconds_left: int | None
    """Until the step deadline on that clock (working seconds on a working-hours step); negative
    when overdue; None when no clock runs."""
    overdue: bool
    """The step deadline has passed (as the escalation reads it: :func:`complaints.deadlines.is_overdue`)."""
    version: int
    source_details: tuple[tuple[str, str], ...]
    answer_text: str | None
    answer_public: bool
    attention: str | None
    closed_at: datetime | None
    class_label: str | None = None
    """Issue 14: the complaint class in the page's language (None before verification)."""
    class_deadline_at: datetime | None = None
    class_overdue: bool = False
    """The class deadline has passed while the case is open."""
    rahasia: bool = False
    """Confidential (issue 14): nothing of it on public pages."""
    anonim: bool = False
    """The citizen asked to stay anonymous toward the OPD (issue 14)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One line of the conversation, in time order.

    ``kind``: ``complaint`` (the citizen's first message), ``citizen`` (the citizen writing
    again), ``note`` (staff wrote it; ``note_kind`` says what), ``reply`` (sent to the citizen),
    ``opd_notice`` (the e-mail telling the OPD about the case; its address is left out).
    """

    at: datetime
    kind: str
    text: str
    internal: bool
    author: str | None = None
    author_role: str | None = None
    note_kind: str | None = None
    reply_kind: str | None = None
    reply_status: str | None = None
    reply_error: str | None = None
    sent_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One history row in words: when, who (``actor_kind`` staff/system/worker/citizen), what, from → to."""

    at: datetime
    actor_kind: str
    actor_name: str
    actor_role: str | None
    action: str
    from_label: str | None
    to_label: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class CaseFile:
    """Everything the case page shows of one case."""

    summary: Summary
    identity: Identity
    subject: str | None
    text: str
    attachments: tuple[Attachment, ...]
    conversation: tuple[Message, ...]
    history: tuple[HistoryLine, ...]
    draft_answer: str | None = None
    """What the approve form starts from: the approved answer, else the OPD's latest answer note."""


def _identity(case: Complaint, reveal: bool, withheld: bool = False) -> Identity:
    if withheld:
        return Identity(None, None, None, None, None, revealed=False, problems=(), withheld=True)
    problems = tuple(
        (field, code)
        for field, _, code in (item.partition(":") for item in (case.identity_problems or "").split(","))
        if field
    )
    sources = case.identity_sources or {}
    if reveal:
        return Identity(case.nik, case.name, case.address, case.phone, case.email, True, problems, sources)
    return Identity(
        nik=mask_digits(case.nik) if case.nik else None,
        name=mask_name(case.name) if case.name else None,
        address=HIDDEN if case.address else None,
        phone=mask_digits(case.phone) if case.phone else None,
        email=mask_email(case.email) if case.email else None,
        revealed=False,
        problems=problems,
        sources=sources,
    )


# --------------------------------------------------------------------------- loading


def find_case(session: Session, viewer: Viewer, ticket: str) -> Complaint | None:
    """The case ``ticket`` if ``viewer`` may see it (else None, whether it exists or not)."""
    return session.scalar(visible_cases(viewer).where(Complaint.ticket == ticket))


def pending_state(session: Session, viewer: Viewer, ticket: str) -> str | None:
    """For a ticket whose message was accepted but has no case yet: ``"processing"`` (the workers
    are on it) or ``"failed"`` (processing gave up: a dead letter); None otherwise.

    Only for operators and admins: such a case is nobody's OPD's yet, so an OPD user is told
    nothing about it (the same 404 as for an unknown ticket).
    """
    if viewer.role not in STAFF_ROLES:
        return None
    inbox = session.execute(select(InboxMessage.id, InboxMessage.state).where(InboxMessage.ticket == ticket)).first()
    if inbox is None or session.scalar(select(Complaint.id).where(Complaint.inbox_id == inbox.id)) is not None:
        return None
    return "failed" if inbox.state == "dead" else "processing"


def load_case(
    session: Session,
    viewer: Viewer,
    ticket: str,
    *,
    reveal: bool,
    user_id: int,
    config: CityConfig,
    lang: str = "id",
    now: datetime | None = None,
    opd_sees_identity: bool = True,
) -> CaseFile | None:
    """The case ``ticket`` as ``viewer`` may see it, or None (unknown, or not theirs).

    With ``reveal`` the personal data is unmasked and a :class:`PersonalDataView` for
    ``user_id`` is added to ``session`` (the caller commits it with the page's read).
    """
    case = find_case(session, viewer, ticket)
    if case is None:
        return None
    withheld = identity_withheld(viewer, case, opd_sees_identity=opd_sees_identity)
    return case_file(
        session, case, reveal=reveal, user_id=user_id, config=config, lang=lang, now=now, withheld=withheld
    )


def case_file(
    session: Session,
    case: Complaint,
    *,
    reveal: bool,
    user_id: int,
    config: CityConfig,
    lang: str = "id",
    now: datetime | None = None,
    withheld: bool = False,
) -> CaseFile:
    """:func:`load_case` for a case already found through :func:`find_case` (the caller checked who asks).

    ``withheld`` (:func:`complaints.confidential.identity_withheld`): the reporter is hidden from
    the viewer; nothing is revealed (nor recorded as a look) and every text is scrubbed of them.
    """
    reveal = reveal and not withheld
    if reveal:
        session.add(PersonalDataView(complaint_id=case.id, user_id=user_id, at=utcnow()))
    notes = list(session.scalars(select(CaseNote).where(CaseNote.complaint_id == case.id).order_by(CaseNote.id)))
    replies = list(
        session.scalars(
            select(Reply)
            .where(or_(Reply.complaint_id == case.id, Reply.inbox_id == case.inbox_id))
            .order_by(Reply.created_at, Reply.id)
        )
    )
    history = list(
        session.scalars(
            select(HistoryEntry).where(HistoryEntry.complaint_id == case.id).order_by(HistoryEntry.at, HistoryEntry.id)
        )
    )
    staff = _staff_names(
        session,
        [n.author_id for n in notes if n.author_id is not None] + [_staff_id(h.actor) for h in history],
    )
    # The text the operator moderates: the approved one once there is one, else the OPD's latest answer.
    draft = case.answer_text or next((n.text for n in reversed(notes) if n.kind == "answer"), None)
    file = CaseFile(
        summary=_summary(case, config, lang, now or utcnow()),
        identity=_identity(case, reveal, withheld),
        subject=case.subject,
        text=case.text,
        attachments=attachments_of(case.attachments),
        conversation=_conversation(case, notes, replies, staff),
        history=tuple(_history_line(h, staff, config, lang) for h in history),
        draft_answer=draft,
    )
    return _without_reporter(file, case) if withheld else file


def _without_reporter(file: CaseFile, case: Complaint) -> CaseFile:
    """``file`` with the reporter scrubbed from every text an OPD user reads (issue 14)."""

    def clean(text: str | None) -> str | None:
        return scrub(text, case) if text else text

    summary = replace(
        file.summary,
        answer_text=clean(file.summary.answer_text),
        source_details=tuple((k, scrub(v, case)) for k, v in file.summary.source_details),
    )
    return replace(
        file,
        summary=summary,
        subject=clean(file.subject),
        text=scrub(file.text, case),
        conversation=tuple(replace(m, text=scrub(m.text, case), reply_error=None) for m in file.conversation),
        history=tuple(replace(h, note=clean(h.note)) for h in file.history),
        draft_answer=clean(file.draft_answer),
    )


def _status_label(config: CityConfig, status: str | None, lang: str) -> str | None:
    if not status:
        return None
    return config.sop.label(status, lang) if status in config.sop.statuses else status


def _seconds_left(case: Complaint, clock: str | None, config: CityConfig, now: datetime) -> int | None:
    """Seconds to the deadline on its clock; past :data:`sla.LATE_COUNT_DAYS` late, wall seconds (no calendar walk)."""
    deadline = case.step_deadline_at
    if deadline is None or clock is None:
        return None
    if deadline < now - timedelta(days=sla.LATE_COUNT_DAYS):
        return int((deadline - now).total_seconds())
    return int(sla.minutes_left(now, deadline, clock, sla.calendar_of(config.calendar)) * 60)


def _summary(case: Complaint, config: CityConfig, lang: str, now: datetime) -> Summary:
    opd = config.opd(case.opd_code)
    clock = lifecycle.step_clock(case, config.sop) if case.step_deadline_at is not None else None
    details = case.source_details or {}
    return Summary(
        ticket=case.ticket,
        status=case.status,
        status_label=_status_label(config, case.status, lang) or case.status,
        step=case.step,
        opd_code=case.opd_code,
        opd_name=opd.name if opd is not None else None,
        routing_score=case.routing_score,
        routing_words=tuple(w for w in (case.routing_matched or "").split(",") if w),
        channel=case.channel,
        reply_channel=case.reply_channel,
        language=case.language,
        received_at=case.created_at,
        step_deadline_at=case.step_deadline_at,
        clock=clock,
        seconds_left=_seconds_left(case, clock, config, now),
        overdue=deadlines.is_overdue(case, now),
        version=case.version,
        source_details=tuple((str(k), str(v)) for k, v in details.items() if v not in (None, "")),
        answer_text=case.answer_text,
        answer_public=case.answer_public,
        attention=case.attention,
        closed_at=case.closed_at,
        class_label=_class_label(config, case.complaint_class, lang),
        class_deadline_at=case.class_deadline_at,
        class_overdue=complaint_class.is_class_overdue(case, now),
        rahasia=bool(case.rahasia),
        anonim=bool(case.anonim),
    )


def _class_label(config: CityConfig, code: str | None, lang: str) -> str | None:
    chosen = config.classes.get(code)
    return chosen.label(lang) if chosen is not None else code


def attachments_of(stored: Mapping[str, Any] | None) -> tuple[Attachment, ...]:
    """The files listed in a complaint's or note's ``attachments`` JSON (``{"files": [...]}``)."""
    files = (stored or {}).get("files") or ()
    result = []
    for item in files:
        if not isinstance(item, Mapping) or not _SHA256.fullmatch(str(item.get("sha256", ""))):
            continue  # a malformed entry cannot be served (nor name a path); the rest still can
        size = item.get("size")
        result.append(
            Attachment(
                sha256=item["sha256"],
                filename=str(item.get("filename") or item["sha256"][:12]),
                content_type=str(item.get("content_type") or "application/octet-stream"),
                size=size if isinstance(size, int) else None,
            )
        )
    return tuple(result)


def case_attachment(session: Session, viewer: Viewer, ticket: str, sha256: str) -> Attachment | None:
    """The file ``sha256`` of case ``ticket`` (the complaint's or a note's) if ``viewer`` sees the case."""
    case = find_case(session, viewer, ticket)
    if case is None:
        return None
    stored = [case.attachments] + list(
        session.scalars(select(CaseNote.attachments).where(CaseNote.complaint_id == case.id))
    )
    for attachments in stored:
        for att in attachments_of(attachments):
            if att.sha256 == sha256:
                return att
    return None


# --------------------------------------------------------------------------- people


def _staff_id(actor: str) -> int | None:
    kind, _, rest = actor.partition(":")
    if kind == "staff" and rest.isdigit():
        return int(rest)
    return None


def _staff_names(session: Session, ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(StaffUser.id, StaffUser.name, StaffUser.role).where(StaffUser.id.in_(wanted)))
    return {row.id: (row.name, row.role) for row in rows}


def _history_line(
    entry: HistoryEntry, staff: Mapping[int, tuple[str, str]], config: CityConfig, lang: str
) -> HistoryLine:
    kind, _, rest = entry.actor.partition(":")
    staff_id = _staff_id(entry.actor)
    role: str | None = None
    if staff_id is not None:
        known = staff.get(staff_id)
        # A deleted user still shows as who acted, by number.
        name, role = known if known is not None else (f"#{staff_id}", None)
        actor_kind = "staff"
    elif kind in ("system", "citizen"):
        actor_kind, name = kind, ""
    elif kind == "worker":
        actor_kind, name = "worker", rest
    else:
        actor_kind, name = "other", entry.actor
    return HistoryLine(
        at=entry.at,
        actor_kind=actor_kind,
        actor_name=name,
        actor_role=role,
        action=entry.action,
        from_label=_status_label(config, entry.from_status, lang),
        to_label=_status_label(config, entry.to_status, lang),
        note=entry.note,
    )


def _conversation(
    case: Complaint, notes: Iterable[CaseNote], replies: Iterable[Reply], staff: Mapping[int, tuple[str, str]]
) -> tuple[Message, ...]:
    lines = [
        Message(
            at=case.created_at,
            kind="complaint",
            text=case.text,
            internal=False,
            author_role="citizen",
            attachments=attachments_of(case.attachments),
        )
    ]
    for note in notes:
        citizen = note.kind == "citizen_message"
        author = staff.get(note.author_id) if note.author_id is not None else None
        lines.append(
            Message(
                at=note.at,
                kind="citizen" if citizen else "note",
                text=note.text,
                internal=note.internal and not citizen,
                author=author[0] if author else None,
                author_role="citizen" if citizen else note.author_role,
                note_kind=note.kind,
                attachments=attachments_of(note.attachments),
            )
        )
    for reply in replies:
        # part-escalation: escalation mail goes to staff too, never to the citizen.
        notice = reply.kind == "opd_notice" or reply.kind in STAFF_MAIL_KINDS
        lines.append(
            Message(
                at=reply.created_at,
                kind="opd_notice" if notice else "reply",
                text=reply.text,
                internal=notice,
                reply_kind=reply.kind,
                reply_status=reply.status,
                reply_error=reply.error,
                sent_at=reply.sent_at,
            )
        )
    # A stable sort: the first message stays first when a note shares its timestamp.
    return tuple(sorted(lines, key=lambda m: m.at))
