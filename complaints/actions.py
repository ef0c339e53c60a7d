"""What staff do to a case from the console: one function per action, each one transaction's work.

The console (``gateway/console/case_actions.py``) parses a form into an :class:`ActionRequest`
and calls :func:`perform`; this module checks who may do it (role, the user's OPD), moves the
case through :func:`complaints.lifecycle.transition` (the transition table and the optimistic
version check), writes the notes and queues what must leave (a reason to the citizen, the
answer, the OPD's notice). It never sends anything itself: it returns the reply ids for the
``send_reply`` actor, which the caller hands to the queue after the commit.

The form contract (field names) the case page renders and the POST handler reads:

=====================  =========================================================
action                 fields
=====================  =========================================================
``verify``             –
``dispose``            ``opd``
``reroute``            ``opd``, ``reason`` (required)
``return_to_citizen``  ``reason_template`` (a key of :func:`return_reasons`), ``reason`` (edited text)
``accept``             –
``return_to_operator`` ``reason`` (required)
``follow_up``          ``note`` (required), ``photos`` (files, optional)
``note``               ``note`` (required), ``photos`` (OPD only; files, optional)
``answer``             ``answer`` (required)
``receive_answer``     –
``send_back``          ``note`` (required)
``approve``            ``answer`` (the edited text, required), ``publish`` ("1" to publish),
                       ``phone_note`` (required when the citizen is answered by phone)
=====================  =========================================================

Every form also carries ``csrf_token``, ``version`` (the case version the page showed) and
``lang``; the submit button is ``<button name="action" value="...">``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from complaints import lifecycle
from complaints.models import Complaint
from complaints.queries import STAFF_ROLES, Viewer
from config.model import CityConfig

NOTE = "note"
"""Not a move in the transition table: a note (OPD follow-up while working, staff internal remark)."""

NOTE_STATUSES_OPD: tuple[str, ...] = ("dianalisa", "ditindaklanjuti")
"""Where an OPD user may add a note without moving the case (follow-ups after the first)."""


@dataclass(frozen=True, slots=True)
class Upload:
    """A file posted with a form (a follow-up photo), already read into memory (size-limited)."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """One submitted action form, as plain values."""

    action: str
    version: int
    fields: Mapping[str, str] = field(default_factory=dict)
    uploads: Sequence[Upload] = ()


@dataclass(frozen=True, slots=True)
class ReturnReason:
    """A reason template for returning a complaint to the citizen (editable before it is sent)."""

    key: str
    label: str
    text: str


class ActionInvalid(Exception):
    """The form is incomplete or wrong (a 422 with ``errors``: field -> message key)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(", ".join(f"{k}: {v}" for k, v in self.errors.items()))


class ActionForbidden(Exception):
    """The user's role may never take this action (a 403)."""


def available(complaint: Complaint, viewer: Viewer) -> tuple[str, ...]:
    """The actions ``viewer`` may take on ``complaint`` now: the table's moves for the role, plus
    :data:`NOTE` where notes are allowed. An OPD user gets nothing on another OPD's case."""
    if viewer.role == "opd" and complaint.opd_code != viewer.opd_code:
        return ()
    role = "operator" if viewer.role in STAFF_ROLES else viewer.role
    moves = lifecycle.allowed_actions(complaint, role)
    if viewer.role in STAFF_ROLES or complaint.status in NOTE_STATUSES_OPD:
        moves = (*moves, NOTE)
    return moves


def return_reasons(config: CityConfig, lang: str) -> tuple[ReturnReason, ...]:
    """The reason templates an operator picks from when returning a complaint to the citizen."""
    return ()
