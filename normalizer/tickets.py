"""Ticket numbers: what a citizen gets back and types in to ask for the status."""

from __future__ import annotations

import re
import secrets

# No 0/O, 1/I/L: tickets are read aloud on the phone and typed on feature phones.
TICKET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TICKET_PREFIX = "BGR-"
TICKET_LENGTH = 7

_STATUS_QUERY = re.compile(r"^\s*(?:CEK|CHECK|STATUS)\b[\s:#-]*(?P<ticket>.*)$", re.IGNORECASE | re.DOTALL)


def new_ticket() -> str:
    """A random, unguessable ticket number such as ``BGR-7KQ2XMP`` (31^7 ≈ 2.7e10 values)."""
    return TICKET_PREFIX + "".join(secrets.choice(TICKET_ALPHABET) for _ in range(TICKET_LENGTH))


def normalize_ticket(raw: str) -> str | None:
    """Canonical form of a ticket typed by a citizen (case, spaces, missing dash), or None."""
    cleaned = "".join(ch for ch in raw.upper() if ch.isalnum())
    if cleaned.startswith("BGR") and len(cleaned) == TICKET_LENGTH + 3:
        cleaned = cleaned[3:]
    if len(cleaned) != TICKET_LENGTH or any(ch not in TICKET_ALPHABET for ch in cleaned):
        return None
    return TICKET_PREFIX + cleaned


def parse_status_query(text: str) -> str | None:
    """If ``text`` is a status request (``CEK <ticket>``), return what follows the keyword.

    Only a keyword followed by nothing or by one short word counts: "Cek lampu PJU mati di
    Jl. Pajajaran" is a complaint, not a question about ticket "lampu". Returns the word
    (possibly not a valid ticket: the worker then answers that it is unknown), ``""`` for a
    bare keyword, or None when the message is not a status request.
    """
    match = _STATUS_QUERY.match(text)
    if not match:
        return None
    rest = match.group("ticket").strip()
    if not rest:
        return ""
    if normalize_ticket(rest):
        return rest
    words = rest.split()
    if len(words) == 1 and len(rest) <= TICKET_LENGTH + 6:
        return rest
    return None


# Loose shapes; normalize_ticket() then decides (so "BGR-0000000" is not a ticket).
_BRACKETED_TICKET = re.compile(r"\[\s*(BGR[-\s]?[A-Za-z0-9]{7})\s*\]", re.IGNORECASE)
_BARE_TICKET = re.compile(r"(?<![A-Za-z0-9])(BGR-?[A-Za-z0-9]{7})(?![A-Za-z0-9])", re.IGNORECASE)


def find_ticket(text: str) -> str | None:
    """The ticket in ``text`` (an e-mail subject: ``[BGR-7KQ2XMP]`` preferred, else a bare
    ``BGR-7KQ2XMP``), canonical, or None."""
    for pattern in (_BRACKETED_TICKET, _BARE_TICKET):
        for match in pattern.finditer(text or ""):
            ticket = normalize_ticket(match.group(1))
            if ticket:
                return ticket
    return None
