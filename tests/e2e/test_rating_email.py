"""Issue 14 end to end by e-mail, through a real Dovecot and SMTP sink: a TIDAK PUAS reply in the
answer's thread is recorded as a rating and reopens the case to its OPD."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from complaints.answers import queue_answer
from complaints.models import CaseRating, Complaint
from normalizer.envelope import utcnow
from tests.e2e.test_email import CITIZEN, IDENTITY, email_settings, mail
from tests.support.dovecot import DovecotHarness
from tests.support.smtp_sink import SmtpSink
from tests.support.system import running_system


def test_tidak_puas_in_the_answers_thread_reopens_the_case(
    tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink
) -> None:
    """The answer mail invites a rating; "TIDAK PUAS <alasan>" replied in its thread reopens the case."""
    with running_system(email_settings(tmp_path, mailbox, sink)) as system:
        # Given a complaint by mail, answered and closed
        mailbox.deliver(mail("Sampah menumpuk", f"{IDENTITY}\nSampah menumpuk di TPS pasar.").as_bytes())
        ack = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20).message
        ticket = ack["Subject"].rsplit("[", 1)[1].rstrip("]")
        assert system.system is not None
        runtime = system.system.runtime
        with runtime.sf.begin() as session:
            case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
            assert case is not None
            case.status, case.closed_at = "selesai", utcnow()  # as the operator's approval leaves it
            case.answer_text = "Sampah sudah diangkut pada 3 Desember."
            ids = queue_answer(session, case, config=runtime.config, settings=runtime.settings)
        runtime.send("send_reply", ids)
        answer = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos and "diangkut" in m.message.get_content(), timeout=20)
        assert "TIDAK PUAS" in answer.message.get_content()
        # When the citizen answers in the thread that they are not satisfied
        reply = mail(
            f"Re: {answer.message['Subject']}",
            "TIDAK PUAS sampahnya masih menumpuk",
            headers={"In-Reply-To": answer.message["Message-ID"], "References": answer.message["Message-ID"]},
        )
        mailbox.deliver(reply.as_bytes())
        # Then the case is back with its OPD, the rating is kept, and the citizen is told
        reopened = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.status == "ditindaklanjuti")))
        assert reopened.ticket == ticket and reopened.reopen_count == 1
        rating = system.db(lambda s: s.scalar(select(CaseRating).where(CaseRating.complaint_id == reopened.id)))
        assert rating is not None and not rating.satisfied and rating.reason == "sampahnya masih menumpuk"
        told = sink.wait_for(
            lambda m: CITIZEN in m.rcpt_tos and "dibuka kembali" in m.message.get_content(), timeout=20
        )
        assert ticket in told.message.get_content()
