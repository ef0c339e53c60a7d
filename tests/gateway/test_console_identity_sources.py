"""The case page says where each identity field was read from (issue 13), masked like the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import select

from complaints.models import Complaint
from gateway.console.case import local_time
from gateway.console.identity_sources import source_words
from gateway.console.strings import STRINGS
from tests.gateway.test_console import Console, console_site, operator
from tests.workers.test_completion import NIK, PHONE, sms

ID = STRINGS["id"]
PASSWORD = "correct horse battery"


async def _page(site: Console, *, reveal: bool = False) -> str:
    with site.runtime.read_sf() as db:
        ticket = db.scalar(select(Complaint.ticket))
    operator(site)
    resp = await site.login(password=PASSWORD)
    assert resp.status == 303
    resp = await site.client.get(f"/ops/kasus/{ticket}" + ("?identitas=1" if reveal else ""))
    assert resp.status == 200
    return await resp.text()


@pytest.mark.asyncio
async def test_each_field_says_where_it_was_read_and_a_reply_says_when(tmp_path: Path) -> None:
    """Label as written, the SMS sender, and the reply that completed the case, without any value on the masked page."""
    async with console_site(tmp_path) as site:
        # Given an SMS read by its labels, returned for its NIK, then completed by a reply
        sms(site.runtime, "nama Siti Aminah almt Jl. Pajajaran 10. Jalan berlubang besar di depan Kebun Raya")
        sms(site.runtime, f"NIK {NIK}")
        with site.runtime.read_sf() as db:
            case = db.scalar(select(Complaint))
            assert case is not None and case.status == "disposisi"
            sources = case.identity_sources
        assert sources is not None and sources["name"] == {"from": "label:nama"}
        assert sources["nik"]["from"] == "label:NIK" and sources["nik"]["reply_at"]
        # When the operator opens the case page
        page = await _page(site)
        # Then each field names its source, and the masked page still shows no value
        assert escape(ID["source_label"].format(label="nama")) in page
        assert escape(ID["source_label"].format(label="almt")) in page
        assert ID["source_sender_phone"] in page
        assert "dari balasan " in page and " WIB" in page
        for secret in (NIK, "Siti", "Aminah", "Pajajaran", PHONE, PHONE[3:]):
            assert secret not in page


@pytest.mark.asyncio
async def test_a_case_from_before_the_sources_shows_no_source(tmp_path: Path) -> None:
    """Cases stored before provenance existed show their fields as before, with no source line."""
    async with console_site(tmp_path) as site:
        sms(site.runtime, f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran 10#Jalan berlubang besar di depan Kebun Raya")
        with site.runtime.sf.begin() as db:
            case = db.scalar(select(Complaint))
            assert case is not None and case.identity_sources is not None
            assert case.identity_sources["nik"] == {"from": "label:LAPOR#"}
            case.identity_sources = None
        page = await _page(site, reveal=True)
        assert NIK in page and 'class="source"' not in page


@pytest.mark.parametrize(
    ("field", "source", "expected"),
    [
        ("email", {"from": "sender"}, "dari pengirim (alamat e-mail)"),
        ("name", {"from": "channel:web"}, "dari data kanal Formulir web"),
        ("nik", {"from": "chat"}, "dari jawaban laporan di percakapan"),
        ("nik", {"from": "text"}, "dari teks pesan, tanpa label"),
        ("nik", {"from": "label:LAPOR#"}, "dari format LAPOR#"),
        ("nik", {"from": "reply", "reply_at": "2026-12-12T03:02:00+00:00"}, "dari balasan 12-12-2026 10:02 WIB"),
        ("nik", {"from": "text", "reply_at": "not a time"}, "dari teks pesan, tanpa label"),
        ("nik", None, ""),
    ],
)
def test_source_codes_in_words(field: str, source: dict[str, str] | None, expected: str) -> None:
    """Every source code the normalizer and the workers write reads as words; an unknown time is left out."""
    assert source_words(ID, field, source, when=local_time) == expected
