"""Issue 14 in Debian's Chromium: an OPD user on an anonymous case sees "Pelapor", never the reporter,
whatever they click or type into the address bar."""

from __future__ import annotations

from pathlib import Path

from gateway.console.strings import STRINGS
from normalizer.tickets import new_ticket
from tests.support.cases import ADDRESS, EMAIL, NAME, NIK, PHONE, seed_case
from tests.support.console_browser import add_staff, console_page, console_settings, require_chromium
from tests.support.system import running_system

ID = STRINGS["id"]
PASSWORD = "kebun raya bogor 1817"
SECRETS = (NIK, NAME, PHONE, EMAIL, ADDRESS, "Rahmawati", "5432", "0001")


def test_an_opd_user_never_sees_the_reporter_of_an_anonymous_case(tmp_path: Path) -> None:
    """Inbox → case page → delivery page → a typed ?identitas=1: "Pelapor" everywhere, no identity, no reveal link."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings = console_settings(
        tmp_path,
        opd_sees_identity=True,  # OPDs see identities in general: the case's own flag must still hide it
    )
    with running_system(settings, with_workers=False) as system, sync_playwright() as pw:
        assert system.system is not None
        runtime = system.system.runtime
        add_staff(runtime, email="dewi@example.org", name="Dewi DLH", role="opd", opd_code="dlh", password=PASSWORD)
        ticket = new_ticket()
        with runtime.sf.begin() as session:
            seed_case(
                session,
                ticket,
                "disposisi",
                opd_code="dlh",
                anonim=True,
                text=f"Saya {NAME} ({PHONE}), pungli di kelurahan.",
            )
        with console_page(pw, system.url, "dewi@example.org", PASSWORD) as page:
            page.get_by_role("link", name=ticket).click()
            page.wait_for_url(f"{system.url}/ops/kasus/{ticket}")
            expect(page.locator(".identity")).to_contain_text(ID["case_identity_withheld"])
            expect(page.locator(".complaint")).to_contain_text("Pelapor (Pelapor), pungli di kelurahan.")
            expect(page.get_by_role("link", name=ID["case_identity_show"])).to_have_count(0)
            for url in (
                f"{system.url}/ops/kasus/{ticket}",
                f"{system.url}/ops/kasus/{ticket}?identitas=1",
                f"{system.url}/ops/kasus/{ticket}/pengiriman",
            ):
                page.goto(url)
                html = page.content()
                for secret in SECRETS:
                    assert secret not in html, (url, secret)
