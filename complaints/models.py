"""Database tables (SQLAlchemy 2 declarative models), shared by SQLite and PostgreSQL.

- ``inbox``: every inbound message, durably stored before the channel is answered; unique on
  (channel, external_id) so a provider's retry creates nothing new.
- ``complaints``: the case record with its SOP status, OPD, and the current step's deadline.
- ``history``: who moved a case, what they did, when (the SOP's "Pencatatan").
- ``case_notes``: what staff wrote on a case (follow-ups with photos, answers, reasons);
  ``pii_views``: every look at a case's unmasked personal data.
- ``replies``: the outbox; one row per reply, queued -> sending -> sent -> delivered / failed / unknown.
- ``poller_state``: every poller's health (IMAP mailbox, X, Telegram long poll), for operators.
- ``channel_cursors``, ``conversations``, ``devices``: pollers' positions (IMAP UIDVALIDITY and
  last UID too), guided chats, app phones.
- ``process_beats``, ``activity_counts``, ``queue_samples``, ``dead_letter_actions``: what the
  health page shows (live processes, per-minute counters, queue depth over time, dead-letter actions).
The schema itself is created by the Alembic migrations in ``complaints/migrations``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored and returned in UTC on every database.

    PostgreSQL keeps the zone; SQLite does not, so values read back from it are naive and
    would print without "+00:00". Naive values are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use an aware UTC value")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


_CLASS_TO_ESCALATE = text("class_escalated_at IS NULL AND closed_at IS NULL AND merged_into_id IS NULL")
_TO_RECOMPUTE = text("deadline_clock IS NULL AND step_deadline_at IS NOT NULL AND closed_at IS NULL")


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON}


class InboxMessage(Base):
    """One inbound message as accepted from a channel (complaint or status query)."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_inbox_channel_external_id"),
        Index("ix_inbox_state_created", "state", "created_at"),
        Index("ix_inbox_state_next_attempt", "state", "next_attempt_at"),
        Index("ix_inbox_channel_created", "channel", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    ticket: Mapped[str | None] = mapped_column(String(20), unique=True)
    envelope: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="accepted")  # accepted | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Processing attempts, failed ones included (counted outside the failing savepoint)."""
    next_attempt_at: Mapped[datetime | None]
    """When the next attempt is due: the sweeper leaves the row alone until well after it."""
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Complaint(Base):
    """A case: one complaint following the SOP from receipt to the answer."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_status", "status"),
        Index("ix_complaints_opd", "opd_code"),
        Index("ix_complaints_reply_route", "reply_channel", "reply_address"),  # "my complaints" in the app
        # The staff inbox: waiting statuses (of one OPD) in step-deadline order (complaints/queries.py).
        Index("ix_complaints_status_deadline", "status", "step_deadline_at", "created_at"),
        Index("ix_complaints_opd_status_deadline", "opd_code", "status", "step_deadline_at"),
        Index("ix_complaints_attention", "attention"),
        # issue 10, duplicates (migration 0016): one OPD's recent cases; the cases merged into one.
        Index("ix_complaints_opd_created", "opd_code", "created_at"),
        Index("ix_complaints_merged_into", "merged_into_id"),
        # Open cases whose deadline predates the working clock (migration 0017, complaints/deadlines.py).
        Index(
            "ix_complaints_deadline_legacy",
            "id",
            sqlite_where=_TO_RECOMPUTE,
            postgresql_where=_TO_RECOMPUTE,
        ),
        Index("ix_complaints_created", "created_at"),  # part-reports (0018): complaints received in a period
        # issue 14 (0025): class deadlines due in a report's period; open ones the scheduler escalates.
        Index("ix_complaints_class_deadline", "class_deadline_at"),
        Index(
            "ix_complaints_class_to_escalate",
            "class_deadline_at",
            sqlite_where=_CLASS_TO_ESCALATE,
            postgresql_where=_CLASS_TO_ESCALATE,
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(20), unique=True)
    inbox_id: Mapped[str] = mapped_column(ForeignKey("inbox.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    reply_channel: Mapped[str] = mapped_column(String(32))
    reply_provider: Mapped[str | None] = mapped_column(String(32))
    reply_address: Mapped[str] = mapped_column(String(320))
    reply_thread_ref: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="id")
    status: Mapped[str] = mapped_column(String(40))
    step: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Raised by every status change; a change made from an older version is refused (two staff, one case)."""
    step_deadline_at: Mapped[datetime | None]
    opd_code: Mapped[str | None] = mapped_column(String(40))
    routing_score: Mapped[float | None] = mapped_column(Float)
    routing_matched: Mapped[str | None] = mapped_column(Text)
    # Personal data (UU 27/2022): shown only to roles that may see it, never logged.
    nik: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    identity_problems: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[dict[str, Any] | None]
    source_details: Mapped[dict[str, Any] | None]
    """Where a manually entered complaint came from (newspaper name and date, call notes)."""
    answer_text: Mapped[str | None] = mapped_column(Text)
    """The OPD's answer as the operator approved it (edited or not): what the citizen receives."""
    answer_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The operator ticked "publish": the answer text shows on the public tracking page and API."""
    attention: Mapped[str | None] = mapped_column(String(40))
    """Why the case needs an operator although its status does not say so (``delivery_failed``,
    ``citizen_message``); cleared when an operator deals with it. Shown in the operator inbox."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # part-clock (migration 0013)
    clock_paused_remaining_minutes: Mapped[float | None] = mapped_column(Float)
    """While the case waits for the citizen: the minutes its step had left, given back when it resumes."""
    # part-complete (migration 0020)
    identity_sources: Mapped[dict[str, Any] | None]
    """Field -> ``{"from": source, "reply_at": ISO time or absent}``: where each identity value was
    read (``normalizer.envelope.ComplaintEnvelope.identity_sources`` codes, ``chat`` for a guided
    report's answer), and when a reply supplied it. Never the values themselves."""
    # issue 10, duplicates (migration 0016)
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("complaints.id", name="fk_complaints_merged_into"))
    """The main case this one was merged into: it leaves the inbox and lists and follows the main case."""
    # issue 14, confidential and anonymous reports (migration 0023)
    rahasia: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Confidential: the text, photos and answer never show on public pages (counts only)."""
    anonim: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Anonymous toward the OPD: its staff see "Pelapor", never the identity (operators still do)."""
    deadline_clock: Mapped[str | None] = mapped_column(String(8))
    """The clock ``step_deadline_at`` counts on (``working`` | ``wall``, migration 0017); NULL on a
    deadline of the old wall-clock rule that complaints/deadlines.py has not recomputed yet."""
    # issue 14, deadlines by class (migration 0021)
    complaint_class: Mapped[str | None] = mapped_column(String(40))
    """The class picked at verification (a code of config/complaint_classes.yaml); NULL before."""
    class_deadline_at: Mapped[datetime | None]
    """The overall deadline of that class: close of office on its n-th working day after receipt."""
    class_escalated_at: Mapped[datetime | None]
    """When the scheduler escalated the passed class deadline (once a case; migration 0022)."""
    class_escalated2_at: Mapped[datetime | None]
    """When it escalated it further to the operator supervisor (level 2, once a case; migration 0027)."""
    # issue 14, close the loop (migration 0024)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How often the citizen's ``TIDAK PUAS`` reopened the case to its OPD (complaints/rating.py)."""
    rating_ended_at: Mapped[datetime | None]
    """When the scheduler finished the closed case after ``RATING_PERIOD_WORKING_DAYS`` (migration 0026):
    from then on no reply rates or reopens it (complaints/rating.py)."""


class HistoryEntry(Base):
    """One recorded event in a case's life."""

    __tablename__ = "history"
    __table_args__ = (
        Index("ix_history_complaint", "complaint_id", "id"),
        Index("ix_history_at", "at"),  # part-reports: the steps that ended in a report's period
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[str] = mapped_column(ForeignKey("complaints.id"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    # part-reports (migration 0018)
    opd_code: Mapped[str | None] = mapped_column(String(40))
    """The OPD holding the case when the row was written: a report gives each step to the OPD that had it."""


class CaseNote(Base):
    """Something staff wrote on a case beyond a status change: a follow-up report (with photos),
    the OPD's answer, a reason for returning or re-routing, an internal remark, how a phone call
    answered the citizen. ``internal`` notes never reach the citizen or a public page."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_complaint", "complaint_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[str] = mapped_column(ForeignKey("complaints.id"))
    at: Mapped[datetime]
    author_id: Mapped[int | None] = mapped_column(Integer)
    """The staff user (``staff_users.id``); None for the system."""
    author_role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(30))
    """``follow_up`` | ``answer`` | ``return_reason`` | ``reroute_reason`` | ``send_back`` |
    ``internal`` | ``phone_answer`` | ``citizen_message`` (a citizen writing again, ``author_role="citizen"``)."""
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[dict[str, Any] | None]
    internal: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class CaseRating(Base):
    """The citizen's rating of a delivered answer (issue 14): ``PUAS`` / ``TIDAK PUAS <alasan>`` or 1–5.

    One row per rating message; the newest is the case's rating. ``opd_code`` is the OPD whose answer
    was rated, so reports give each rating to the OPD that earned it even after a re-route.
    """

    __tablename__ = "case_ratings"
    __table_args__ = (
        Index("ix_case_ratings_complaint", "complaint_id", "id"),
        Index("ix_case_ratings_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[str] = mapped_column(ForeignKey("complaints.id"))
    at: Mapped[datetime]
    satisfied: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(Integer)
    """1–5 when the citizen sent a number; None for a plain PUAS / TIDAK PUAS."""
    reason: Mapped[str | None] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(32))
    """The provider the rating came through (``kannel``, ``imap``...)."""
    outcome: Mapped[str] = mapped_column(String(20))
    """``recorded`` | ``reopened`` (back to the OPD) | ``to_operator`` (a second reopen: the operator decides)."""
    opd_code: Mapped[str | None] = mapped_column(String(40))


class PersonalDataView(Base):
    """One look at a case's unmasked personal data: who, when, which case (UU 27/2022 accountability)."""

    __tablename__ = "pii_views"
    __table_args__ = (
        Index("ix_pii_views_complaint_at", "complaint_id", "at"),
        Index("ix_pii_views_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[str] = mapped_column(ForeignKey("complaints.id"))
    user_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class Reply(Base):
    """An outbound message to a citizen, tracked until the provider reports its fate."""

    __tablename__ = "replies"
    __table_args__ = (
        Index("ix_replies_status_created", "status", "created_at"),
        Index("ix_replies_provider_message_id", "provider_message_id"),
        Index("ix_replies_address_created", "address", "created_at"),
        Index("ix_replies_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_replies_created", "created_at"),  # part-reports: answers sent in a period
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    complaint_id: Mapped[str | None] = mapped_column(ForeignKey("complaints.id"))
    inbox_id: Mapped[str | None] = mapped_column(ForeignKey("inbox.id"))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(320))
    thread_ref: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|sending|sent|delivered|failed|unknown
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Sends started, at most REPLY_MAX_RETRIES + 1 whichever worker or sweep started them."""
    next_attempt_at: Mapped[datetime | None]
    """Queued: when the scheduled retry is due. Sending: when the send must be over (else its worker died)."""
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Parts of a multi-part reply already delivered (Telegram long answer, X public reply + DM)."""
    unknown_outcomes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Sends whose fate is unknown (time-out after the request went out): one more try, then ``unknown``."""
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class PollerState(Base):
    """How each poller (an IMAP mailbox, X, Telegram's long poll) is doing, shown to operators.

    Where a poller is (IMAP UIDVALIDITY and last UID, X since_id, Telegram offset) lives in
    :class:`ChannelCursor`; this row holds only its health.
    """

    __tablename__ = "poller_state"

    id: Mapped[str] = mapped_column(String(400), primary_key=True)  # e.g. imap:user@host/folder
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default="starting")  # connected|error|stopped
    last_poll_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ChannelCursor(Base):
    """Where a polling channel is (X since_id, Telegram update offset, IMAP UIDVALIDITY:UID), kept across restarts."""

    __tablename__ = "channel_cursors"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # e.g. "x:mentions:<user id>"
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class Conversation(Base):
    """A guided conversation in progress (/lapor on a chat channel): which question comes next, what is known."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # e.g. "telegram:<chat id>"
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class Device(Base):
    """A phone running the city's Android app; complaints from it are answered by push."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)  # the device token itself is never stored
    push_token: Mapped[str | None] = mapped_column(Text)
    push_token_dead: Mapped[bool] = mapped_column(default=False)
    platform: Mapped[str] = mapped_column(String(20), default="android")
    language: Mapped[str] = mapped_column(String(8), default="id")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class ProcessBeat(Base):
    """One running process of the system (gateway, worker, poller, serve), alive while it beats.

    Each process writes its row every ``MONITOR_INTERVAL_SECONDS``; a row whose beat is older than
    ``HEALTH_WORKER_MISSING_SECONDS`` and that did not say it stopped is a missing process.
    """

    __tablename__ = "process_beats"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # "<host>:<pid>:<started epoch>"
    role: Mapped[str] = mapped_column(String(20))  # serve|gateway|worker|poller|smtp|scheduler
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    threads: Mapped[int] = mapped_column(Integer, default=0)
    """Worker threads consuming the queue (0: the process runs no worker)."""
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]


class ActivityCount(Base):
    """How many things happened in one minute: counters kept per process and added up here.

    ``metric`` is ``inbound`` (label ``<channel>:<outcome>``), ``actor`` (``<actor>:<outcome>``) or
    ``outbound`` (``<provider>:<result>``); see :mod:`workers.activity`. Pages read recent minutes
    only, so no page counts a whole table.
    """

    __tablename__ = "activity_counts"

    minute: Mapped[datetime] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(20), primary_key=True)
    label: Mapped[str] = mapped_column(String(120), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class QueueSample(Base):
    """The depth of one Dramatiq queue at one minute (the first process to look writes it)."""

    __tablename__ = "queue_samples"

    minute: Mapped[datetime] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    ready: Mapped[int] = mapped_column(Integer, default=0)
    delayed: Mapped[int] = mapped_column(Integer, default=0)
    in_flight: Mapped[int] = mapped_column(Integer, default=0)
    dead: Mapped[int] = mapped_column(Integer, default=0)


class DeadLetterAction(Base):
    """Who requeued or discarded a dead-lettered queue message, and why (console or ``intake dlq``)."""

    __tablename__ = "dead_letter_actions"
    __table_args__ = (Index("ix_dead_letter_actions_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))  # "staff:<id>" or "cli:<os user>"
    action: Mapped[str] = mapped_column(String(16))  # requeue|discard
    message_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(80))  # the Dramatiq actor the message was for
    reason: Mapped[str | None] = mapped_column(Text)


# part-escalation: escalations of overdue steps and the scheduler's lease (migration 0014).
class Escalation(Base):
    """One escalation of one overdue step: level 1 (operator inbox + the OPD's escalation address),
    level 2 (the operator supervisor), written by the scheduler.

    Unique per case, step, entry into the step and level: the case's ``version`` is raised by every
    status change, so it names the entry; a case that re-enters a step later may escalate again,
    but two schedulers (or one that lost its lease) can never escalate the same entry twice.
    """

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("complaint_id", "step", "entry_version", "level", name="uq_escalations_entry_level"),
        Index("ix_escalations_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[str] = mapped_column(ForeignKey("complaints.id"))
    step: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(40))
    entry_version: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    opd_code: Mapped[str | None] = mapped_column(String(40))
    deadline_at: Mapped[datetime]
    at: Mapped[datetime]


class SchedulerLease(Base):
    """Which scheduler process may act, until when (one row per lease name).

    A holder renews its row every pass; another process takes the lease over only once it has
    expired, so of several schedulers exactly one runs the jobs.
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    renewed_at: Mapped[datetime]


# part-instrument: /metrics counts overdue SOP steps by step and OPD every scrape; this index
# makes that a range read of the overdue cases only (migration 0015); with deadline_clock, whether
# the deadline is trusted yet (complaints.deadlines.overdue) is read from it too (migration 0019).
Index(
    "ix_complaints_deadline_step_opd",
    Complaint.step_deadline_at,
    Complaint.step,
    Complaint.opd_code,
    Complaint.deadline_clock,
)
