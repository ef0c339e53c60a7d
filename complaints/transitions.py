"""The SOP as a transition table: which status may follow which, and who may make the move.

Every status change of a case is looked up here (:func:`find`); pages and workers ask
:func:`allowed_actions` / :func:`can` instead of comparing status strings. Read it beside
``SOP.md``: one block per SOP step, in order. Who must act *next* in each status is not here but
in ``sop.yaml`` (its ``actor``), next to the step's time standard.

Roles: ``system`` (the workers), ``operator`` (call centre), ``admin`` (may do whatever an
operator may: every operator row lists it too), ``opd`` (PPID Pembantu of the case's OPD; that the
user belongs to *this* case's OPD is checked by the console, not here).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from config.statuses import (
    ANALYSED,
    ANSWER_RECEIVED,
    ANSWERED,
    CLOSED,
    DISPOSED,
    FOLLOWED_UP,
    RECEIVED,
    RETURNED_TO_CITIZEN,
    RETURNED_TO_OPERATOR,
    TRIAGE,
    VERIFIED,
)

ROLES: tuple[str, ...] = ("system", "operator", "admin", "opd")
NEW = ""
"""The status of a case row not yet opened: its only move is to ``diterima``."""

_SYSTEM = frozenset({"system"})
_STAFF = frozenset({"operator", "admin"})  # admin can do what operators do
_SYSTEM_OR_STAFF = _SYSTEM | _STAFF
_OPD = frozenset({"opd"})


@dataclass(frozen=True, slots=True)
class Transition:
    """One allowed move: from a status to another, named by an action, for the listed roles."""

    from_status: str
    to_status: str
    action: str
    """What the move is called on a button and in code (``verify``, ``dispose``, ``approve``...)."""
    roles: frozenset[str]
    sop_step: int
    """The SOP step (SOP.md) whose work this move is."""


TABLE: tuple[Transition, ...] = (
    # Step 1 → 2: a complaint arrives (a worker) or is typed in from a call or a newspaper (operator).
    Transition(NEW, RECEIVED, "receive", _SYSTEM_OR_STAFF, 2),
    # Step 3: identity checked. The worker checks automatically; an operator may confirm or return.
    Transition(RECEIVED, VERIFIED, "verify", _SYSTEM_OR_STAFF, 3),
    Transition(RECEIVED, RETURNED_TO_CITIZEN, "return_to_citizen", _SYSTEM_OR_STAFF, 3),
    Transition(VERIFIED, RETURNED_TO_CITIZEN, "return_to_citizen", _STAFF, 3),
    # Step 3 return path: the citizen sent what was missing, the case is checked again.
    Transition(RETURNED_TO_CITIZEN, VERIFIED, "recheck", _SYSTEM_OR_STAFF, 3),
    # Step 3 → 4: sent to an OPD, by the routing worker or the operator; unclear cases go to triage.
    Transition(VERIFIED, DISPOSED, "dispose", _SYSTEM_OR_STAFF, 4),
    Transition(VERIFIED, TRIAGE, "to_triage", _SYSTEM, 3),
    Transition(TRIAGE, DISPOSED, "dispose", _STAFF, 4),
    Transition(TRIAGE, RETURNED_TO_CITIZEN, "return_to_citizen", _STAFF, 3),
    # Step 4 → 5: the OPD accepts the case as its authority, or returns it (step 5 return path).
    Transition(DISPOSED, ANALYSED, "accept", _OPD, 5),
    Transition(DISPOSED, RETURNED_TO_OPERATOR, "return_to_operator", _OPD, 5),
    Transition(ANALYSED, RETURNED_TO_OPERATOR, "return_to_operator", _OPD, 5),
    # Re-route: the operator sends the case to another OPD (a returned one, or any still with an OPD).
    Transition(RETURNED_TO_OPERATOR, DISPOSED, "reroute", _STAFF, 4),
    # Issue 14: the operator confirms an OPD's "bukan wewenang" as a national matter the city cannot
    # handle at all, and returns it to the citizen naming the institution that can (institutions.yaml).
    Transition(RETURNED_TO_OPERATOR, RETURNED_TO_CITIZEN, "return_to_citizen", _STAFF, 3),
    Transition(DISPOSED, DISPOSED, "reroute", _STAFF, 4),
    Transition(ANALYSED, DISPOSED, "reroute", _STAFF, 4),
    Transition(FOLLOWED_UP, DISPOSED, "reroute", _STAFF, 4),
    # Step 6: the OPD follows the complaint up (further notes are notes, not moves).
    Transition(ANALYSED, FOLLOWED_UP, "follow_up", _OPD, 6),
    # Step 7: the OPD sends its answer to the operator.
    Transition(FOLLOWED_UP, ANSWERED, "answer", _OPD, 7),
    # Step 8: the operator receives the answer, or sends it back to the OPD with a note.
    Transition(ANSWERED, ANSWER_RECEIVED, "receive_answer", _STAFF, 8),
    Transition(ANSWERED, FOLLOWED_UP, "send_back", _STAFF, 8),
    Transition(ANSWER_RECEIVED, FOLLOWED_UP, "send_back", _STAFF, 9),
    # Step 9: the operator approves the (edited) answer; it leaves on the citizen's channel; closed.
    Transition(ANSWER_RECEIVED, CLOSED, "approve", _STAFF, 9),
    # Issue 14, close the loop: the citizen's TIDAK PUAS with a reason (through the workers) sends the
    # case back to its OPD's follow-up with a fresh step clock (complaints/rating.py); after a second
    # TIDAK PUAS the operator decides (the console offers it only on a case flagged reopen_requested).
    Transition(CLOSED, FOLLOWED_UP, "reopen", _SYSTEM_OR_STAFF, 6),
)

_BY_MOVE: dict[tuple[str, str], Transition] = {(t.from_status, t.to_status): t for t in TABLE}
if len(_BY_MOVE) != len(TABLE):  # pragma: no cover - a mistake in the table above
    raise RuntimeError("the transition table names one (from, to) move twice")


def statuses() -> frozenset[str]:
    """Every status the table moves cases between (``NEW`` excluded)."""
    return frozenset(s for t in TABLE for s in (t.from_status, t.to_status)) - {NEW}


def find(from_status: str, to_status: str, role: str) -> Transition | None:
    """The row allowing ``role`` to move a case from ``from_status`` to ``to_status``, or None."""
    row = _BY_MOVE.get((from_status, to_status))
    return row if row is not None and role in row.roles else None


def moves_from(status: str, role: str) -> tuple[Transition, ...]:
    """The rows ``role`` may use on a case in ``status``, in table order."""
    return tuple(t for t in TABLE if t.from_status == status and role in t.roles)


def statuses_allowing(action: str, role: str) -> tuple[str, ...]:
    """The statuses from which ``role`` may take ``action`` (for queries: "cases the router may take")."""
    return tuple(dict.fromkeys(t.from_status for t in TABLE if t.action == action and role in t.roles))


def actions(rows: Iterable[Transition]) -> tuple[str, ...]:
    """The distinct action names of ``rows``, in order."""
    return tuple(dict.fromkeys(t.action for t in rows))
