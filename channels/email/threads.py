"""Keeping our replies in the citizen's thread: reply headers and tickets in subjects.

Mail clients thread by In-Reply-To/References (RFC 5322 section 3.6.4); people thread by
subject, so ours is "Re: <their subject> [BGR-XXXXXXX]" and an answer that lost its headers
still finds its complaint by the ticket. Every value is single-line: the subject is the
citizen's text and must not be able to add a header to our mail.
"""

from __future__ import annotations

import re
import uuid

from channels.email.decode import message_ids, one_line
from normalizer.tickets import find_ticket, normalize_ticket

__all__ = ["MAX_REFERENCES", "find_ticket", "reply_headers", "reply_subject"]

MAX_REFERENCES = 20


_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|bls|balas|trs|tr|aw|wg|sv|vs|antw)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+", re.IGNORECASE
)
_DOMAIN_CHARS = re.compile(r"[^a-z0-9.-]+")


def _safe_id(value: str | None) -> str | None:
    ids = message_ids(f"<{one_line(value).strip('<> ')}>") if value else ()
    return ids[0] if ids else None


def reply_subject(original_subject: str, ticket: str | None) -> str:
    """``Re: <subject without Re:/Fwd:/Bls: and without the ticket> [<ticket>]``."""
    canonical = normalize_ticket(ticket) if ticket else None
    subject = _REPLY_PREFIX.sub("", one_line(original_subject))
    if canonical:
        code = re.escape(canonical[len("BGR-") :])
        subject = re.sub(r"\[?\s*BGR[-\s]?" + code + r"\s*\]?", " ", subject, flags=re.IGNORECASE)
        subject = _REPLY_PREFIX.sub("", one_line(subject))
    subject = one_line(subject, 200)
    parts = ["Re:", subject, f"[{canonical}]" if canonical else ""]
    return " ".join(p for p in parts if p)


def reply_headers(
    *,
    ticket: str,
    original_subject: str,
    original_message_id: str | None,
    original_references: tuple[str, ...],
    our_domain: str,
    local_id: str | None = None,
) -> dict[str, str]:
    """Headers that thread our reply under the citizen's mail and stop robots answering it.

    Message-ID (``<local_id@our_domain>``, a new uuid when ``local_id`` is not given: pass the
    reply's own id so a retry after an unclear SMTP time-out keeps the same Message-ID), In-Reply-To,
    References (the original's
    references plus its id, the last 20, space separated so the mail library folds them),
    Subject (:func:`reply_subject`), ``Auto-Submitted: auto-replied`` (RFC 3834) and
    ``X-Auto-Response-Suppress: All``. No value contains CR or LF; ids with unsafe characters
    are dropped. An empty or invalid ``ticket`` leaves the subject without one.
    """
    domain = _DOMAIN_CHARS.sub("", one_line(our_domain).lower()).strip(".-") or "localhost"
    local = re.sub(r"[^A-Za-z0-9._-]", "", local_id or "") or uuid.uuid4().hex
    headers = {"Message-ID": f"<{local}@{domain}>"}
    original = _safe_id(original_message_id)
    references = [i for i in (_safe_id(r) for r in original_references) if i]
    if original:
        headers["In-Reply-To"] = f"<{original}>"
        references.append(original)
    chain = list(dict.fromkeys(references))[-MAX_REFERENCES:]
    if chain:
        headers["References"] = " ".join(f"<{i}>" for i in chain)
    headers["Subject"] = reply_subject(original_subject, ticket)
    headers["Auto-Submitted"] = "auto-replied"
    headers["X-Auto-Response-Suppress"] = "All"
    return headers
