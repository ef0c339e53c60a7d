"""The citizen's protection keywords (issue 14): ``RAHASIA`` and ``ANONIM`` at the start of a message.

A citizen writing by SMS, chat or e-mail has no checkbox, so the words lead the text:
``RAHASIA ANONIM Lampu jalan mati di ...``, ``anonim: ...``, ``RAHASIA#LAPOR#...``. They are read
only at the start (in any order, any case) and removed from the complaint text; the same word in
the middle of a sentence is text.

- **rahasia** (confidential): the complaint's text, photos and answer never show on public pages.
- **anonim**: the OPD's staff never see who reported it (the operator still checks the identity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEYWORDS = ("rahasia", "anonim")
# One keyword, then a separator (space, ':', ',', '.', '#', '-') or the end: "RAHASIAKAN" is not one.
_LEADING = re.compile(r"\s*(rahasia|anonim)(?:[\s:,.;#\-]+|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Protection:
    """What the citizen asked for, and the text without the keywords."""

    rahasia: bool
    anonim: bool
    text: str


def read_keywords(text: str) -> Protection:
    """Read ``RAHASIA`` / ``ANONIM`` at the start of ``text`` (both, in any order) and strip them."""
    found: set[str] = set()
    rest = text
    while (match := _LEADING.match(rest)) is not None:
        found.add(match.group(1).lower())
        rest = rest[match.end() :]
    if not found:
        return Protection(rahasia=False, anonim=False, text=text)
    return Protection(rahasia="rahasia" in found, anonim="anonim" in found, text=rest)
