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
from collections.abc import Iterable

from sqlalchemy.orm import Session

from complaints import lifecycle
from complaints.models import Complaint
from complaints.queries import STAFF_ROLES, Viewer
from config.logging import mask

REPORTER = "Pelapor"
"""How a reporter hidden from the OPD is named on its pages (the OPD writes its answer to them)."""

FLAGS = ("rahasia", "anonim")
"""The two protections, as form fields, history notes and ``Complaint`` attributes."""
LIFTING_ROLE = "admin"
"""Only an admin lifts a protection (an operator may only add one, at verification)."""

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


class LiftForbidden(Exception):
    """Someone other than an admin tried to lift a protection (a 403)."""


def add_protection(session: Session, case: Complaint, flags: Iterable[str], *, actor: str) -> tuple[str, ...]:
    """Turn on ``flags`` (of :data:`FLAGS`) the case does not have yet; an operator does this at
    verification. The change is a ``protection_set`` history line naming the flags; returns them."""
    added = tuple(f for f in FLAGS if f in set(flags) and not getattr(case, f))
    for flag in added:
        setattr(case, flag, True)
    if added:
        lifecycle.note(session, case, actor=actor, action="protection_set", note=",".join(added))
    return added


def lift_protection(
    session: Session, case: Complaint, flags: Iterable[str], *, viewer: Viewer, actor: str, reason: str
) -> tuple[str, ...]:
    """Turn off ``flags`` the case has, as an admin only (raises :class:`LiftForbidden` otherwise).

    Recorded as a ``protection_lifted`` history line: the flags and the admin's reason."""
    if viewer.role != LIFTING_ROLE:
        raise LiftForbidden(viewer.role)
    lifted = tuple(f for f in FLAGS if f in set(flags) and getattr(case, f))
    for flag in lifted:
        setattr(case, flag, False)
    if lifted:
        lifecycle.note(session, case, actor=actor, action="protection_lifted", note=f"{','.join(lifted)}: {reason}")
    return lifted
