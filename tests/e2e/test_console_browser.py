"""The staff console in Debian's Chromium: first login, forced change, a seeded inbox, logout."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from gateway.cli_users import first_admin_lines
from gateway.console.strings import STRINGS
from normalizer.tickets import new_ticket
from tests.support.cases import NAME, NIK, PHONE, seed_case
from tests.support.console_browser import chromium, console_settings, require_chromium
from tests.support.system import running_system

ID = STRINGS["id"]
NEW_PASSWORD = "kebun raya bogor 1817"
SCRIPT = "<script>window.pwned = 1</script>"
IMG = '<img src=x onerror="window.pwned = 2">'


def test_admin_logs_in_with_the_one_time_password_changes_it_and_logs_out(tmp_path: Path) -> None:
    """One-time password → forced new password → inbox with seeded cases, filtered by keyboard → logout."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings = console_settings(tmp_path)
    with running_system(settings, with_workers=False) as system, sync_playwright() as pw:
        assert system.system is not None
        # What `intake serve` (and so `make run`) prints on the first start of an empty database.
        banner = "\n".join(first_admin_lines(system.system.runtime))
        match = re.search(r"one-time password: (\S+)", banner)
        assert match, banner
        one_time = match.group(1)
        late, answered, returned = new_ticket(), new_ticket(), new_ticket()
        with system.system.runtime.sf.begin() as session:
            seed_case(
                session,
                late,
                "triase",
                subject=SCRIPT,
                text=IMG,
                identity_problems="nik:missing",
                deadline_in=timedelta(hours=-3, minutes=-5),
                channel="sms",
            )
            seed_case(
                session,
                answered,
                "dijawab",
                opd_code="dlh",
                routing_score=2.0,
                routing_matched="sampah,tumpuk",
                channel="email",
            )
            seed_case(
                session,
                returned,
                "dikembalikan_ke_operator",
                opd_code="pupr",
                routing_score=3.0,
                routing_matched="jalan,lubang",
                deadline_in=timedelta(minutes=40),
            )
        with chromium(pw) as browser:
            page = browser.new_page(viewport={"width": 1024, "height": 700})
            page.goto(f"{system.url}/ops/")
            page.wait_for_url(f"{system.url}/ops/login")
            expect(page.get_by_role("heading", name=ID["login_title"])).to_be_visible()
            page.get_by_label(ID["label_email"]).fill("admin@localhost")
            page.get_by_label(ID["label_password"]).fill(one_time)
            page.keyboard.press("Enter")  # keyboard only: the form submits from the password field

            page.wait_for_url(f"{system.url}/ops/password")
            expect(page.get_by_text(ID["password_forced"])).to_be_visible()
            page.get_by_label(ID["label_new_password"], exact=True).fill(NEW_PASSWORD)
            page.get_by_label(ID["label_new_password2"]).fill(NEW_PASSWORD)
            page.get_by_role("button", name=ID["password_submit"]).click()

            page.wait_for_url(f"{system.url}/ops/")
            expect(page.get_by_role("heading", name=ID["home_title"])).to_be_visible()
            expect(page.get_by_text(ID["password_changed"])).to_be_visible()
            facts = page.locator("dl.facts").inner_text()
            assert "Administrator" in facts and ID["role_admin"] in facts and ID["home_opd_all"] in facts
            menu = page.get_by_role("navigation", name=ID["nav_label"])
            for key in ("nav_inbox", "nav_manual", "nav_reports", "nav_users"):
                expect(menu).to_contain_text(ID[key])
            rows = page.locator("table.inbox tbody tr")
            expect(rows).to_have_count(3)
            # part-clock: triage counts working hours, so how many depends on when the test runs
            # (the browser's server reads the real time); the words and the order are what is fixed.
            expect(rows.first).to_contain_text(re.compile(ID["inbox_late_working"].format(n=r"\d+")))  # deadline first
            text = page.locator("main").inner_text()
            assert NIK not in text and NAME not in text and PHONE not in text
            assert page.evaluate("window.pwned") is None  # nothing the citizen wrote ran
            page.screenshot(path=str(tmp_path / "console-inbox.png"), full_page=True)
            # The filter form by keyboard: type a ticket in the search box and press Enter.
            page.get_by_label(ID["inbox_ticket"]).fill(answered.lower())
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r".*ticket=.*"))
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text(answered)

            page.get_by_role("button", name=ID["logout"]).click()
            page.wait_for_url(f"{system.url}/ops/login?bye=1")
            expect(page.get_by_text(ID["logged_out"])).to_be_visible()
            page.goto(f"{system.url}/ops/")
            page.wait_for_url(f"{system.url}/ops/login")
