"""The message that returns a complaint whose identity is incomplete (SOP step 3, issue 13).

It tells the citizen what was understood (masked: "NIK ****0003", a name as initials, an address
only as "given"), what is still missing or wrong, and how to complete it by replying with just
that ("Balas: NIK <16 angka>") under the same ticket. Nothing in it identifies the person: the
message may be read on a shared phone, and on SMS it passes the operator's SMS gateway.

On SMS it must fit one message (160 GSM-7 characters) where possible: when the whole message is
too long, the "understood" part goes first, then the reasons next to the missing fields; only
then does :func:`complaints.replies.render_reply` shorten it at a word.
"""

from __future__ import annotations

from collections.abc import Sequence

from complaints.replies import render_reply
from config.model import Replies
from normalizer.envelope import Identity
from normalizer.text import sms_segments

__all__ = ["identity_missing_reply", "masked_identity"]

FIELDS = ("nik", "name", "address", "phone", "email")
# Long enough to be told apart from another number, too short to identify anyone.
VISIBLE_DIGITS = 4


def masked_identity(identity: Identity, skip: Sequence[str] = ()) -> list[tuple[str, str | None]]:
    """The fields of ``identity`` that are present, each with a masked value (None: shown as a label only).

    NIK and phone keep their last four digits (``****0003``), a name its initials (``S.A.``), an
    e-mail its first letter and domain; an address shows nothing of itself. Fields in ``skip``
    (the wrong ones) are left out.
    """
    shown: list[tuple[str, str | None]] = []
    for field in FIELDS:
        value = (getattr(identity, field) or "").strip()
        if not value or field in skip:
            continue
        if field in ("nik", "phone"):
            digits = "".join(ch for ch in value if ch.isdigit())
            shown.append((field, "****" + digits[-VISIBLE_DIGITS:]))
        elif field == "name":
            shown.append((field, "".join(word[0].upper() + "." for word in value.split() if word[0].isalpha())))
        elif field == "email":
            local, _, domain = value.partition("@")
            shown.append((field, f"{local[:1]}***@{domain}"))
        else:
            shown.append((field, None))
    return shown


def identity_missing_reply(
    replies: Replies,
    lang: str,
    *,
    channel: str,
    ticket: str,
    identity: Identity,
    problems: Sequence[tuple[str, str]],
    window_days: float,
) -> str:
    """The return message for a case with identity ``problems`` ([("nik", "missing"), ...]).

    ``identity`` is what the case holds now (after any replies merged into it); ``window_days``
    is how long a reply still completes the case. Raises KeyError when the city's replies lack
    the ``identity_missing`` template.
    """
    texts = replies.of(lang)
    labels, reasons, hints = texts.fields, texts.problems, texts.reply_with
    wrong = [field for field, _ in problems]
    shown = masked_identity(identity, wrong)
    items = ", ".join(labels.get(field, field) + (f" {masked}" if masked else "") for field, masked in shown)
    understood = render_reply(replies, "identity_understood", lang, channel=channel, items=items) + " " if items else ""

    def missing(with_reasons: bool) -> str:
        return ", ".join(
            labels.get(field, field) + (f" ({reasons.get(code, code)})" if with_reasons and code != "missing" else "")
            for field, code in problems
        )

    reply_with = " ".join(hints.get(field, labels.get(field, field)) for field in dict.fromkeys(wrong))
    days = f"{window_days:g}"

    def render(understood: str, with_reasons: bool, segments: int) -> str:
        return render_reply(
            replies,
            "identity_missing",
            lang,
            channel=channel,
            sms_segments=segments,
            ticket=ticket,
            understood=understood,
            missing=missing(with_reasons),
            reply_with=reply_with,
            days=days,
            fields=missing(True),  # what a city's older wording of this template names
        )

    if channel != "sms":
        return render(understood, True, 1)
    # Unshortened candidates, most informative first; the first that fits one SMS is sent.
    for candidate in ((understood, True), ("", True), ("", False)):
        text = render(*candidate, segments=10)
        if sms_segments(text) == 1:
            return text
    return render("", False, 1)
