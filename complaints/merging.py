"""Merging duplicate complaints into one main case (issue 10).

An operator (or admin) picks cases from the main case's duplicate proposals
(:mod:`complaints.duplicates`) and merges them into it. A merged case:

- keeps its own ticket, reporter and reply route; ``merged_into_id`` points at the main case;
- leaves the inbox and the lists (unless it needs an operator: a failed delivery of the answer),
  its step clock stops (the main case's clock counts now), no action can be taken on it;
- shows the main case's progress on the public tracking page (without anyone else's data);
- receives the main case's answer on its own channel when the main case is approved
  (:func:`answer_merged`, called by the approval in the same transaction).

Every merge writes a history row on both cases naming who did it. The rules
(:class:`MergeRefused`): not into itself, not across OPDs, not a closed or unrouted case either
way, not a case already merged (nor into one), not a case others were merged into.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from complaints import answers, attention, lifecycle
from complaints.duplicates import open_statuses
from complaints.models import Complaint
from complaints.queries import STAFF_ROLES, Viewer, visible_cases
from config.model import CityConfig
from config.settings import Settings
from normalizer.envelope import utcnow

MAX_MERGE = 50
"""Most cases merged in one go (the proposals list shows ten)."""
MERGED = "merged"
"""History action on the main case (the note names the merged ticket)."""
MERGED_INTO = "merged_into"
"""History action on a merged case (the note names the main ticket)."""
ANSWER_FROM_MAIN = "answer_from_main"
"""History action on a merged case when the main case's answer is queued to its reporter."""


class MergeForbidden(Exception):
    """The user's role may not merge cases (a 403): only operators and admins do."""


class MergeRefused(Exception):
    """A merge rule says no (a 409 or 422); ``reason`` is a string key, ``ticket`` the case at fault."""

    def __init__(self, reason: str, ticket: str) -> None:
        self.reason, self.ticket = reason, ticket
        super().__init__(f"cannot merge {ticket}: {reason}")


def merge(
    session: Session,
    main: Complaint,
    tickets: Sequence[str],
    *,
    viewer: Viewer,
    user_id: int,
    expected_version: int,
) -> list[Complaint]:
    """Merge the cases ``tickets`` into ``main`` as ``viewer`` (all or none), inside the caller's transaction.

    Raises :class:`MergeForbidden` for a role that may not merge, :class:`lifecycle.CaseChanged`
    when ``main`` is no longer at ``expected_version`` (the page the user saw) or a merged case
    changed meanwhile, and :class:`MergeRefused` naming the first rule broken. Returns the merged cases.
    """
    if viewer.role not in STAFF_ROLES:
        raise MergeForbidden(main.ticket)
    wanted = list(dict.fromkeys(t for t in tickets if t))
    if not wanted:
        raise MergeRefused("merge_none", main.ticket)
    if len(wanted) > MAX_MERGE:
        raise MergeRefused("merge_too_many", main.ticket)
    query = visible_cases(viewer).where(Complaint.ticket.in_([*wanted, main.ticket])).order_by(Complaint.id)
    if session.get_bind().dialect.name == "postgresql":
        # Lock the main case and the chosen ones together, in id order (no deadlock between two merges), and
        # read them again: a merge the other way round that committed meanwhile is seen, not undone.
        query = query.with_for_update().execution_options(populate_existing=True)
    found = {c.ticket: c for c in session.scalars(query)}
    if main.version != expected_version:
        raise lifecycle.CaseChanged(main.ticket, expected_version, main.version)
    _check_open(main)
    if main.ticket in wanted:
        raise MergeRefused("merge_self", main.ticket)
    others = []
    for ticket in wanted:
        other = found.get(ticket)
        if other is None:
            raise MergeRefused("merge_unknown", ticket)
        if other.opd_code != main.opd_code:
            raise MergeRefused("merge_other_opd", ticket)
        _check_open(other)
        others.append(other)
    # A case others were merged into stays a main case: its reporters would otherwise follow a chain.
    parent = session.scalar(
        select(Complaint.merged_into_id).where(Complaint.merged_into_id.in_([o.id for o in others])).limit(1)
    )
    if parent is not None:
        raise MergeRefused("merge_has_merged", next(o.ticket for o in others if o.id == parent))
    actor = f"staff:{user_id}"
    for other in others:
        _merge_one(session, main, other, actor)
    return others


def _check_open(case: Complaint) -> None:
    if case.merged_into_id is not None:
        raise MergeRefused("merge_already", case.ticket)
    if case.status not in open_statuses() or not case.opd_code:
        raise MergeRefused("merge_closed", case.ticket)


def _merge_one(session: Session, main: Complaint, other: Complaint, actor: str) -> None:
    read_version = other.version
    # Compare-and-set as lifecycle.transition does: an action saved on the case since it was read wins.
    result = session.execute(
        update(Complaint)
        .where(Complaint.id == other.id, Complaint.version == read_version, Complaint.merged_into_id.is_(None))
        .values(version=read_version + 1)
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise lifecycle.CaseChanged(other.ticket, read_version)
    set_committed_value(other, "version", read_version + 1)
    other.merged_into_id = main.id
    # The main case's clock counts from now: no escalation or overdue list for the merged one.
    other.step_deadline_at = None
    other.clock_paused_remaining_minutes = None
    lifecycle.note(session, other, actor=actor, action=MERGED_INTO, note=main.ticket)
    lifecycle.note(session, main, actor=actor, action=MERGED, note=other.ticket)
    other.updated_at = main.updated_at = utcnow()


def merged_into(session: Session, main: Complaint) -> list[Complaint]:
    """The cases merged into ``main``, oldest first."""
    return list(
        session.scalars(
            select(Complaint).where(Complaint.merged_into_id == main.id).order_by(Complaint.created_at, Complaint.id)
        )
    )


def main_of(session: Session, case: Complaint) -> Complaint | None:
    """The main case ``case`` was merged into, or None."""
    return session.get(Complaint, case.merged_into_id) if case.merged_into_id else None


def answer_merged(
    session: Session, main: Complaint, *, config: CityConfig, settings: Settings, actor: str
) -> list[str]:
    """Queue ``main``'s approved answer to the reporter of every case merged into it; returns the reply ids.

    Called by the approval in the transaction that closes ``main``. Each merged case gets the
    answer text (and its "publish" choice) and its own reply row through
    :func:`complaints.answers.queue_answer`: on its own channel, with its own ticket and language,
    recorded as a reply of its own case (so its delivery status, failures and resends are its
    own). A reporter who complained by phone must be called back: that case is flagged for an operator.
    """
    ids: list[str] = []
    for other in merged_into(session, main):
        other.answer_text = main.answer_text
        other.answer_public = main.answer_public
        lifecycle.note(session, other, actor=actor, action=ANSWER_FROM_MAIN, note=main.ticket)
        if other.reply_channel == answers.PHONE_CHANNEL:
            attention.flag(
                session,
                other,
                attention.DELIVERY_FAILED,
                actor="system",
                note=f"the answer of {main.ticket}: call the reporter back",
            )
            continue
        ids += answers.queue_answer(session, other, config=config, settings=settings)
    return ids
