"""A failed answer in Debian's Chromium: the inbox flag, the delivery section, resend by keyboard."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from complaints import store
from complaints.models import Complaint, Reply
from gateway.console.strings import STRINGS
from tests.support.cases import PHONE, seed_case
from tests.support.console_browser import add_staff, console_page, console_settings, require_chromium
from tests.support.system import running_system

ID = STRINGS["id"]
PASSWORD = "kebun raya bogor 1817"
TICKET = "BGR-5D5D5D2"


def test_operator_sees_the_failed_answer_and_sends_it_again_by_sms(tmp_path: Path) -> None:
    """Inbox row marked "pengiriman jawaban gagal" → filter → delivery section → SMS to a typed number."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings = console_settings(
        tmp_path,
        kannel_sendsms_url="http://127.0.0.1:9/cgi-bin/sendsms",
        kannel_username="u",
        kannel_password="p",
        kannel_inbound_token="t",
    )
    with running_system(settings, with_workers=False) as system, sync_playwright() as pw:
        assert system.system is not None
        runtime = system.system.runtime
        add_staff(runtime, email="rina@kotabogor.go.id", name="Rina Operator", role="operator", password=PASSWORD)
        with runtime.sf.begin() as session:
            case = seed_case(
                session,
                TICKET,
                "selesai",
                opd_code="pupr",
                deadline_in=None,
                answer_text="Lubang sudah ditambal.",
                attention="delivery_failed",
                reply_provider="kannel",
            )
            reply_id = store.queue_reply(
                session,
                dedupe_key=f"{case.id}:answer",
                kind="answer",
                channel="sms",
                provider="kannel",
                address=PHONE,
                text=f"{TICKET}: Lubang sudah ditambal.",
                complaint_id=case.id,
            )
            session.get(Reply, reply_id).status = "failed"  # type: ignore[union-attr]
            seed_case(session, "BGR-5D5D5D3", "triase")
        with console_page(pw, system.url, "rina@kotabogor.go.id", PASSWORD) as page:
            rows = page.locator("table.inbox tbody tr")
            expect(rows).to_have_count(2)
            expect(rows.filter(has_text=TICKET)).to_contain_text(ID["attention_delivery_failed"])
            page.screenshot(path=str(tmp_path / "inbox-flagged.png"), full_page=True)
            page.get_by_label(ID["inbox_attention_only"]).check()
            page.get_by_role("button", name=ID["inbox_filter_submit"]).click()
            page.wait_for_url(f"{system.url}/ops/?**attention=1**")
            expect(rows).to_have_count(1)

            page.goto(f"{system.url}/ops/kasus/{TICKET}/pengiriman")
            section = page.locator("section#pengiriman")
            expect(section).to_contain_text(ID["delivery_status_failed"])
            assert PHONE not in page.locator("main").inner_text()
            page.screenshot(path=str(tmp_path / "delivery-failed.png"), full_page=True)
            # Keyboard only: the SMS radio, a number typed as people write it, Enter submits.
            page.get_by_label(ID["resend_via_sms"]).check()
            page.get_by_label(ID["resend_address"]).fill("12345")
            page.keyboard.press("Enter")
            expect(page.get_by_role("alert")).to_contain_text(ID["resend_bad_phone"])
            page.screenshot(path=str(tmp_path / "delivery-refused.png"), full_page=True)
            page.get_by_label(ID["resend_address"]).fill("0813 1111 2222")
            page.keyboard.press("Enter")
            page.wait_for_url(f"{system.url}/ops/kasus/{TICKET}?lang=id#pengiriman")
        with runtime.read_sf() as session:
            case_now = session.scalar(select(Complaint).where(Complaint.ticket == TICKET))
            assert case_now is not None and case_now.attention is None
            sent = session.scalars(select(Reply).where(Reply.complaint_id == case_now.id).order_by(Reply.created_at))
            assert [(r.address, r.status) for r in sent] == [(PHONE, "failed"), ("+6281311112222", "queued")]
