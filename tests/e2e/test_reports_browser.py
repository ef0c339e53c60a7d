"""The report page in Debian's Chromium: both server-drawn charts load and draw, no script on the page."""

from __future__ import annotations

from pathlib import Path

from gateway.console.strings import STRINGS
from tests.support.console_browser import add_staff, console_page, console_settings, require_chromium
from tests.support.report_cases import seed_november
from tests.support.system import running_system

ID = STRINGS["id"]
PASSWORD = "kebun raya bogor 1817"


def test_report_charts_render_in_chromium(tmp_path: Path) -> None:
    """An operator opens November's report: two SVG images with a real size, no JavaScript; then prints PUPR's month."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings = console_settings(tmp_path)
    with running_system(settings, with_workers=False) as system, sync_playwright() as pw:
        assert system.system is not None
        runtime = system.system.runtime
        add_staff(runtime, email="rina@example.org", name="Rina Operator", role="operator", password=PASSWORD)
        with runtime.sf.begin() as session:
            seed_november(session)
        with console_page(pw, system.url, "rina@example.org", PASSWORD, height=800, java_script_enabled=True) as page:
            page.get_by_role("link", name=ID["nav_reports"]).click()
            page.get_by_label(ID["report_from"]).fill("2026-11-01")
            page.get_by_label(ID["report_to"]).fill("2026-11-30")
            page.get_by_role("group", name=ID["report_period"]).get_by_role("button", name=ID["report_show"]).click()
            expect(page.get_by_text(ID["report_received"].format(n=5))).to_be_visible()
            page.wait_for_load_state("load")  # the images too
            for alt in (ID["report_chart_per_day_alt"], ID["report_chart_compliance_alt"]):
                image = page.get_by_alt_text(alt)
                expect(image).to_be_visible()
                # A broken or empty image has no natural size; a drawn SVG has matplotlib's 8 inches.
                width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
                assert width > 500, alt
            assert page.locator("script").count() == 0
            # The monthly OPD report, printed: no menu or forms on paper, the late step and the signature block.
            opd_form = page.get_by_role("group", name=ID["report_opd_link"])
            opd_form.get_by_label(ID["report_opd_choose"]).select_option("pupr")
            opd_form.get_by_role("button", name=ID["report_show"]).click()
            expect(page.get_by_role("heading", name=ID["report_opd_title"])).to_be_visible()
            page.emulate_media(media="print")
            expect(page.get_by_role("navigation", name=ID["nav_label"])).to_be_hidden()
            expect(page.get_by_text("BGR-BBBBBBB").first).to_be_visible()
            expect(page.get_by_text(ID["report_opd_sign"])).to_be_visible()
            pdf = page.pdf(format="A4")
            assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
