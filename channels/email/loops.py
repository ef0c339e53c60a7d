"""Mail we must never answer automatically (RFC 3834), and bounces of our own replies (RFC 3464).

An acknowledgement sent to an out-of-office robot, a mailing list or a bounce starts a mail
loop or spams a list. :func:`detect_auto` says why a mail is automatic; :func:`find_delivery_failure`
reads a delivery status notification so the reply it reports on can be marked failed.

- RFC 3834 section 2 and 5: Auto-Submitted; do not answer bounces, lists or "auto-replied" mail.
- RFC 3464 / RFC 6522: multipart/report; report-type=delivery-status, message/delivery-status
  fields (Original-Envelope-Id, Action, Status, Diagnostic-Code), text/rfc822-headers.
- Microsoft [MS-OXCMAIL] 2.1.3.2.20, ``X-Auto-Response-Suppress``
  (https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxcmail/ced68690-498a-4567-9d14-5c01f974d8b1):
  Exchange sets ``All`` on its automatic replies, and a sender that sets ``All``, ``OOF`` or
  ``AutoReply`` asks not to be auto-answered. ``DR``/``NDR``/``RN``/``NRN`` alone only refuse
  delivery and read reports, which we never send.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from channels.email.decode import decode_bytes, message_ids, one_line, part_type, raw_header

__all__ = ["AutoKind", "DeliveryFailure", "detect_auto", "find_delivery_failure"]

AutoKind = Literal["auto_submitted", "bounce", "mailing_list", "noreply", "auto_reply"]

_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_NOREPLY = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?)(?:[-+_.].*)?$"
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:auto\s*:|automatic reply|auto[- ]?reply|autoresponse|out of (?:the )?office|balasan otomatis"
    r"|balas otomatis|jawaban otomatis|di luar kantor)",
    re.IGNORECASE,
)
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Auto-Reply")
_SUPPRESS_TOKENS = frozenset({"all", "oof", "autoreply"})
_LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")
_REPORT_PARTS = frozenset(
    {"message/delivery-status", "message/global-delivery-status", "text/rfc822-headers", "message/rfc822-headers"}
)
_STATUS_CODE = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")
_MAX_PARTS = 200


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """What a bounce says about a mail we sent (RFC 3464 fields, single-line text)."""

    original_message_id: str | None
    """Message-ID of the mail that bounced (from the returned headers, else Original-Envelope-Id)."""
    original_envelope_id: str | None
    action: str
    """"failed", "delayed" (a warning; still trying), "delivered"...; the worst one reported."""
    status: str | None = None
    """Enhanced status code such as "5.1.1" (RFC 3463)."""
    diagnostic: str | None = None
    recipient: str | None = None


def _value(msg: Message, name: str, problems: list[str]) -> str:
    return one_line(raw_header(msg, name, problems), 1000)


def _local_part(address: str | None) -> str:
    return address.rpartition("@")[0].lower() if address else ""


def _report_type(msg: Message) -> str:
    try:
        return str(msg.get_param("report-type") or "").lower()
    except Exception:  # noqa: BLE001 - untrusted input
        return ""


def detect_auto(
    msg: Message, *, from_address: str | None, reply_to: str | None, subject: str, problems: list[str]
) -> AutoKind | None:
    """Why ``msg`` must get no automatic reply, or None when it is a person writing.

    Checked in this order, the first match wins: ``bounce`` (null Return-Path, MAILER-DAEMON or
    postmaster sender, a delivery-status report), ``auto_submitted`` (Auto-Submitted other
    than "no", or any other multipart/report such as a read receipt), ``auto_reply``
    (X-Autoreply-style headers, Microsoft's X-Auto-Response-Suppress, Precedence: auto_reply,
    an "Automatic reply:"/"Out of Office"/"Balasan otomatis" subject), ``mailing_list``
    (List-Id, List-Unsubscribe, List-Post, Precedence bulk/list/junk), ``noreply`` (From or
    Reply-To local part noreply, do-not-reply...).
    """
    ctype = part_type(msg)
    return_path = raw_header(msg, "Return-Path", problems)
    if return_path is not None and one_line(return_path).strip("<> ").lower() in ("", "mailer-daemon"):
        return "bounce"
    if _local_part(from_address) in _BOUNCE_SENDERS:
        return "bounce"
    if ctype == "multipart/report" and _report_type(msg) in ("delivery-status", "global-delivery-status"):
        return "bounce"
    auto_submitted = _value(msg, "Auto-Submitted", problems).split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return "auto_submitted"
    if ctype == "multipart/report":
        return "auto_submitted"
    precedence = _value(msg, "Precedence", problems).lower()
    suppress = {t.strip().lower() for t in _value(msg, "X-Auto-Response-Suppress", problems).split(",")}
    if (
        any(_value(msg, name, problems).lower() not in ("", "no") for name in _AUTO_REPLY_HEADERS)
        or suppress & _SUPPRESS_TOKENS
        or precedence == "auto_reply"
        or _AUTO_SUBJECT.match(subject)
    ):
        return "auto_reply"
    if precedence in ("bulk", "list", "junk") or any(_value(msg, name, problems) for name in _LIST_HEADERS):
        return "mailing_list"
    if any(_NOREPLY.match(_local_part(a)) for a in (from_address, reply_to) if a):
        return "noreply"
    return None


def _walk(msg: Message) -> list[Message]:
    """All parts of ``msg`` (depth first, at most a couple of hundred), never raising."""
    out: list[Message] = []
    stack = [msg]
    while stack and len(out) < _MAX_PARTS:
        part = stack.pop()
        out.append(part)
        try:
            payload = part.get_payload()
        except Exception:  # noqa: BLE001 - untrusted input
            continue
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return out


def _status_blocks(part: Message) -> list[Message]:
    """The field blocks of a message/delivery-status part (the stdlib parses them into
    messages; a part it could not split, e.g. base64-encoded, is parsed here)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    data = part.get_payload(decode=True)
    text = decode_bytes(data, "utf-8")[0] if isinstance(data, bytes) else str(payload or "")
    parser = email.parser.HeaderParser(policy=email.policy.default)
    return [parser.parsestr(block) for block in re.split(r"\r?\n\s*\r?\n", text) if block.strip()]


def _returned_message_id(part: Message, problems: list[str]) -> str | None:
    """Message-ID of the returned original in a message/rfc822 or *rfc822-headers part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        inner = next((p for p in payload if isinstance(p, Message)), None)
    else:
        data = part.get_payload(decode=True)
        text = decode_bytes(data, "utf-8")[0] if isinstance(data, bytes) else str(payload or "")
        inner = email.parser.HeaderParser(policy=email.policy.default).parsestr(text)
    if inner is None:
        return None
    ids = message_ids(raw_header(inner, "Message-ID", problems))
    return ids[0] if ids else None


_ACTION_RANK = {"failed": 0, "delayed": 1}


def find_delivery_failure(msg: Message, problems: list[str]) -> DeliveryFailure | None:
    """Read a bounce: the original Message-ID and the worst recipient's action, status and
    diagnostic. A bounce without delivery-status fields (old MTAs send plain text plus the
    original) counts as "failed" when it returns the original's headers. None when nothing
    names the mail that bounced."""
    try:
        parts = _walk(msg)
        original_id: str | None = None
        envelope_id: str | None = None
        recipients: list[Message] = []
        for part in parts[1:]:
            ctype = part_type(part)
            if ctype in ("message/delivery-status", "message/global-delivery-status"):
                blocks = _status_blocks(part)
                if blocks:
                    envelope_id = _value(blocks[0], "Original-Envelope-Id", problems)[:250].strip("<>") or None
                    recipients.extend(b for b in blocks[1:] if raw_header(b, "Action", problems))
            elif ctype in _REPORT_PARTS or ctype == "message/rfc822":
                original_id = original_id or _returned_message_id(part, problems)
    except Exception:  # noqa: BLE001 - a broken report is a problem to note, not a crash
        problems.append("delivery status report unreadable")
        return None
    if not recipients:
        if original_id is None:
            return None
        return DeliveryFailure(original_message_id=original_id, original_envelope_id=None, action="failed")
    worst = min(recipients, key=lambda b: _ACTION_RANK.get(_value(b, "Action", problems).lower(), 9))
    status_match = _STATUS_CODE.search(_value(worst, "Status", problems))
    diagnostic = _value(worst, "Diagnostic-Code", problems)
    if ";" in diagnostic[:20]:
        diagnostic = diagnostic.split(";", 1)[1].strip()  # "smtp; 550 ..." -> "550 ..."
    recipient = _value(worst, "Final-Recipient", problems) or _value(worst, "Original-Recipient", problems)
    return DeliveryFailure(
        original_message_id=original_id or envelope_id,
        original_envelope_id=envelope_id,
        action=_value(worst, "Action", problems).lower()[:20] or "failed",
        status=status_match.group(0) if status_match else None,
        diagnostic=diagnostic[:300] or None,
        recipient=(recipient.split(";", 1)[-1].strip()[:320] or None) if recipient else None,
    )
