"""E-mail end to end (issue 13): a returned complaint completed by a reply, through a real Dovecot and SMTP sink.

The thread case (a reply to our return message) is in ``test_email.py``; here the citizen writes a
new mail instead, and a reply comes after the window.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from complaints.models import Complaint, HistoryEntry
from tests.e2e.test_email import CITIZEN, NIK, email_settings, mail
from tests.support.dovecot import DovecotHarness
from tests.support.smtp_sink import SmtpSink
from tests.support.system import running_system

FIRST = "Nama: Siti Aminah\nAlamat: Jl. Pajajaran 5, Bogor Tengah\nTelp: 081234567890\n\nSampah menumpuk di TPS pasar."


def test_a_new_mail_with_only_the_missing_nik_completes_the_returned_case(
    tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink
) -> None:
    """Returned for its NIK; a fresh mail (no thread, no ticket) saying only "NIK ..." completes the same case."""
    with running_system(email_settings(tmp_path, mailbox, sink)) as system:
        # Given a complaint returned because the NIK is missing
        mailbox.deliver(mail("Sampah menumpuk", FIRST).as_bytes())
        returned = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20).message
        body = returned.get_content()
        assert "Sudah kami baca: Nama S.A., Alamat, No. Telp ****7890" in body, body
        assert "Yang masih perlu: NIK." in body and "dalam 3 hari" in body and "NIK <16 angka>" in body
        ticket = returned["Subject"].rsplit("[", 1)[1].rstrip("]")
        # When the citizen writes a new mail with just the NIK
        mailbox.deliver(mail("NIK saya", f"NIK {NIK}").as_bytes())
        # Then that case goes on to its OPD under the same ticket, and the acknowledgement names it
        ack = sink.wait_for(
            lambda m: CITIZEN in m.rcpt_tos and m.message["Message-ID"] != returned["Message-ID"], timeout=20
        ).message
        assert ticket in ack.get_content()
        case = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.status == "disposisi")))
        assert case.ticket == ticket and case.nik == NIK and case.opd_code == "dlh"
        assert system.db(lambda s: s.scalar(select(func.count()).select_from(Complaint))) == 1


def test_a_reply_in_the_thread_after_the_window_is_a_new_complaint(
    tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink
) -> None:
    """Four days after the return, even a reply in the return message's thread opens a new case."""
    with running_system(email_settings(tmp_path, mailbox, sink)) as system:
        first = mail("Sampah menumpuk", FIRST)
        mailbox.deliver(first.as_bytes())
        returned = sink.wait_for(lambda m: CITIZEN in m.rcpt_tos, timeout=20).message
        old_ticket = returned["Subject"].rsplit("[", 1)[1].rstrip("]")
        assert system.system is not None
        with system.system.runtime.sf.begin() as session:  # as if it had been returned four days ago
            for entry in session.scalars(select(HistoryEntry)):
                entry.at = entry.at - timedelta(days=4)
        answer = mail(
            f"Re: {returned['Subject']}",
            f"NIK: {NIK}",
            headers={
                "In-Reply-To": returned["Message-ID"],
                "References": f"{first['Message-ID']} {returned['Message-ID']}",
            },
        )
        mailbox.deliver(answer.as_bytes())
        system.wait_for(lambda s: s.scalar(select(func.count()).select_from(Complaint)) == 2)
        old = system.db(lambda s: s.scalar(select(Complaint).where(Complaint.ticket == old_ticket)))
        assert old.status == "dikembalikan_ke_pelapor" and old.nik is None
        new = system.db(lambda s: s.scalar(select(Complaint).where(Complaint.ticket != old_ticket)))
        assert new.nik == NIK
