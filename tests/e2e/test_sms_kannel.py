"""End to end through a real Kannel: a citizen's SMS in, our reply out at the fake SMSC.

Runs on both ways to run the system: SQLite + in-process queue, and PostgreSQL + Redis.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from complaints.answers import queue_answer
from complaints.models import Complaint, HistoryEntry, Reply
from tests.conftest import base_settings
from tests.support.kannel import KannelHarness, running_kannel
from tests.support.system import SystemThread, free_port, running_system

PHONE = "+6281234567890"
SHORT_CODE = "1708"
TOKEN = "kannel-inbound-secret"
# A valid Kota Bogor NIK: district 32.71.01, woman born 05-05-1990 (day + 40), serial 0002.
NIK = "3271014505900002"
TICKET = re.compile(r"BGR-[2-9A-HJ-NP-Z]{7}")


@pytest.fixture
def sms_system(tmp_path: Path, backend: dict[str, Any]) -> Iterator[tuple[KannelHarness, SystemThread]]:
    """A real Kannel wired to a running gateway (web + workers)."""
    port = free_port()
    get_url = (
        f"http://127.0.0.1:{port}/channels/sms/kannel?token={TOKEN}"
        "&from=%p&to=%P&text=%b&id=%I&ts=%T&smsc=%i&coding=%c&charset=%C"
    )
    with running_kannel(tmp_path / "kannel", get_url) as kannel:
        settings = base_settings(
            tmp_path,
            port=port,
            public_base_url=f"http://127.0.0.1:{port}",
            kannel_sendsms_url=kannel.sendsms_url,
            kannel_username=kannel.username,
            kannel_password=kannel.password,
            kannel_from=SHORT_CODE,
            kannel_inbound_token=TOKEN,
            **backend,
        )
        with running_system(settings) as system:
            yield kannel, system


def test_sms_complaint_gets_ticket_reply_and_is_routed(sms_system: tuple[KannelHarness, SystemThread]) -> None:
    """A LAPOR# SMS gets an SMS back with a ticket; the case is routed to PUPR with a deadline and history."""
    kannel, system = sms_system
    # Given a citizen with a complete identity
    started = time.monotonic()
    kannel.inject(
        PHONE,
        SHORT_CODE,
        f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran No. 5, Bogor Tengah#Jalan berlubang besar di depan Kebun Raya",
    )
    # When the gateway has processed it
    sms = kannel.wait_for_mt(PHONE, timeout=20)
    elapsed = time.monotonic() - started
    print(f"\nKannel MO -> reply at fake SMSC: {elapsed * 1000:.0f} ms")
    # Then the citizen's phone has a ticket number, and the case is with the right OPD
    match = TICKET.search(sms.text)
    assert match, sms.text
    assert "PUPR" in sms.text
    assert len(sms.text) <= 160
    ticket = match.group(0)
    case = system.db(lambda s: s.scalar(select(Complaint).where(Complaint.ticket == ticket)))
    assert case.status == "disposisi" and case.opd_code == "pupr"
    assert case.nik == NIK and case.phone == PHONE
    assert case.step == 4 and case.step_deadline_at is not None
    actions = system.db(
        lambda s: [h.action for h in s.scalars(select(HistoryEntry).where(HistoryEntry.complaint_id == case.id))]
    )
    assert actions == ["received", "verified", "routed"]
    # And Kannel's delivery report marks our reply delivered
    system.wait_for(lambda s: s.scalar(select(Reply.status).where(Reply.complaint_id == case.id)) == "delivered")


def test_sms_without_identity_is_returned_with_what_is_missing(sms_system: tuple[KannelHarness, SystemThread]) -> None:
    """An SMS without NIK/name/address gets a reply naming the missing fields; the case waits for the citizen."""
    kannel, system = sms_system
    kannel.inject(PHONE, SHORT_CODE, "sampah menumpuk di pasar bogor sudah seminggu")
    sms = kannel.wait_for_mt(PHONE, timeout=20)
    assert "Kurang: NIK, Nama, Alamat." in sms.text and "Balas: NIK <16 angka>" in sms.text, sms.text
    assert sms.parts == 1
    case = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.status == "dikembalikan_ke_pelapor")))
    assert "nik:missing" in case.identity_problems and "name:missing" in case.identity_problems


# --- issue 13: a returned complaint completed by a short reply from the same phone
def test_reply_with_the_missing_fields_completes_the_returned_case(
    sms_system: tuple[KannelHarness, SystemThread],
) -> None:
    """Returned for NIK and name; "NIK ... nama ..." from the same phone moves the same ticket on to disposisi."""
    kannel, system = sms_system
    kannel.inject(PHONE, SHORT_CODE, "alamat Jl. Pajajaran 10 Bogor Tengah. Jalan berlubang besar di depan Kebun Raya")
    returned = kannel.wait_for_mt(PHONE, timeout=20)
    ticket = TICKET.search(returned.text).group(0)  # type: ignore[union-attr]
    assert "Terbaca: Alamat, No. Telp ****7890. Kurang: NIK, Nama." in returned.text, returned.text
    assert returned.parts == 1
    # When the citizen replies with only what was missing
    kannel.inject(PHONE, SHORT_CODE, f"NIK {NIK} nama Siti Aminah")
    # Then the same case is verified and sent to its OPD, and the citizen is told so under the same ticket
    ack = kannel.wait_for_mt(PHONE, timeout=20)
    assert ticket in ack.text and "diteruskan" in ack.text, ack.text
    case = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.status == "disposisi")))
    assert case.ticket == ticket and case.nik == NIK and case.name == "Siti Aminah"
    assert system.db(lambda s: len(s.scalars(select(Complaint)).all())) == 1
    actions = system.db(
        lambda s: [h.action for h in s.scalars(select(HistoryEntry).where(HistoryEntry.complaint_id == case.id))]
    )
    assert actions == ["received", "returned_to_citizen", "citizen_follow_up", "verified", "routed"]


def test_reply_after_the_window_is_a_new_complaint(sms_system: tuple[KannelHarness, SystemThread]) -> None:
    """Four days after the return (COMPLETE_REPLY_WINDOW_DAYS=3) the same reply opens a new case."""
    kannel, system = sms_system
    kannel.inject(PHONE, SHORT_CODE, "nama Siti Aminah alamat Jl. Pajajaran 10. Lampu PJU mati di depan SDN Pajajaran")
    old_ticket = TICKET.search(kannel.wait_for_mt(PHONE, timeout=20).text).group(0)  # type: ignore[union-attr]
    assert system.system is not None
    with system.system.runtime.sf.begin() as session:  # as if it had been returned four days ago
        for entry in session.scalars(select(HistoryEntry)):
            entry.at = entry.at - timedelta(days=4)
    kannel.inject(PHONE, SHORT_CODE, f"NIK {NIK}")
    answer = kannel.wait_for_mt(PHONE, timeout=20)
    assert old_ticket not in answer.text
    old = system.db(lambda s: s.scalar(select(Complaint).where(Complaint.ticket == old_ticket)))
    assert old.status == "dikembalikan_ke_pelapor" and old.nik is None
    assert system.db(lambda s: len(s.scalars(select(Complaint)).all())) == 2


def test_sms_with_false_nik_is_returned(sms_system: tuple[KannelHarness, SystemThread]) -> None:
    """A NIK from a district that does not exist is refused (SOP: false identity is not processed)."""
    kannel, system = sms_system
    kannel.inject(PHONE, SHORT_CODE, "LAPOR#3271994505900002#Siti Aminah#Jl. Sudirman 1#lampu jalan mati")
    sms = kannel.wait_for_mt(PHONE, timeout=20)
    assert "NIK" in sms.text, sms.text
    case = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.status == "dikembalikan_ke_pelapor")))
    assert case.identity_problems == "nik:region"
    assert case.opd_code is None


def test_cek_returns_the_status_by_sms(sms_system: tuple[KannelHarness, SystemThread]) -> None:
    """`CEK <ticket>` answers the complaint's status by SMS, without personal data."""
    kannel, _system = sms_system
    kannel.inject(PHONE, SHORT_CODE, f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran 5#sampah menumpuk di TPS")
    ticket = TICKET.search(kannel.wait_for_mt(PHONE, timeout=20).text).group(0)  # type: ignore[union-attr]
    kannel.inject(PHONE, SHORT_CODE, f"cek {ticket.lower()}")
    status = kannel.wait_for_mt(PHONE, timeout=20)
    assert ticket in status.text and "Disposisi" in status.text, status.text
    assert NIK not in status.text and "Siti" not in status.text


def test_ucs2_sms_text_is_kept_verbatim(sms_system: tuple[KannelHarness, SystemThread]) -> None:
    """A UCS-2 SMS (emoji, curly quotes) arrives intact in the case text."""
    kannel, system = sms_system
    text = "Pohon tumbang 🌳 menutup “jalan” di Tanah Sareal"
    kannel.inject(PHONE, SHORT_CODE, f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran 5#{text}", coding="ucs2")
    kannel.wait_for_mt(PHONE, timeout=20)
    case = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.text.contains("Pohon"))))
    assert case.text == text
    assert case.opd_code == "dlh"


# --- delivery part (issue 8): the OPD's answer as one concatenated SMS through real Kannel
ANSWER_SENTENCES = [
    "Terima kasih atas laporan Anda tentang jalan berlubang di depan Kebun Raya.",
    "Tim Dinas PUPR sudah meninjau lokasi pada hari Senin dan menambal lubang sepanjang dua meter.",
    "Pengaspalan ulang seluruh ruas dijadwalkan bulan depan setelah musim hujan reda.",
    "Bila masih ada kerusakan, balas pesan ini dengan menyebut nomor tiket.",
]


def _approve(system: SystemThread, ticket: str, answer: str) -> list[str]:
    """Close the case with ``answer`` as the operator's approval does, and hand the replies to the workers."""
    assert system.system is not None
    runtime = system.system.runtime
    with runtime.sf.begin() as session:
        case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert case is not None
        case.answer_text = answer
        ids = queue_answer(session, case, config=runtime.config, settings=runtime.settings)
    runtime.send("send_reply", ids)
    return ids


def _sms_complaint(kannel: KannelHarness) -> str:
    kannel.inject(PHONE, SHORT_CODE, f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran No. 5#Jalan berlubang di depan Kebun Raya")
    ticket = TICKET.search(kannel.wait_for_mt(PHONE, timeout=20).text)
    assert ticket
    return ticket.group(0)


def test_long_answer_arrives_whole_as_one_concatenated_sms(sms_system: tuple[KannelHarness, SystemThread]) -> None:
    """A 330-character answer reaches the phone whole, as one message of three parts, and is reported delivered."""
    kannel, system = sms_system
    ticket = _sms_complaint(kannel)
    answer = " ".join(ANSWER_SENTENCES)
    (reply_id,) = _approve(system, ticket, answer)
    sms = kannel.wait_for_mt(PHONE, timeout=20)
    assert sms.text == f"{ticket}: {answer} Balas PUAS/TIDAK PUAS+alasan"
    assert sms.parts == 3
    system.wait_for(lambda s: s.get(Reply, reply_id).status == "delivered")


def test_too_long_answer_arrives_shortened_with_the_tracking_link(
    sms_system: tuple[KannelHarness, SystemThread],
) -> None:
    """An answer beyond ANSWER_SMS_MAX_PARTS (4) arrives in four parts, cut at a word, ending with the tracking link."""
    kannel, system = sms_system
    ticket = _sms_complaint(kannel)
    answer = " ".join(ANSWER_SENTENCES * 3)
    _approve(system, ticket, answer)
    sms = kannel.wait_for_mt(PHONE, timeout=20)
    link = f"{system.settings.public_base_url}/lacak/{ticket}"
    assert sms.text.startswith(f"{ticket}: {ANSWER_SENTENCES[0]}")
    assert sms.text.endswith(f"... {link}")
    assert sms.parts == 4
