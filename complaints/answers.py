"""The answer leaves on the channel the complaint came in on (SOP step 9).

Called by the operator's approval (:mod:`complaints.actions`) in the same transaction that
closes the case: the reply rows are queued here and sent by the ``send_reply`` workers, so an
approval never waits for a provider and a provider's failure never loses the answer.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from complaints import store
from complaints.models import Complaint
from complaints.replies import render_reply
from config.model import CityConfig
from config.settings import Settings


def queue_answer(
    session: Session, complaint: Complaint, *, config: CityConfig, settings: Settings, round_id: str = ""
) -> list[str]:
    """Queue ``complaint.answer_text`` to the citizen; returns the reply ids to hand to ``send_reply``.

    ``round_id`` tells a re-sent answer (another contact chosen after a failed delivery) from
    the first one. An answer already queued for the same round is not queued again.
    """
    text = render_reply(
        config.replies,
        "answer",
        complaint.language,
        channel=complaint.reply_channel,
        ticket=complaint.ticket,
        answer=complaint.answer_text or "",
    )
    reply_id = store.queue_case_reply(session, complaint, "answer", text, round_id=round_id)
    return [reply_id] if reply_id else []
