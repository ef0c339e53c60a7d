"""The README's console quickstart in Debian's Chromium: first admin → Pengguna → a new OPD user logs in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.settings import Settings
from gateway.cli_users import first_admin_lines
from gateway.console.strings import STRINGS
from tests.e2e.test_web_form_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.system import running_system

ID = STRINGS["id"]
ADMIN_PASSWORD = "kebun raya bogor 1817"
OPD_PASSWORD = "istana bogor 1745 baru"


def test_admin_adds_an_opd_user_who_logs_in_with_the_one_time_password(tmp_path: Path) -> None:
    """Admin: banner password → new password → Pengguna → add an OPD user; that user logs in and must change it."""
    if not CHROMIUM.exists():
        pytest.fail("install Debian chromium: apt-get install -y chromium", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "var",
        host="127.0.0.1",
        port=0,
        redis_url=None,
        database_url=None,
        worker_threads=1,
    )
    with running_system(settings, with_workers=False) as system, sync_playwright() as pw:
        assert system.system is not None
        match = re.search(r"one-time password: (\S+)", "\n".join(first_admin_lines(system.system.runtime)))
        assert match
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 700})
            page.goto(f"{system.url}/ops/login")
            page.get_by_label(ID["label_email"]).fill("admin@localhost")
            page.get_by_label(ID["label_password"]).fill(match.group(1))
            page.keyboard.press("Enter")
            page.wait_for_url(f"{system.url}/ops/password")
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
            other.goto(f"{system.url}/ops/login")
            other.get_by_label(ID["label_email"]).fill("ppid.dlh@example.org")
            other.get_by_label(ID["label_password"]).fill(one_time)
            other.keyboard.press("Enter")
            other.wait_for_url(f"{system.url}/ops/password")
            other.get_by_label(ID["label_new_password"], exact=True).fill(OPD_PASSWORD)
            other.get_by_label(ID["label_new_password2"]).fill(OPD_PASSWORD)
            other.keyboard.press("Enter")
            other.wait_for_url(f"{system.url}/ops/")
            expect(other.locator("dl.facts")).to_contain_text(system.system.runtime.config.opds["dlh"].name)
            assert other.get_by_role("link", name=ID["nav_users"]).count() == 0
            other.goto(f"{system.url}/ops/pengguna")
            expect(other.get_by_role("heading", name=ID["users_forbidden_title"])).to_be_visible()
        finally:
            browser.close()
