"""Confidential and anonymous reports (issue 14): who may see a reporter, what public pages may show.

- **Anonim toward the OPD**: an OPD user viewing a case marked ``anonim`` (or any case, while the
  deployment's ``OPD_SEES_IDENTITY`` is false, the default) never gets the reporter's NIK, name,
  address, phone or e-mail: the case page names "Pelapor", the reveal link is not offered and a
  hand-made ``?identitas=1`` reveals nothing, and texts shown to them (the complaint, messages,
  notes, history) have the reporter's known values and any NIK, phone number or e-mail replaced.
  Operators and admins always see the identity (they verify it, as the SOP requires).
- **Rahasia (confidential)**: the complaint's text, photos and answer never appear on public
  pages; only counts do (:func:`public_text_hidden`).
"""

from __future__ import annotations

import re

from complaints.models import Complaint
from complaints.queries import STAFF_ROLES, Viewer
from config.logging import mask

REPORTER = "Pelapor"
"""How a reporter hidden from the OPD is named on its pages (the OPD writes its answer to them)."""

_SHORTEST_VALUE = 3  # a one- or two-letter "name" would blank out ordinary words


def identity_withheld(viewer: Viewer, case: Complaint, *, opd_sees_identity: bool) -> bool:
    """True when ``viewer`` must not see ``case``'s reporter: an OPD user (any role but operator
    and admin) on an ``anonim`` case, or on every case when ``opd_sees_identity`` is false."""
    if viewer.role in STAFF_ROLES:
        return False
    return bool(case.anonim) or not opd_sees_identity


def public_text_hidden(case: Complaint) -> bool:
    """True when the case's text, photos and answer must stay off public pages (``rahasia``)."""
    return bool(case.rahasia)


def scrub(text: str, *cases: Complaint, replacement: str = REPORTER) -> str:
    """``text`` without the reporters of ``cases``: their known NIK, name, address, phone and e-mail
    (whole words, any case; a +62 number also as people write it) become ``replacement``, then any
    other NIK, mobile number or e-mail address is masked (:func:`config.logging.mask`)."""
    for person in cases:
        values = sorted(
            {v.strip() for v in (person.nik, person.name, person.address, person.phone, person.email) if v},
            key=len,
            reverse=True,  # the longest first: an address may contain the name
        )
        for value in values:
            if len(value) >= _SHORTEST_VALUE:
                # Whole words only, so a short name does not cut into other words.
                text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", replacement, text, flags=re.IGNORECASE)
        if person.phone and person.phone.startswith("+62"):
            # The number as people write it: 0812-9876-5432, +62 812 9876 5432...
            spaced = r"[\s.-]?".join(person.phone[3:])
            text = re.sub(rf"(?<!\d)(?:\+?62|0)[\s.-]?{spaced}(?!\d)", replacement, text)
    return mask(text)
