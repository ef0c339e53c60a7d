"""Issue 8's browser walk: every SOP step in Debian's Chromium, on SQLite and on PostgreSQL + Redis.

A web-form complaint and an SMS complaint (through a real Kannel) go: operator verifies and
disposes to OPD A (dlh) → OPD A returns it as not theirs → operator re-routes to OPD B (pupr) →
OPD B accepts, follows up, answers → operator receives, edits and approves → the citizen's SMS is
at Kannel's fake SMSC (and the e-mail at the SMTP sink for the web form); /lacak shows `selesai`.

Selectors follow the case-page contract (one form per action, ``button[name=action][value=...]``):
to adjust one, change :func:`act` or the field names in :func:`walk_case`.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.cli_users import accounts_for_runtime
from tests.conftest import base_settings
from tests.e2e.test_web_form_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.city import shipped_city
from tests.support.images import png
from tests.support.kannel import KannelHarness, running_kannel
from tests.support.smtp_sink import SmtpSink
from tests.support.system import SystemThread, free_port, running_system

SHORT_CODE = "1708"
TOKEN = "kannel-inbound-secret"
MAILBOX = "lapor@bogorkota.go.id"
PASSWORD = "kebun raya bogor 1817"
OPERATOR = "operator@bogorkota.go.id"
OPD_A, OPD_B = "dlh", "pupr"
USERS = {OPERATOR: ("operator", None), "dlh@bogorkota.go.id": ("opd", OPD_A), "pupr@bogorkota.go.id": ("opd", OPD_B)}
# Valid Kota Bogor NIKs (district 32.71.01, women born in 1990, serial 0002).
SMS_NIK, SMS_PHONE = "3271014505900002", "+6281234567890"
WEB_NIK, WEB_PHONE, WEB_EMAIL = "3271014501900002", "0812-3456-7891", "siti.aminah@example.org"
# Words the shipped routing table gives to DLH (OPD A): the proposal the operator disposes to.
SMS_TEXT = "Sampah menumpuk di TPS pasar Bogor sudah seminggu, bau dan banyak lalat"
WEB_TEXT = "Sampah menumpuk di pinggir jalan Pajajaran, tidak diangkut sejak minggu lalu"
TICKET = re.compile(r"BGR-[0-9A-Z]{7}")
TIMEOUT_MS = 20_000


@pytest.fixture
def walk_system(tmp_path: Path, backend: dict[str, Any]) -> Iterator[tuple[KannelHarness, SmtpSink, SystemThread]]:
    """Gateway (web + workers) with a real Kannel, replies by mail to a sink, AUTO_DISPOSE off, three staff."""
    port = free_port()
    get_url = (
        f"http://127.0.0.1:{port}/channels/sms/kannel?token={TOKEN}"
        "&from=%p&to=%P&text=%b&id=%I&ts=%T&smsc=%i&coding=%c&charset=%C"
    )
    with running_kannel(tmp_path / "kannel", get_url) as kannel, SmtpSink() as sink:
        settings = base_settings(
            tmp_path,
            port=port,
            public_base_url=f"http://127.0.0.1:{port}",
            kannel_sendsms_url=kannel.sendsms_url,
            kannel_username=kannel.username,
            kannel_password=kannel.password,
            kannel_from=SHORT_CODE,
            kannel_inbound_token=TOKEN,
            smtp_host=sink.host,
            smtp_port=sink.port,
            smtp_starttls=False,
            mail_from=MAILBOX,
            auto_dispose=False,
            **backend,
        )
        with running_system(settings) as system:
            assert system.system is not None
            accounts = accounts_for_runtime(system.system.runtime)
            for email, (role, opd) in USERS.items():
                accounts.create_user(email=email, name=email.split("@")[0], role=role, opd_code=opd, password=PASSWORD)
            yield kannel, sink, system


def save_screenshot(page: Any, tmp_path: Path, name: str) -> None:
    """A full-page PNG under the test's tmp dir, copied to $CONSOLE_SCREENSHOTS when set (for the lead)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("CONSOLE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def login(page: Any, url: str, email: str) -> None:
    """Log in on /ops/login as ``email`` (a fresh context per user, so no logout is needed)."""
    page.goto(f"{url}/ops/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/ops/(\?.*)?$"), timeout=TIMEOUT_MS)


def wait_for_inbox_row(page: Any, url: str, ticket: str, timeout: float = 20.0) -> None:
    """Reload the inbox until the ticket's row links to its case page (the workers are asynchronous)."""
    link = page.locator(f'a[href="/ops/kasus/{ticket}"]')
    deadline = time.monotonic() + timeout
    page.goto(f"{url}/ops/")
    while link.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
        page.reload()
    assert link.count() > 0, f"{ticket} not in the inbox after {timeout:.0f} s"


def action_form(page: Any, action: str) -> Any:
    """The case page's one form for ``action`` (contract: its submit is ``button[name=action][value=action]``)."""
    form = page.locator("form", has=page.locator(f'button[name=action][value="{action}"]'))
    assert form.count() == 1, f"no single {action!r} form on {page.url}: {page.locator('main').inner_text()[:300]!r}"
    return form


def act(
    page: Any, ticket: str, action: str, fields: dict[str, str] | None = None, files: dict[str, Any] | None = None
) -> None:
    """Fill the case page's form for ``action`` and submit it; the browser lands on the case page again."""
    form = action_form(page, action)
    for name, payload in (files or {}).items():
        form.locator(f'input[type=file][name="{name}"]').set_input_files(files=[payload])
    for name, value in (fields or {}).items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    # The page is already at the case URL, so wait for the POST → 303 → GET navigation itself.
    with page.expect_navigation(timeout=TIMEOUT_MS):
        form.locator(f'button[name=action][value="{action}"]').click()
    assert re.search(rf"/ops/kasus/{ticket}(\?.*)?$", page.url), f"{action} landed on {page.url}"
    assert page.locator("body").inner_text(), "empty page after the action"


def open_case(page: Any, url: str, ticket: str) -> None:
    """The case page, reached from the inbox row as a user would."""
    wait_for_inbox_row(page, url, ticket)
    page.locator(f'a[href="/ops/kasus/{ticket}"]').first.click()
    page.wait_for_url(f"{url}/ops/kasus/{ticket}", timeout=TIMEOUT_MS)


def has_action(page: Any, action: str) -> bool:
    return bool(page.locator(f'button[name=action][value="{action}"]').count())


def walk_case(browser: Any, url: str, ticket: str, answer: str, tmp_path: Path, shots: bool) -> None:
    """Steps 3–9 through the console as operator, OPD A, OPD B."""
    operator, opd_a, opd_b = (browser.new_context().new_page() for _ in range(3))
    for page in (operator, opd_a, opd_b):
        page.set_default_timeout(TIMEOUT_MS)
    login(operator, url, OPERATOR)
    login(opd_a, url, "dlh@bogorkota.go.id")
    login(opd_b, url, "pupr@bogorkota.go.id")
    # Step 3–4: the operator sees the case with its proposal, verifies (unless the worker did) and disposes.
    wait_for_inbox_row(operator, url, ticket)
    if shots:
        save_screenshot(operator, tmp_path, "walk-operator-inbox")
    open_case(operator, url, ticket)
    if has_action(operator, "verify"):
        act(operator, ticket, "verify")
    selected = action_form(operator, "dispose").locator("select[name=opd]")
    assert selected.input_value() == OPD_A, "the routing proposal should be OPD A"
    act(operator, ticket, "dispose", {"opd": OPD_A})
    if shots:
        save_screenshot(operator, tmp_path, "walk-case-page")
    # Step 5 return path: OPD A says it is not theirs.
    open_case(opd_a, url, ticket)
    act(opd_a, ticket, "return_to_operator", {"reason": "Bukan kewenangan DLH: jalan rusak urusan PUPR."})
    # The operator re-routes to OPD B with a reason.
    open_case(operator, url, ticket)
    act(operator, ticket, "reroute", {"opd": OPD_B, "reason": "Dialihkan ke PUPR sesuai kewenangan."})
    # Steps 5–7: OPD B accepts, records a follow-up with a photo, answers.
    open_case(opd_b, url, ticket)
    act(opd_b, ticket, "accept")
    photo = {"name": "lokasi.png", "mimeType": "image/png", "buffer": png(96, 64)}
    act(opd_b, ticket, "follow_up", {"note": "Tim sudah meninjau lokasi pada hari ini."}, {"photos": photo})
    act(opd_b, ticket, "answer", {"answer": "Sudah ditangani oleh tim PUPR."})
    # Steps 8–9: the operator receives the answer, edits it and approves; it leaves to the citizen.
    open_case(operator, url, ticket)
    if has_action(operator, "receive_answer"):
        act(operator, ticket, "receive_answer")
    form = action_form(operator, "approve")
    assert "Sudah ditangani oleh tim PUPR." in form.locator("textarea[name=answer]").input_value()
    act(operator, ticket, "approve", {"answer": answer})
    for page in (operator, opd_a, opd_b):
        page.context.close()


def assert_tracking_shows_closed(browser: Any, url: str, ticket: str) -> None:
    """The public tracking page shows the citizen label of `selesai`, without personal data."""
    page = browser.new_page()
    page.goto(f"{url}/lacak/{ticket}")
    label = shipped_city().sop.label("selesai", "id")
    assert page.locator("#status").inner_text().strip() == label
    body = page.content()
    for private in (SMS_NIK, WEB_NIK, WEB_EMAIL, SMS_PHONE):
        assert private not in body
    page.close()


def file_on_the_web(browser: Any, url: str) -> str:
    """The citizen side of the web case: /lapor with identity and e-mail; returns the ticket."""
    page = browser.new_page()
    page.goto(f"{url}/lapor")
    page.locator("input[name=nik]").fill(WEB_NIK)
    page.get_by_label("Nama lengkap").fill("Siti Aminah")
    page.get_by_label("Alamat").fill("Jl. Pajajaran No. 5, Bogor Timur")
    page.get_by_label("No. Telp / HP").fill(WEB_PHONE)
    page.locator("input[name=email]").fill(WEB_EMAIL)
    page.get_by_label("Isi pengaduan").fill(WEB_TEXT)
    page.get_by_role("button", name="Kirim pengaduan").click()
    page.wait_for_url(re.compile(r"/lapor/terima/BGR-[0-9A-Z]{7}$"), timeout=TIMEOUT_MS)
    ticket = page.locator("#ticket").inner_text().strip()
    page.close()
    return ticket


def test_every_sop_step_in_the_browser(
    tmp_path: Path, walk_system: tuple[KannelHarness, SmtpSink, SystemThread]
) -> None:
    """SMS and web complaints walk steps 1–9 in the console; the answers reach the phone and the mailbox."""
    if not CHROMIUM.exists():
        pytest.fail("install Debian chromium: apt-get install -y chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    kannel, sink, system = walk_system
    started = time.monotonic()
    kannel.inject(SMS_PHONE, SHORT_CODE, f"LAPOR#{SMS_NIK}#Siti Aminah#Jl. Pajajaran No. 5#{SMS_TEXT}")
    ack = kannel.wait_for_mt(SMS_PHONE, timeout=20)
    match = TICKET.search(ack.text)
    assert match, ack.text
    sms_ticket = match.group(0)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            web_ticket = file_on_the_web(browser, system.url)
            sms_answer = "Jalan sudah diperbaiki PUPR pada 4 Desember. Terima kasih atas laporannya."
            walk_case(browser, system.url, sms_ticket, sms_answer, tmp_path, shots=True)
            sms = kannel.wait_for_mt(SMS_PHONE, timeout=20, predicate=lambda m: "diperbaiki" in m.text)
            assert sms_answer[:60] in sms.text and sms_ticket in sms.text, sms.text

            web_answer = "Sampah sudah diangkut dan jadwal angkut ditambah. Terima kasih."
            walk_case(browser, system.url, web_ticket, web_answer, tmp_path, shots=False)
            mail = sink.wait_for(lambda m: WEB_EMAIL in m.rcpt_tos and "diangkut" in m.text(), timeout=20)
            assert web_ticket in mail.subject
            # A web-form case has no citizen mail to answer, so the ticket in the subject is its thread
            # (channels/email/threads.py adds In-Reply-To/References only when there is an original).
            assert mail.message["Message-ID"] and mail.message["Auto-Submitted"] == "auto-replied"

            for ticket in (sms_ticket, web_ticket):
                assert_tracking_shows_closed(browser, system.url, ticket)
        finally:
            browser.close()
    elapsed = time.monotonic() - started
    print(f"\nwalk of two complaints through every step: {elapsed:.1f} s")
    assert elapsed < 120
