"""Masking personal data for staff pages: enough to tell two people apart, not enough to identify one.

Used by the case page (:mod:`complaints.casefile`) until someone allowed to see the data asks to
(and that look is recorded). Logs use :func:`config.logging.mask` instead, which finds personal
data inside free text.
"""

from __future__ import annotations

MASK = "*"
HIDDEN = "***"
"""What a masked address shows: nothing of it (a street name and number would identify the person)."""


def mask_digits(value: str) -> str:
    """Keep the last four characters (a NIK, a phone number): ``************0001``."""
    if len(value) <= 4:
        return MASK * len(value)
    return MASK * (len(value) - 4) + value[-4:]


def mask_name(value: str) -> str:
    """The first letter of each word, then a fixed mask (the length of the name is not shown)."""
    return " ".join(word[0] + MASK * 3 for word in value.split())


def mask_email(value: str) -> str:
    """``s***@example.net``: the first letter and the domain."""
    local, at, domain = value.partition("@")
    if not at:
        return mask_name(value)
    return (local[:1] or "") + MASK * 3 + "@" + domain
