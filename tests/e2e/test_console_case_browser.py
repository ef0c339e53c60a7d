"""The case page in Debian's Chromium: reached from the inbox, nothing the citizen wrote runs, the
personal data is revealed by keyboard, the page fits a phone screen."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from complaints.models import CaseNote, HistoryEntry, Reply
from gateway.console.strings import STRINGS
from normalizer.envelope import new_id, utcnow
from normalizer.tickets import new_ticket
from tests.support.cases import NAME, NIK, PHONE, seed_case
from tests.support.console_browser import add_staff, console_page, console_settings, require_chromium
from tests.support.system import running_system

ID = STRINGS["id"]
PASSWORD = "kebun raya bogor 1817"
SCRIPT = "<script>window.pwned = 1</script>"
IMG = '<img src=x onerror="window.pwned = 2">'


def test_operator_opens_a_case_reveals_it_by_keyboard_and_nothing_runs(tmp_path: Path) -> None:
    """Inbox → case page: escaped citizen text, a failed reply, an internal note; reveal by keyboard; phone width."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings = console_settings(tmp_path)
    with running_system(settings, with_workers=False) as system, sync_playwright() as pw:
        assert system.system is not None
        runtime = system.system.runtime
        add_staff(runtime, email="rina@example.org", name="Rina Operator", role="operator", password=PASSWORD)
        ticket = new_ticket()
        now = utcnow()
        with runtime.sf.begin() as session:
            case = seed_case(
                session,
                ticket,
                "dikembalikan_ke_operator",
                opd_code="dlh",
                subject=SCRIPT,
                text=IMG + "\nJalan berlubang di depan rumah saya, sudah dua minggu.",
                routing_score=2.0,
                routing_matched="jalan,lubang",
                deadline_in=timedelta(hours=-2, minutes=-10),
                created_at=now - timedelta(hours=8),
            )
            session.add_all(
                [
                    HistoryEntry(
                        complaint_id=case.id,
                        at=now - timedelta(hours=6),
                        actor="worker:route_to_opd",
                        action="dispose",
                        from_status="diverifikasi",
                        to_status="disposisi",
                        note="skor 2.00",
                    ),
                    Reply(
                        id=new_id(),
                        dedupe_key=f"{case.id}:ack",
                        complaint_id=case.id,
                        kind="ack",
                        channel="sms",
                        provider="kannel",
                        address=PHONE,
                        text="Pengaduan Anda kami terima. Tiket " + ticket,
                        status="failed",
                        error="SMSC rejected the number",
                        created_at=now - timedelta(hours=7),
                        updated_at=now,
                    ),
                    CaseNote(
                        complaint_id=case.id,
                        at=now - timedelta(hours=1),
                        author_id=None,
                        author_role="opd",
                        kind="internal",
                        text="Bukan kewenangan DLH: jalan kota " + SCRIPT,
                        internal=True,
                    ),
                    CaseNote(
                        complaint_id=case.id,
                        at=now - timedelta(minutes=20),
                        author_id=None,
                        author_role="citizen",
                        kind="citizen_message",
                        text="Kapan diperbaiki? " + IMG,
                        internal=False,
                    ),
                ]
            )
        with console_page(pw, system.url, "rina@example.org", PASSWORD) as page:
            page.get_by_role("link", name=ticket).click()
            page.wait_for_url(f"{system.url}/ops/kasus/{ticket}")
            expect(page.get_by_role("heading", name=ID["case_title"].format(ticket=ticket))).to_be_visible()
            # part-clock: working hours late depend on when the test runs (the server reads the real time).
            expect(page.locator(".case-summary")).to_contain_text(re.compile(ID["inbox_late_working"].format(n=r"\d+")))
            expect(page.locator(".msg-reply")).to_contain_text("SMSC rejected the number")
            expect(page.locator(".msg.internal")).to_contain_text(ID["conv_internal"])
            expect(page.locator(".complaint")).to_contain_text(SCRIPT)  # shown as text
            assert page.evaluate("window.pwned") is None
            text = page.locator("main").inner_text()
            assert NIK not in text and NAME not in text and PHONE not in text
            expect(page.get_by_role("button", name=ID["action_reroute"])).to_be_visible()
            expect(page.locator("table.history")).to_contain_text(ID["actor_system"])
            page.screenshot(path=str(tmp_path / "console-case.png"), full_page=True)

            # Keyboard only: Tab to "show personal data" and press Enter.
            link = page.get_by_role("link", name=ID["case_identity_show"])
            for _ in range(40):
                page.keyboard.press("Tab")
                if link.evaluate("el => el === document.activeElement"):
                    break
            else:
                pytest.fail("the reveal link is not reachable by Tab")
            page.keyboard.press("Enter")
            page.wait_for_url(f"{system.url}/ops/kasus/{ticket}?identitas=1")
            expect(page.locator(".identity")).to_contain_text(NIK)
            expect(page.locator(".identity")).to_contain_text(ID["case_identity_revealed"])

            # A phone: nothing but the history table scrolls sideways.
            page.set_viewport_size({"width": 360, "height": 740})
            page.goto(f"{system.url}/ops/kasus/{ticket}")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, overflow
            page.screenshot(path=str(tmp_path / "console-case-phone.png"), full_page=True)
