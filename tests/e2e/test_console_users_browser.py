"""The README's console quickstart in Debian's Chromium: first admin → Pengguna → a new OPD user logs in."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.cli_users import first_admin_lines
from gateway.console.strings import STRINGS
from tests.support.console_browser import chromium, console_settings, log_in, require_chromium
from tests.support.system import running_system

ID = STRINGS["id"]
ADMIN_PASSWORD = "kebun raya bogor 1817"
OPD_PASSWORD = "istana bogor 1745 baru"


def test_admin_adds_an_opd_user_who_logs_in_with_the_one_time_password(tmp_path: Path) -> None:
    """Admin: banner password → new password → Pengguna → add an OPD user; that user logs in and must change it."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings = console_settings(tmp_path)
    with running_system(settings, with_workers=False) as system, sync_playwright() as pw:
        assert system.system is not None
        match = re.search(r"one-time password: (\S+)", "\n".join(first_admin_lines(system.system.runtime)))
        assert match
        with chromium(pw) as browser:
            page = browser.new_page(viewport={"width": 1024, "height": 700})
            log_in(page, system.url, "admin@localhost", match.group(1), lands_on="/ops/password")
            page.get_by_label(ID["label_new_password"], exact=True).fill(ADMIN_PASSWORD)
            page.get_by_label(ID["label_new_password2"]).fill(ADMIN_PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url(f"{system.url}/ops/")

            page.get_by_role("navigation", name=ID["nav_label"]).get_by_role("link", name=ID["nav_users"]).click()
            page.wait_for_url(f"{system.url}/ops/pengguna")
            expect(page.get_by_role("heading", name=ID["users_title"])).to_be_visible()
            page.get_by_role("link", name=ID["users_add"]).click()
            page.get_by_label(ID["label_email"]).fill("ppid.dlh@example.org")
            page.get_by_label(ID["label_name"]).fill("Dewi Lingkungan")
            page.get_by_label(ID["label_role"]).select_option("opd")
            page.get_by_role("button", name=ID["users_new_submit"]).click()
            expect(page.get_by_text(ID["users_err_opd_missing"])).to_be_visible()  # forgot the OPD: 422, kept
            expect(page.get_by_label(ID["label_name"])).to_have_value("Dewi Lingkungan")
            page.get_by_label(ID["label_opd"]).select_option("dlh")
            page.get_by_role("button", name=ID["users_new_submit"]).click()
            page.wait_for_url(re.compile(r".*/ops/pengguna/\d+$"))
            one_time = page.locator("#one-time-password").inner_text()
            assert len(one_time) >= 16 and one_time not in page.url
            page.screenshot(path=str(tmp_path / "console-user-added.png"), full_page=True)
            page.get_by_role("link", name=ID["users_back"]).click()
            row = page.locator("table.users tbody tr", has_text="Dewi Lingkungan")
            expect(row).to_contain_text(ID["role_opd"])
            expect(row).to_contain_text(system.system.runtime.config.opds["dlh"].name)
            page.screenshot(path=str(tmp_path / "console-users.png"), full_page=True)

            other = browser.new_context().new_page()  # the new colleague, on their own browser
            log_in(other, system.url, "ppid.dlh@example.org", one_time, lands_on="/ops/password")
            other.get_by_label(ID["label_new_password"], exact=True).fill(OPD_PASSWORD)
            other.get_by_label(ID["label_new_password2"]).fill(OPD_PASSWORD)
            other.keyboard.press("Enter")
            other.wait_for_url(f"{system.url}/ops/")
            expect(other.locator("dl.facts")).to_contain_text(system.system.runtime.config.opds["dlh"].name)
            assert other.get_by_role("link", name=ID["nav_users"]).count() == 0
            other.goto(f"{system.url}/ops/pengguna")
            expect(other.get_by_role("heading", name=ID["users_forbidden_title"])).to_be_visible()
