"""A citizen files a complaint on the web form in real Chromium and follows it to routing."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from config.settings import Settings
from normalizer.identity import validate_nik
from tests.support.city import shipped_city
from tests.support.console_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.images import png
from tests.support.system import running_system

NIK = "3271014501900002"  # 32.71.01 Bogor Selatan, woman (day 45 = 5), 5 Jan 1990, serial 0002
NAME = "Siti Aminah"
ADDRESS = "Jl. Pajajaran No. 5, RT 02/RW 03, Baranangsiang, Bogor Timur"
PHONE = "0812-3456-7890"
TEXT = "Jalan berlubang besar di Jl. Pajajaran dekat Kebun Raya, bahaya untuk motor"


def test_citizen_submits_on_the_web_and_sees_the_complaint_routed(tmp_path: Path) -> None:
    """Form → ticket → tracking page, which within seconds shows the complaint assigned to Dinas PUPR."""
    if not CHROMIUM.exists():
        pytest.fail("install Debian chromium: apt-get install -y chromium", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    city = shipped_city()
    assert validate_nik(NIK, regions=city.regions) is None
    routed_label = city.sop.label("disposisi", "id")
    pupr = city.opds["pupr"].name
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "var",
        host="127.0.0.1",
        port=0,
        redis_url=None,
        database_url=None,
        worker_threads=2,
        sweep_interval_seconds=1.0,
        sweep_after_seconds=5.0,
    )
    with running_system(settings) as system, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 412, "height": 900})  # a phone-sized window
            page.goto(f"{system.url}/lapor")
            expect(page.get_by_role("heading", name="Buat pengaduan")).to_be_visible()
            page.get_by_label("NIK").fill(NIK)
            page.get_by_label("Nama lengkap").fill(NAME)
            page.get_by_label("Alamat").fill(ADDRESS)
            page.get_by_label("No. Telp / HP").fill(PHONE)
            page.get_by_label("Isi pengaduan").fill(TEXT)
            page.get_by_label("Foto").set_input_files(
                files=[{"name": "jalan-berlubang.png", "mimeType": "image/png", "buffer": png(96, 64)}]
            )
            page.screenshot(path=str(tmp_path / "form.png"), full_page=True)
            page.get_by_role("button", name="Kirim pengaduan").click()

            page.wait_for_url(re.compile(r"/lapor/terima/BGR-[0-9A-Z]{7}$"))
            expect(page.get_by_text("Pengaduan diterima. Nomor tiket:")).to_be_visible()
            ticket = page.locator("#ticket").inner_text().strip()
            assert re.fullmatch(r"BGR-[0-9A-Z]{7}", ticket)
            page.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)

            page.get_by_role("link", name="Lihat status pengaduan").click()
            page.wait_for_url(f"{system.url}/lacak/{ticket}")
            deadline = time.monotonic() + 10
            status = page.locator("#status").inner_text().strip()
            while status != routed_label and time.monotonic() < deadline:
                time.sleep(0.3)
                page.reload()
                status = page.locator("#status").inner_text().strip()
            assert status == routed_label, f"status still {status!r} after 10 s"
            expect(page.locator("#opd")).to_have_text(pupr)
            body = page.content()
            for private in (NIK, NAME, "Pajajaran", PHONE):
                assert private not in body
            page.screenshot(path=str(tmp_path / "tracking.png"), full_page=True)
        finally:
            browser.close()
