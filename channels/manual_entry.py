"""Manual entry (SOP channels "Call center" and "Surat kabar"): an operator types in a complaint.

A complaint received by telephone or printed in a newspaper has no provider and no webhook:
the console's form (gateway/console/manual.py) posts the fields and :func:`parse_entry` turns
them into an :class:`Intake` without any I/O, so it is tested on plain data. The identity
fields and their checks are the web form's (:mod:`channels.web_form`, ``check_identity``): a
case entered by hand meets the same SOP step 3 as one a citizen typed.

The operator chooses how the citizen is answered: by SMS to the phone (through the SMS
provider that answers non-SMS citizens), by e-mail, or by telephone. Answering by telephone
sends nothing: :class:`PhoneAnswer` is the outbound adapter of the ``phone`` channel and marks
a reply as handed over, for the operator to read out and confirm with a note on the case.

Each rendered form carries a random ``submission_id``; the intake's external id is
``manual:<submission_id>``, so a double submit stores one complaint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from channels.base import OutboundReply, SendResult
from channels.web_form import (
    IDENTITY_FIELDS,
    MAX_TEXT_CHARS,
    FormErrors,
    identity_from_fields,
    valid_submission_id,
)
from config.regions import Regions
from config.settings import Settings
from normalizer.envelope import Intake, ReplyRoute
from normalizer.identity import check_identity, normalize_email, normalize_phone

PROVIDER = "manual"
SOURCES = ("call_centre", "newspaper")
ANSWER_WAYS = ("sms", "email", "phone")
MAX_SUBJECT_CHARS = 200
MAX_NEWSPAPER_CHARS = 100

# Form field names of the identity (the web form's, so both forms read alike) by Identity attribute.
FORM_FIELD = {attr: name for name, attr in IDENTITY_FIELDS.items()}
TEXT_FIELDS = ("source", "newspaper_name", "newspaper_date", *IDENTITY_FIELDS, "subject", "text", "answer_by")
"""Every field of the form, in page order (the error summary follows it)."""


@dataclass(frozen=True, slots=True)
class AnswerRoutes:
    """Which ways of answering this gateway can use: the SMS provider (None: no SMS) and e-mail."""

    sms_provider: str | None
    email: bool


def parse_entry(
    fields: dict[str, str],
    *,
    regions: Regions,
    routes: AnswerRoutes,
    today: date,
    entered_by: int,
) -> Intake:
    """The intake for one manual entry, or :class:`FormErrors` (form field -> error key) for all
    that is wrong with it at once.

    ``today`` is the date in Kota Bogor (a newspaper date after it is refused); ``entered_by`` the
    staff user's id, kept in the case's ``source_details`` with the newspaper's name and date.
    """
    errors: dict[str, str] = {}
    source = (fields.get("source") or "").strip()
    if source not in SOURCES:
        errors["source"] = "source_invalid"
    details: dict[str, Any] = {"source": source, "entered_by": entered_by}
    if source == "newspaper":
        details.update(_newspaper(fields, today, errors))
    identity = identity_from_fields(fields)
    for problem in check_identity(identity, regions=regions, today=today):
        name = FORM_FIELD[problem.field]
        errors.setdefault(name, f"{name}_{problem.code}")
    subject = " ".join((fields.get("subject") or "").split())
    if len(subject) > MAX_SUBJECT_CHARS:
        errors["subject"] = "subject_too_long"
    text = (fields.get("text") or "").strip()
    if not text:
        errors["text"] = "text_missing"
    elif len(text) > MAX_TEXT_CHARS:
        errors["text"] = "text_too_long"
    route = _reply_route(fields, routes, errors)
    if errors or route is None:
        raise FormErrors(errors)
    submission_id = valid_submission_id(fields.get("submission_id"))
    return Intake(
        channel=source,
        provider=PROVIDER,
        # Without a valid token the normalizer falls back to a content fingerprint.
        external_id=f"manual:{submission_id}" if submission_id else None,
        sender=route.address,
        text=text,
        reply_route=route,
        identity=identity,
        subject=subject or None,
        language="id",
        kind="complaint",
        source_details=details,
    )


def _newspaper(fields: dict[str, str], today: date, errors: dict[str, str]) -> dict[str, str]:
    """The newspaper's name and date (ISO, as ``<input type=date>`` sends it), checked."""
    name = " ".join((fields.get("newspaper_name") or "").split())
    if not name:
        errors["newspaper_name"] = "newspaper_name_missing"
    elif len(name) > MAX_NEWSPAPER_CHARS:
        errors["newspaper_name"] = "newspaper_name_too_long"
    raw = (fields.get("newspaper_date") or "").strip()
    published: date | None = None
    if not raw:
        errors["newspaper_date"] = "newspaper_date_missing"
    else:
        try:
            published = date.fromisoformat(raw)
        except ValueError:
            errors["newspaper_date"] = "newspaper_date_invalid"
        else:
            if published > today:
                errors["newspaper_date"] = "newspaper_date_future"
    return {"newspaper_name": name, "newspaper_date": published.isoformat() if published else raw}


def _reply_route(fields: dict[str, str], routes: AnswerRoutes, errors: dict[str, str]) -> ReplyRoute | None:
    """How the citizen is answered; the contact it needs must be on the form and valid."""
    way = (fields.get("answer_by") or "").strip()
    phone = normalize_phone((fields.get("telp") or "").strip())
    email = normalize_email((fields.get("email") or "").strip())
    if way not in ANSWER_WAYS:
        errors["answer_by"] = "answer_by_invalid"
        return None
    if way == "email":
        if not routes.email:
            errors["answer_by"] = "answer_by_no_email"
        elif email is None:
            errors.setdefault("email", "email_missing" if not (fields.get("email") or "").strip() else "email_invalid")
        return ReplyRoute(channel="email", address=email, provider="email") if routes.email and email else None
    if phone is None:
        return None  # the phone number's own error is already on the form (it is required)
    if way == "sms":
        if routes.sms_provider is None:
            errors["answer_by"] = "answer_by_no_sms"
            return None
        return ReplyRoute(channel="sms", address=phone, provider=routes.sms_provider)
    return ReplyRoute(channel="phone", address=phone, provider=None)


def answer_routes(settings: Settings, sms_provider: str | None) -> AnswerRoutes:
    """The ways of answering that ``settings`` switch on (``sms_provider``: config.settings.outbound_sms_provider)."""
    return AnswerRoutes(sms_provider=sms_provider, email="email" in settings.check_providers())


class PhoneAnswer:
    """Outbound adapter of the ``phone`` channel: the operator answers by telephone, nothing is sent."""

    name = "phone"
    idempotent_sends = True  # nothing leaves the gateway, so a repeat reaches nobody twice
    channel = "phone"
    path = None
    methods: tuple[str, ...] = ()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, reply: OutboundReply) -> SendResult:
        """Deliver nothing: the text stays on the case page for the operator to read out on the phone."""
        return SendResult(provider_message_id=None)

    async def close(self) -> None:
        """Nothing to release."""
