"""Injection in Chromium: what a citizen types into every web-form field stays text on every page.

A citizen files a complaint whose name, address, text and photo file name carry HTML/JS, SQL
fragments and CRLF (a first post with a bad NIK is refused, so the form also echoes them back).
Every page that shows them — the refused form, the receipt, the tracking page and look-up, the
staff inbox, the case page with and without the personal data revealed, the delivery page, the
duplicate proposals of two alike cases, reports, health and the public statistics —
is opened in Debian's Chromium. On each, no script ran (``window.__pwned`` stays undefined, no
dialog opened) and the DOM holds no element the payloads made (no ``on*`` attribute or
``<script>`` naming ``__pwned``): escaping is checked, not only the Content-Security-Policy.
The stored case holds the text exactly as typed: the SQL fragments were data, not SQL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from complaints.models import Complaint
from gateway.console.strings import STRINGS
from normalizer.tickets import new_ticket
from tests.e2e.test_web_form_browser import NIK, PHONE
from tests.support.cases import seed_case
from tests.support.console_browser import add_staff, chromium, console_settings, log_in, require_chromium
from tests.support.images import png
from tests.support.system import running_system

if TYPE_CHECKING:
    from playwright.sync_api import Page

ID = STRINGS["id"]
PASSWORD = "kebun raya bogor 1817"
# A name may hold no digits (the form checks that), so the payloads set true, not 1.
NAME = "Siti Aminah\"'><svg onload=\"window.__pwned=true\"></svg>' OR ''='"
ADDRESS = (
    "Jl. Pajajaran No. 5</textarea><script>window.__pwned=true</script>'; DROP TABLE complaints;--\r\n"
    "Bcc: victim@example.com"
)
TEXT = (
    'Jalan berlubang <img src=x onerror="window.__pwned=true"> {{7*7}} ${7*7} '
    '<a href="javascript:window.__pwned=true">klik</a> \' OR 1=1; --\r\nX-Injected: yes'
)
DUPLICATE = 'Jalan berlubang besar Pajajaran dekat Kebun Raya <img src=x onerror="window.__pwned=true"> bahaya motor'
PHOTO_NAME = '"><img src=x onerror=window.__pwned=true>.png'

INJECTED_DOM = """() => [...document.querySelectorAll('*')].some(el =>
    (el.tagName === 'SCRIPT' && el.textContent.includes('__pwned')) ||
    [...el.attributes].some(a => (a.name.startsWith('on') || a.value.startsWith('javascript:'))
                                 && a.value.includes('__pwned')))"""


def assert_nothing_ran(page: Page, where: str, dialogs: list[str]) -> None:
    """No script ran on the page, no dialog opened, and the payloads made no element or handler."""
    assert page.evaluate("typeof window.__pwned") == "undefined", f"{where}: a script ran"
    assert not page.evaluate(INJECTED_DOM), f"{where}: a payload became markup"
    assert not dialogs, f"{where}: a dialog opened: {dialogs}"


def test_payloads_in_every_field_stay_text_on_every_page(tmp_path: Path) -> None:
    """Refused form, receipt, tracking, look-up, inbox, case page (masked and revealed), delivery: nothing runs."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings = console_settings(
        tmp_path,
        auto_dispose=False,  # the case stays in the operator's inbox
    )
    with running_system(settings) as system, sync_playwright() as pw:
        assert system.system is not None
        runtime = system.system.runtime
        add_staff(runtime, email="rina@example.org", name="Rina Operator", role="operator", password=PASSWORD)
        with chromium(pw) as browser:
            page = browser.new_page(viewport={"width": 1024, "height": 800})
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

            # A first post with a NIK that is no NIK: refused, every value echoed back into the form.
            page.goto(f"{system.url}/lapor")
            page.get_by_label("NIK").fill("<script>window.__pwned=true</script>")
            page.get_by_label("Nama lengkap").fill(NAME)
            page.get_by_label("Alamat").fill(ADDRESS)
            page.get_by_label("No. Telp / HP").fill(PHONE)
            page.get_by_label("Isi pengaduan").fill(TEXT)
            page.get_by_label("Foto").set_input_files(
                files=[{"name": PHOTO_NAME, "mimeType": "image/png", "buffer": png(32, 32)}]
            )
            page.get_by_role("button", name="Kirim pengaduan").click()
            page.wait_for_load_state()
            expect(page.locator(".summary")).to_be_visible()
            assert_nothing_ran(page, "refused form", dialogs)
            assert page.get_by_label("Nama lengkap").input_value() == NAME  # echoed as a value, intact

            # Corrected: the kept photo (its name a payload too) goes with the second post.
            page.get_by_label("NIK").fill(NIK)
            page.get_by_role("button", name="Kirim pengaduan").click()
            page.wait_for_url(re.compile(r"/lapor/terima/BGR-[0-9A-Z]{7}$"))
            ticket = page.locator("#ticket").inner_text().strip()
            assert_nothing_ran(page, "receipt", dialogs)

            page.goto(f"{system.url}/lacak/{ticket}")
            assert_nothing_ran(page, "tracking page", dialogs)
            page.goto(f"{system.url}/lacak?tiket=%3Cscript%3Ewindow.__pwned%3Dtrue%3C%2Fscript%3E")
            assert_nothing_ran(page, "look-up echoing a ticket", dialogs)
            page.goto(f"{system.url}/lacak/%3Csvg%20onload%3Dwindow.__pwned%3Dtrue%3E")
            assert_nothing_ran(page, "not-found page", dialogs)

            case = system.wait_for(lambda s: s.scalar(select(Complaint).where(Complaint.ticket == ticket)), timeout=20)
            assert case.text is not None and TEXT.replace("\r\n", "\n") in case.text  # SQL stayed data

            log_in(page, system.url, "rina@example.org", PASSWORD)
            assert_nothing_ran(page, "inbox", dialogs)
            page.get_by_role("link", name=ticket).click()
            page.wait_for_url(f"{system.url}/ops/kasus/{ticket}")
            expect(page.locator(".complaint")).to_contain_text("<img src=x onerror=")  # shown as text
            assert_nothing_ran(page, "case page", dialogs)
            page.goto(f"{system.url}/ops/kasus/{ticket}?identitas=1")
            expect(page.locator(".identity")).to_contain_text("<svg onload=")
            expect(page.locator(".identity")).to_contain_text("</textarea><script>")
            assert_nothing_ran(page, "case page, personal data revealed", dialogs)
            page.goto(f"{system.url}/ops/kasus/{ticket}/pengiriman")
            assert_nothing_ran(page, "delivery page", dialogs)
            page.screenshot(path=str(tmp_path / "delivery.png"), full_page=True)

            # Two routed cases alike: each proposes the other as a duplicate, with its words and excerpt.
            alike = [new_ticket(), new_ticket()]
            with runtime.sf.begin() as session:
                for number, other in enumerate(alike):
                    seed_case(session, other, "disposisi", opd_code="pupr", subject=NAME, text=f"{DUPLICATE} {number}")
            page.goto(f"{system.url}/ops/kasus/{alike[0]}")
            expect(page.locator("section.duplicates")).to_contain_text(alike[1])
            expect(page.locator("section.duplicates")).to_contain_text("onerror")  # the excerpt, as text
            assert_nothing_ran(page, "duplicate proposals", dialogs)
            for path in ("/ops/reports", "/ops/health", "/statistik"):
                page.goto(f"{system.url}{path}")
                assert_nothing_ran(page, path, dialogs)
