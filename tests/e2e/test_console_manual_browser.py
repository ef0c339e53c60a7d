"""Manual entry in Debian's Chromium: an operator records a newspaper complaint; the workers make it a case."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from complaints.accounts import Accounts
from complaints.models import Complaint
from config.settings import Settings
from gateway.console.strings import STRINGS
from tests.support.cases import ADDRESS, NAME, NIK
from tests.support.console_browser import console_page, require_chromium
from tests.support.system import running_system

ID = STRINGS["id"]
PASSWORD = "kebun raya bogor 1817"
TEXT = "Jalan berlubang di depan sekolah, sudah sebulan tidak diperbaiki."


def field(page: Any, key: str, required: bool) -> Any:
    """The form field labelled ``ID[key]`` plus its "(wajib)"/"(tidak wajib)" mark, found as a screen reader would."""
    mark = ID["manual_required"] if required else ID["manual_optional"]
    return page.get_by_label(f"{ID[key]} ({mark})", exact=True)


def test_operator_enters_a_newspaper_complaint_and_gets_its_ticket(tmp_path: Path) -> None:
    """Menu → form → a missing text is shown with the rest kept → saved → ticket → a routed newspaper case."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "var", host="127.0.0.1", port=0, redis_url=None, database_url=None
    )
    with running_system(settings) as system, sync_playwright() as pw:
        assert system.system is not None
        runtime = system.system.runtime
        accounts = Accounts(sf=runtime.sf, read_sf=runtime.read_sf, opd_codes=frozenset(runtime.config.opds))
        user = accounts.create_user(email="rina@kotabogor.go.id", name="Rina", role="operator", password=PASSWORD)
        published = (date.today() - timedelta(days=1)).isoformat()
        with console_page(pw, system.url, "rina@kotabogor.go.id", PASSWORD, height=800) as page:
            page.get_by_role("navigation", name=ID["nav_label"]).get_by_role("link", name=ID["nav_manual"]).click()
            page.wait_for_url(f"{system.url}/ops/baru")
            expect(page.get_by_role("heading", name=ID["manual_title"])).to_be_visible()

            page.get_by_role("radio", name=ID["channel_newspaper"]).check()
            field(page, "manual_label_newspaper_name", False).fill("Radar Bogor")
            field(page, "manual_label_newspaper_date", False).fill(published)
            field(page, "manual_label_nik", True).fill(NIK)
            field(page, "manual_label_nama", True).fill(NAME)
            field(page, "manual_label_alamat", True).fill(ADDRESS)
            field(page, "manual_label_telp", True).fill("0812-9876-5432")
            page.get_by_role("radio", name=ID["manual_answer_phone"]).check()
            page.get_by_role("button", name=ID["manual_submit"]).click()

            expect(page.get_by_role("alert")).to_contain_text(ID["manual_err_text_missing"])
            expect(field(page, "manual_label_newspaper_name", False)).to_have_value("Radar Bogor")
            expect(field(page, "manual_label_nik", True)).to_have_value(NIK)
            expect(page.get_by_role("radio", name=ID["channel_newspaper"])).to_be_checked()
            page.get_by_role("link", name=ID["manual_err_text_missing"]).click()  # the summary leads to the field
            expect(field(page, "manual_label_text", True)).to_be_focused()
            page.keyboard.type(TEXT)
            page.get_by_role("button", name=ID["manual_submit"]).click()

            expect(page.get_by_role("heading", name=ID["manual_done_title"])).to_be_visible()
            ticket = page.locator("strong.ticket").inner_text()
            assert re.fullmatch(r"BGR-[0-9A-Z]{7}", ticket)
            expect(page.get_by_role("link", name=ID["manual_done_case"])).to_have_attribute(
                "href", f"/ops/kasus/{ticket}"
            )
            page.screenshot(path=str(tmp_path / "manual-entry.png"), full_page=True)

        case = system.wait_for(
            lambda s: s.scalar(select(Complaint).where(Complaint.ticket == ticket, Complaint.opd_code.is_not(None)))
        )
        assert (case.channel, case.reply_channel) == ("newspaper", "phone")
        assert case.source_details == {
            "source": "newspaper",
            "newspaper_name": "Radar Bogor",
            "newspaper_date": published,
            "entered_by": user.user.id,
        }
