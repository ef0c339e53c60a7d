"""The answer leaves on the channel the complaint came in on (SOP step 9).

Called by the operator's approval (:mod:`complaints.actions`) in the same transaction that
closes the case: the reply rows are queued here and sent by the ``send_reply`` workers, so an
approval never waits for a provider and a provider's failure never loses the answer.

Where the answer goes (:func:`answer_route`):

- SMS, e-mail (threaded into the citizen's own mail), X (DM plus a public "answered" reply to
  the mention), Telegram, WhatsApp, the app (push, and readable in the app API): the
  complaint's own reply route.
- The web form (and a call-centre or newspaper entry answered by SMS or e-mail): e-mail to the
  address given, else SMS to the phone given through :func:`config.settings.outbound_sms_provider`.
  Neither possible: nothing is queued, the case is flagged ``delivery_failed`` for an operator
  (the citizen still reads the answer on ``/lacak/<ticket>``).
- Answered by phone: nothing is queued (the operator's note records the call).

An SMS answer is sent whole as a concatenated SMS of up to ``ANSWER_SMS_MAX_PARTS`` parts;
a longer one is shortened and ends with the tracking link, where the citizen reads it all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints import attention, store
from complaints.models import Complaint, Reply
from complaints.replies import SMS_MULTIPART, SMS_SINGLE, render_reply
from config.model import CityConfig
from config.settings import ConfigurationError, Settings, outbound_sms_provider
from normalizer.envelope import new_id
from normalizer.identity import normalize_email, normalize_phone
from normalizer.text import fit_sms, is_gsm7, sms_segments

ANSWER = attention.ANSWER_KIND
PHONE_CHANNEL = "phone"
"""``reply_channel`` of a complaint answered by a phone call: nothing is sent."""
INDIRECT_CHANNELS = ("web",)
"""Reply channels with no way back of their own: the answer goes by e-mail or SMS instead."""
RESEND_ROUTES = ("email", "sms")
_UNLIMITED_SEGMENTS = 10_000  # render_reply's SMS limit when the text must not be cut


@dataclass(frozen=True, slots=True)
class Route:
    """Where one reply goes: the channel, the provider that sends it, the address, the thread."""

    channel: str
    provider: str | None
    address: str
    thread_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One reply to the citizen as the case page shows it (the address masked)."""

    reply_id: str
    kind: str
    channel: str
    address: str
    status: str
    error: str | None
    created_at: datetime
    sent_at: datetime | None


class ResendInvalid(Exception):
    """The operator's resend form cannot be used (a 422 with ``errors``: field -> message key)."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))


def queue_answer(
    session: Session, complaint: Complaint, *, config: CityConfig, settings: Settings, round_id: str = ""
) -> list[str]:
    """Queue ``complaint.answer_text`` to the citizen; returns the reply ids to hand to ``send_reply``.

    ``round_id`` tells a re-sent answer (another contact chosen after a failed delivery) from
    the first one. An answer already queued for the same round is not queued again. A case
    answered by phone gets nothing; one with no usable route is flagged ``delivery_failed``.
    """
    if complaint.reply_channel == PHONE_CHANNEL:
        return []
    route = answer_route(complaint, settings)
    if route is None:
        attention.flag(
            session,
            complaint,
            attention.DELIVERY_FAILED,
            actor="system",
            note=f"no route for the answer (reply channel {complaint.reply_channel}): read on the tracking page",
        )
        return []
    return _queue(session, complaint, route, config=config, settings=settings, round_id=round_id)


def answer_route(complaint: Complaint, settings: Settings) -> Route | None:
    """Where the answer of ``complaint`` goes, or None when it cannot be sent anywhere."""
    channel = complaint.reply_channel
    if channel in INDIRECT_CHANNELS:
        return _email_route(complaint.email, settings, complaint.subject) or _sms_route(complaint.phone, settings)
    if channel == "email" and complaint.reply_provider is None:
        return _email_route(complaint.reply_address or complaint.email, settings, complaint.subject)
    if channel == "sms" and complaint.reply_provider is None:
        return _sms_route(complaint.reply_address or complaint.phone, settings)
    return Route(
        channel=channel,
        provider=complaint.reply_provider,
        address=complaint.reply_address,
        thread_ref=complaint.reply_thread_ref,
    )


def _email_route(address: str | None, settings: Settings, subject: str | None = None) -> Route | None:
    if not address or not settings.provider_enabled("email"):
        return None
    # No mail of the citizen's to thread under: the answer's subject names their complaint ("Re: <subject> [ticket]").
    thread = json.dumps({"subject": subject}) if subject else None
    return Route(channel="email", provider="email", address=address, thread_ref=thread)


def _sms_route(address: str | None, settings: Settings) -> Route | None:
    if not address:
        return None
    try:
        provider = outbound_sms_provider(settings)
    except ConfigurationError:
        # The start-up check reports the setting; an approval must not fail because of it.
        return None
    return Route(channel="sms", provider=provider, address=address) if provider else None


def _queue(
    session: Session, complaint: Complaint, route: Route, *, config: CityConfig, settings: Settings, round_id: str
) -> list[str]:
    text = answer_text(complaint, route.channel, config=config, settings=settings)
    reply_id = store.queue_reply(
        session,
        dedupe_key=f"{complaint.id}:{ANSWER}" + (f":{round_id}" if round_id else ""),
        kind=ANSWER,
        channel=route.channel,
        provider=route.provider,
        address=route.address,
        thread_ref=route.thread_ref,
        complaint_id=complaint.id,
        inbox_id=complaint.inbox_id,
        text=text,
    )
    return [reply_id] if reply_id else []


def answer_text(complaint: Complaint, channel: str, *, config: CityConfig, settings: Settings) -> str:
    """The answer as sent on ``channel``: the template's wording for it; on SMS fitted to the parts allowed."""
    ticket, answer = complaint.ticket, complaint.answer_text or ""
    if channel != "sms":
        return render_reply(config.replies, ANSWER, complaint.language, channel=channel, ticket=ticket, answer=answer)
    full = render_reply(
        config.replies,
        ANSWER,
        complaint.language,
        channel="sms",
        sms_segments=_UNLIMITED_SEGMENTS,
        ticket=ticket,
        answer=answer,
    )
    link = f"{settings.public_base_url.rstrip('/')}/lacak/{complaint.ticket}"
    return fit_sms_answer(full, link, max(1, settings.answer_sms_max_parts))


def fit_sms_answer(text: str, link: str, max_parts: int) -> str:
    """``text`` whole if it fits ``max_parts`` SMS, else shortened at a word and ended with ``link``."""
    if sms_segments(text) <= max_parts:
        return text
    gsm = is_gsm7(text)
    single, multi = (SMS_SINGLE, SMS_MULTIPART) if gsm else (70, 67)
    capacity = single if max_parts == 1 else multi * max_parts
    budget = capacity - len(link) - 1
    while budget > 0:
        shortened = f"{fit_sms(text, budget, ucs2_limit=budget)} {link}"
        # An escape pair never straddles two parts: give back a character until it fits.
        if sms_segments(shortened) <= max_parts:
            return shortened
        budget -= 1
    return link


# --------------------------------------------------------------------------- delivery status


def deliveries(session: Session, complaint: Complaint) -> list[Delivery]:
    """Every reply sent to the case's citizen, oldest first, with its delivery status (address masked)."""
    rows = session.scalars(select(Reply).where(Reply.complaint_id == complaint.id).order_by(Reply.created_at, Reply.id))
    return [
        Delivery(
            reply_id=r.id,
            kind=r.kind,
            channel=r.channel,
            address=mask_address(r.channel, r.address),
            status=r.status,
            error=r.error,
            created_at=r.created_at,
            sent_at=r.sent_at,
        )
        for r in rows
    ]


def mask_address(channel: str, address: str) -> str:
    """An address as lists show it: ``s***@example.net``, ``+62812****5432``, ``…4321`` for chat ids."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if channel == "sms" or address.startswith("+"):
        return address[:6] + "****" + address[-4:] if len(address) > 10 else "****" + address[-2:]
    return "…" + address[-4:] if len(address) > 4 else address


# --------------------------------------------------------------------------- resend


def resend_answer(
    session: Session,
    complaint: Complaint,
    *,
    via: str,
    address: str | None,
    actor: str,
    config: CityConfig,
    settings: Settings,
) -> list[str]:
    """Queue the answer again by e-mail or SMS (``via``), to ``address`` or the case's own one.

    A new round: the earlier, failed reply stays on record. Clears the ``delivery_failed``
    flag and records who sent it again and how (never the address). Raises
    :class:`ResendInvalid` naming the field at fault.
    """
    typed = (address or "").strip()
    if via == "email":
        chosen = normalize_email(typed) if typed else complaint.email
        if typed and chosen is None:
            raise ResendInvalid({"address": "resend_bad_email"})
        if not chosen:
            raise ResendInvalid({"address": "resend_no_email"})
        route = _email_route(chosen, settings, complaint.subject)
        if route is None:
            raise ResendInvalid({"via": "resend_email_off"})
    elif via == "sms":
        chosen = normalize_phone(typed) if typed else complaint.phone
        if typed and chosen is None:
            raise ResendInvalid({"address": "resend_bad_phone"})
        if not chosen:
            raise ResendInvalid({"address": "resend_no_phone"})
        route = _sms_route(chosen, settings)
        if route is None:
            raise ResendInvalid({"via": "resend_sms_off"})
    else:
        raise ResendInvalid({"via": "resend_bad_via"})
    ids = _queue(session, complaint, route, config=config, settings=settings, round_id=new_id())
    attention.clear(
        session,
        complaint,
        actor=actor,
        action="answer_resent",
        note=f"via {via}" + (" (address typed by the operator)" if typed else ""),
    )
    return ids
