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
``verify``             ``complaint_class`` (a code of complaint_classes.yaml; empty: the proposal),
                       ``rahasia`` / ``anonim`` ("1" adds that protection; issue 14)
``dispose``            ``opd``
``reroute``            ``opd``, ``reason`` (required)
``return_to_citizen``  ``reason_template`` (a key of :func:`return_reasons`), ``reason`` (edited text),
                       ``institution`` (with ``bukan_wewenang_pemkot``: a code of institutions.yaml;
                       empty: the first whose keywords are in the text)
``accept``             –
``return_to_operator`` ``reason`` (required)
``follow_up``          ``note`` (required), ``photos`` (files, optional)
``note``               ``note`` (required), ``photos`` (OPD only; files, optional)
``answer``             ``answer`` (required)
``receive_answer``     –
``send_back``          ``note`` (required)
``reopen``             ``note`` (required; for the OPD) — only on a case flagged ``reopen_requested``
``approve``            ``answer`` (the edited text, required), ``publish`` ("1" to publish),
                       ``phone_note`` (required when the citizen is answered by phone)
=====================  =========================================================

Every form also carries ``csrf_token``, ``version`` (the case version the page showed) and
``lang``; the submit button is ``<button name="action" value="...">``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy.orm import Session

from complaints import (
    answers,
    complaint_class,
    confidential,
    lifecycle,
    merging,
    notify,
    rating,
    sla,
    store,
    transitions,
)
from complaints.models import CaseNote, Complaint
from complaints.queries import STAFF_ROLES, Viewer
from complaints.replies import render_reply
from config.institutions import Institution
from config.model import DEFAULT_LANGUAGE, CityConfig
from config.settings import Settings
from normalizer.envelope import utcnow

log = structlog.get_logger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

NOT_CITY_AUTHORITY = "bukan_wewenang_pemkot"
"""The return reason for a matter outside the city's authority: the citizen is told who can handle it."""

NOTE = "note"
"""Not a move in the transition table: a note (OPD follow-up while working, staff internal remark)."""

NOTE_STATUSES_OPD: tuple[str, ...] = ("dianalisa", "ditindaklanjuti")
"""Where an OPD user may add a note without moving the case (follow-ups after the first)."""

OPERATOR_ACTIONS: frozenset[str] = frozenset(
    {"verify", "dispose", "reroute", "return_to_citizen", "receive_answer", "send_back", "approve", "reopen", NOTE}
)
"""What operators (and admins) may ever do from the console; anything else of the contract is a 403."""

OPD_ACTIONS: frozenset[str] = frozenset({"accept", "return_to_operator", "follow_up", "answer", NOTE})
"""What an OPD user may ever do (on their own OPD's cases)."""

ACTIONS: frozenset[str] = OPERATOR_ACTIONS | OPD_ACTIONS
"""Every action name of the form contract (the module docstring)."""

MAX_PHOTOS = 5
"""Photos per follow-up: enough to show the work, few enough to keep one form post small."""

MAX_TEXT_CHARS = 10_000
"""Longest reason, note or answer: an OPD answer can be a few paragraphs, not a document."""

# Magic numbers of the photo types staff may attach; the browser's declared type is not trusted.
# (The same bytes as channels/web_form.py, which this layer may not import.)
_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"

StoreFile = Callable[[bytes], str]
"""Stores bytes in the attachment storage and returns their SHA-256 (blocking: runs in the action's thread)."""


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
class ActionOutcome:
    """What an action left to do after its commit: queue messages, and the flash key for the case page."""

    enqueue: dict[str, list[str]]
    """Actor name -> ids (``send_reply``: reply ids; ``route_to_opd``: complaint ids)."""
    flash: str
    """The console string key telling the user what happened (``action_done_<action>``)."""


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
    :data:`NOTE` where notes are allowed. An OPD user gets nothing on another OPD's case, and
    nobody anything on a case merged into another (complaints/merging.py)."""
    if viewer.role == "opd" and complaint.opd_code != viewer.opd_code:
        return ()
    if complaint.merged_into_id is not None:
        return ()  # issue 10: a merged case follows its main case; nobody moves it on its own
    role = "operator" if viewer.role in STAFF_ROLES else viewer.role
    moves = lifecycle.allowed_actions(complaint, role)
    if complaint.attention != rating.REOPEN_REQUESTED:
        # Issue 14: staff reopen a closed case only to decide on a citizen's second TIDAK PUAS.
        moves = tuple(m for m in moves if m != "reopen")
    if viewer.role in STAFF_ROLES or complaint.status in NOTE_STATUSES_OPD:
        moves = (*moves, NOTE)
    return moves


def return_reasons(config: CityConfig, lang: str) -> tuple[ReturnReason, ...]:
    """The reason templates an operator picks from when returning a complaint to the citizen.

    In ``lang`` when its reply file has them, else the Indonesian ones (as for reply texts).
    """
    reasons = config.replies.of(lang).return_reasons or config.replies.of(DEFAULT_LANGUAGE).return_reasons
    return tuple(ReturnReason(key, entry["label"], entry["text"]) for key, entry in reasons.items())


def perform(
    session: Session,
    complaint: Complaint,
    *,
    user_id: int,
    viewer: Viewer,
    request: ActionRequest,
    config: CityConfig,
    settings: Settings,
    store_file: StoreFile,
) -> ActionOutcome:
    """Take ``request.action`` on ``complaint`` as ``viewer`` inside the caller's transaction.

    Raises :class:`ActionForbidden` when the role may never take the action,
    :class:`lifecycle.TransitionRefused` when it may but not from the case's status,
    :class:`lifecycle.CaseChanged` when the form's version is not the case's, and
    :class:`ActionInvalid` for missing or wrong fields. Nothing is sent here: the returned
    :class:`ActionOutcome` names what to queue after the commit.
    """
    action = request.action
    if action not in ACTIONS:
        raise ActionInvalid({"action": "action_unknown"})
    allowed = OPERATOR_ACTIONS if viewer.role in STAFF_ROLES else OPD_ACTIONS if viewer.role == "opd" else frozenset()
    if action not in allowed:
        raise ActionForbidden(action)
    if viewer.role == "opd" and (not viewer.opd_code or complaint.opd_code != viewer.opd_code):
        raise ActionForbidden(action)  # the console 404s first; this guards any other caller
    role = "operator" if viewer.role in STAFF_ROLES else "opd"
    possible = available(complaint, viewer)
    # One click approves an answer straight from "dijawab": receive it and approve it together.
    if action == "approve" and lifecycle.can(complaint, "receive_answer", role):
        possible = (*possible, "approve")
    if action not in possible:
        raise lifecycle.TransitionRefused(complaint.ticket, complaint.status, _target(action), role)
    if request.version != complaint.version:
        raise lifecycle.CaseChanged(complaint.ticket, request.version, complaint.version)
    ctx = _Context(session, complaint, user_id, viewer, role, request, config, settings, store_file)
    enqueue = _HANDLERS[action](ctx)
    log.info("case_action_taken", action=action, ticket=complaint.ticket, user_id=user_id, status=complaint.status)
    return ActionOutcome(enqueue={k: v for k, v in enqueue.items() if v}, flash=f"action_done_{action}")


# --------------------------------------------------------------------------- the actions


@dataclass(slots=True)
class _Context:
    session: Session
    complaint: Complaint
    user_id: int
    viewer: Viewer
    role: str
    request: ActionRequest
    config: CityConfig
    settings: Settings
    store_file: StoreFile

    @property
    def actor(self) -> str:
        return f"staff:{self.user_id}"

    def text(self, name: str, *, required: bool = True) -> str:
        """A form field trimmed, with Windows line ends folded; ActionInvalid when required and empty."""
        value = (self.request.fields.get(name) or "").replace("\r\n", "\n")
        # Control characters (a NUL is refused by PostgreSQL) never belong in a note or an answer.
        value = _CONTROL.sub("", value).strip()
        if required and not value:
            raise ActionInvalid({name: "required"})
        if len(value) > MAX_TEXT_CHARS:
            raise ActionInvalid({name: "too_long"})
        return value

    def move(self, to_status: str, action: str, *, note: str | None = None, first: bool = True) -> None:
        """The status change; only the first move of an action checks the form's version."""
        lifecycle.transition(
            self.session,
            self.complaint,
            to_status,
            sop=self.config.sop,
            calendar=sla.calendar_of(self.config.calendar),  # part-clock
            actor=self.actor,
            role=self.role,
            action=action,
            note=note,
            expected_version=self.request.version if first else None,
        )

    def add_note(
        self, kind: str, text: str, *, internal: bool = True, attachments: Sequence[Mapping[str, object]] = ()
    ) -> None:
        self.session.add(
            CaseNote(
                complaint_id=self.complaint.id,
                at=utcnow(),
                author_id=self.user_id,
                author_role=self.viewer.role,
                kind=kind,
                text=text,
                attachments={"files": list(attachments)} if attachments else None,
                internal=internal,
            )
        )

    def reply(self, template: str, kind: str, *, sms_segments: int = 1, **params: object) -> list[str]:
        """Queue a reply to the citizen on their channel; once per kind and case version (a re-route tells again)."""
        c = self.complaint
        text = render_reply(
            self.config.replies,
            template,
            c.language,
            channel=c.reply_channel,
            sms_segments=sms_segments,
            ticket=c.ticket,
            **params,
        )
        reply_id = store.queue_case_reply(self.session, c, kind, text, round_id=str(c.version))
        return [reply_id] if reply_id else []

    def opd_notice(self) -> list[str]:
        reply_id = notify.queue_opd_notice(self.session, self.complaint, config=self.config, settings=self.settings)
        return [reply_id] if reply_id else []

    def photos(self) -> list[dict[str, object]]:
        """Check and store the posted photos: JPEG/PNG by magic number, each within the upload limit, at most 5."""
        uploads = [u for u in self.request.uploads if u.data]
        if not uploads:
            return []
        if len(uploads) > MAX_PHOTOS:
            raise ActionInvalid({"photos": "photos_too_many"})
        files: list[dict[str, object]] = []
        for upload in uploads:
            if len(upload.data) > self.settings.max_upload_bytes:
                raise ActionInvalid({"photos": "photo_too_large"})
            content_type = _image_type(upload.data)
            if content_type is None:
                raise ActionInvalid({"photos": "photo_type"})
            files.append(
                {
                    "sha256": hashlib.sha256(upload.data).hexdigest(),
                    "size": len(upload.data),
                    "content_type": content_type,
                    "filename": upload.filename,
                }
            )
        # Stored only once every photo passed: a refused form leaves no stray files behind.
        for upload in uploads:
            self.store_file(upload.data)
        return files


def _image_type(data: bytes) -> str | None:
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_PNG):
        return "image/png"
    return None


def _target(action: str) -> str:
    """The status an action leads to (for the refusal's wording)."""
    return next((t.to_status for t in transitions.TABLE if t.action == action), action)


def _no_uploads(ctx: _Context) -> None:
    if any(u.data for u in ctx.request.uploads):
        raise ActionInvalid({"photos": "photos_not_allowed"})


def _verify(ctx: _Context) -> dict[str, list[str]]:
    # The operator confirmed the identity by hand: the automatic check's findings no longer hold.
    ctx.complaint.identity_problems = None
    # Issue 14: the operator picks the class (the form proposes one); its deadline runs from receipt.
    code = ctx.text("complaint_class", required=False) or complaint_class.suggest(ctx.complaint, ctx.config)
    if ctx.config.classes.get(code) is None:
        raise ActionInvalid({"complaint_class": "class_unknown"})
    complaint_class.assign(ctx.complaint, code, ctx.config)
    ctx.move(lifecycle.VERIFIED, "verify", note=code)
    # Issue 14: the operator may add a protection the citizen did not ask for (never remove one).
    wanted = [flag for flag in confidential.FLAGS if ctx.request.fields.get(flag) == "1"]
    confidential.add_protection(ctx.session, ctx.complaint, wanted, actor=ctx.actor)
    return {"route_to_opd": [ctx.complaint.id]}


def _opd_field(ctx: _Context) -> str:
    code = ctx.text("opd")
    if ctx.config.opd(code) is None:
        raise ActionInvalid({"opd": "opd_unknown"})
    return code


def _disposed_to(ctx: _Context, code: str) -> dict[str, list[str]]:
    opd = ctx.config.opd(code)
    assert opd is not None  # noqa: S101 - checked by _opd_field
    return {"send_reply": [*ctx.reply("disposed", "disposed", opd=opd.short_name), *ctx.opd_notice()]}


def _dispose(ctx: _Context) -> dict[str, list[str]]:
    code = _opd_field(ctx)
    ctx.complaint.opd_code = code
    ctx.move(lifecycle.DISPOSED, "dispose", note=code)
    return _disposed_to(ctx, code)


def _reroute(ctx: _Context) -> dict[str, list[str]]:
    code = _opd_field(ctx)
    reason = ctx.text("reason")
    previous = ctx.complaint.opd_code
    if code == previous:
        raise ActionInvalid({"opd": "opd_same"})
    ctx.complaint.opd_code = code
    ctx.move(lifecycle.DISPOSED, "reroute", note=f"{previous or '-'} -> {code}")
    ctx.add_note("reroute_reason", reason)
    return _disposed_to(ctx, code)


def _return_to_citizen(ctx: _Context) -> dict[str, list[str]]:
    template = (ctx.request.fields.get("reason_template") or "").strip()
    # The page lists the reasons in the staff member's language; any configured language's key is fine.
    keys = {key for lang in ctx.config.replies.available for key in ctx.config.replies.of(lang).return_reasons}
    if template and template not in keys:
        raise ActionInvalid({"reason_template": "reason_template_unknown"})
    reason = ctx.text("reason")
    institution = _institution(ctx) if template == NOT_CITY_AUTHORITY else None
    ctx.move(lifecycle.RETURNED_TO_CITIZEN, "return_to_citizen", note=template or None)
    ctx.add_note("return_reason", reason, internal=False)
    if institution is not None:
        # Issue 14: a national matter names, in plain words, the institution that can handle it.
        return {
            "send_reply": ctx.reply(
                "national_matter",
                "national_matter",
                sms_segments=2,
                institution=institution.name,
                contact=institution.contact,
            )
        }
    # Two SMS at most: a reason cut after a few words would leave the citizen guessing.
    return {"send_reply": ctx.reply("returned_by_operator", "returned_by_operator", sms_segments=2, reason=reason)}


def _institution(ctx: _Context) -> Institution | None:
    """The institution the operator picked (``institution``), else the first whose keywords are in the text."""
    code = (ctx.request.fields.get("institution") or "").strip()
    institutions = ctx.config.institutions
    if code:
        picked = institutions.get(code)
        if picked is None:
            raise ActionInvalid({"institution": "institution_unknown"})
        return picked
    return institutions.match(f"{ctx.complaint.subject or ''} {ctx.complaint.text}")


def _accept(ctx: _Context) -> dict[str, list[str]]:
    ctx.move(lifecycle.ANALYSED, "accept")
    return {}


def _return_to_operator(ctx: _Context) -> dict[str, list[str]]:
    reason = ctx.text("reason")
    ctx.move(lifecycle.RETURNED_TO_OPERATOR, "return_to_operator")
    ctx.add_note("return_reason", reason)
    # Issue 14: never a dead end. The citizen hears, in plain words, that the case is being re-routed;
    # the OPD's own reason stays internal.
    opd = ctx.config.opd(ctx.complaint.opd_code)
    return {"send_reply": ctx.reply("rerouting", "rerouting", opd=opd.short_name if opd else "-")}


def _follow_up(ctx: _Context) -> dict[str, list[str]]:
    note = ctx.text("note")
    photos = ctx.photos()
    ctx.move(lifecycle.FOLLOWED_UP, "follow_up")
    ctx.add_note("follow_up", note, attachments=photos)
    return {}


def _note(ctx: _Context) -> dict[str, list[str]]:
    text = ctx.text("note")
    if ctx.viewer.role == "opd":
        ctx.add_note("follow_up", text, attachments=ctx.photos())
        lifecycle.note(ctx.session, ctx.complaint, actor=ctx.actor, action="follow_up_note")
    else:
        _no_uploads(ctx)
        ctx.add_note("internal", text)
        lifecycle.note(ctx.session, ctx.complaint, actor=ctx.actor, action="internal_note")
    return {}


def _answer(ctx: _Context) -> dict[str, list[str]]:
    answer = ctx.text("answer")
    ctx.move(lifecycle.ANSWERED, "answer")
    ctx.complaint.answer_text = answer
    ctx.add_note("answer", answer)
    return {}


def _receive_answer(ctx: _Context) -> dict[str, list[str]]:
    ctx.move(lifecycle.ANSWER_RECEIVED, "receive_answer")
    return {}


def _send_back(ctx: _Context) -> dict[str, list[str]]:
    note = ctx.text("note")
    ctx.move(lifecycle.FOLLOWED_UP, "send_back")
    ctx.add_note("send_back", note)  # for the OPD to read; internal: never the citizen's
    return {}


def _reopen(ctx: _Context) -> dict[str, list[str]]:
    """Issue 14: the operator decides a second TIDAK PUAS by sending the case back to its OPD once more."""
    note = ctx.text("note")
    ctx.move(lifecycle.FOLLOWED_UP, "reopen")
    c = ctx.complaint
    c.reopen_count += 1
    c.closed_at = None
    c.attention = None  # the decision is the answer to the flag
    ctx.add_note("send_back", note)  # for the OPD to read; internal: never the citizen's
    return {}


def _approve(ctx: _Context) -> dict[str, list[str]]:
    c = ctx.complaint
    answer = ctx.text("answer")
    by_phone = c.reply_channel == "phone"
    phone_note = ctx.text("phone_note", required=by_phone)
    first = True
    if c.status == lifecycle.ANSWERED:
        ctx.move(lifecycle.ANSWER_RECEIVED, "receive_answer")
        first = False
    ctx.move(lifecycle.CLOSED, "approve", first=first)
    c.answer_text = answer
    c.answer_public = ctx.request.fields.get("publish") == "1"
    # issue 10: the reporters of the cases merged into this one get the answer on their own channels.
    merged = merging.answer_merged(ctx.session, c, config=ctx.config, settings=ctx.settings, actor=ctx.actor)
    if by_phone:
        # A call-centre complaint is answered by calling back: the note records the call; nothing is sent.
        ctx.add_note("phone_answer", phone_note)
        return {"send_reply": merged}
    return {"send_reply": answers.queue_answer(ctx.session, c, config=ctx.config, settings=ctx.settings) + merged}


_HANDLERS: dict[str, Callable[[_Context], dict[str, list[str]]]] = {
    "verify": _verify,
    "dispose": _dispose,
    "reroute": _reroute,
    "return_to_citizen": _return_to_citizen,
    "accept": _accept,
    "return_to_operator": _return_to_operator,
    "follow_up": _follow_up,
    NOTE: _note,
    "answer": _answer,
    "receive_answer": _receive_answer,
    "send_back": _send_back,
    "reopen": _reopen,
    "approve": _approve,
}
