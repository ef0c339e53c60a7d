"""A poison batch in Debian's Chromium: the operator finds it on the dead-letter page, requeues it, the work is done."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from complaints import store
from complaints.models import Complaint, InboxMessage
from gateway.console.strings import STRINGS
from tests.conftest import base_settings
from tests.e2e.test_x import wait_until
from tests.support.console_browser import add_staff, console_page, require_chromium
from tests.support.dead_letters import ERROR, Outage, envelope, spend_budget
from tests.support.system import running_system
from tests.workers.test_dead_letters import FlakyAdapter
from workers import actors
from workers.queue_inspect import dead_letters
from workers.verify import verify_batch

ID = STRINGS["id"]
PASSWORD = "kebun raya bogor 1817"


def test_operator_requeues_a_dead_message_and_sees_the_case_made(
    tmp_path: Path, backend: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dead message listed with its error → fix → tick it → "Antrekan ulang terpilih" → list empty, case exists."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    outage = Outage()
    monkeypatch.setitem(actors.STAGES, "verify_intake", outage.wrap(verify_batch))
    settings = base_settings(tmp_path, reply_max_retries=0, sweep_after_seconds=600, worker_threads=1, **backend)
    with running_system(settings) as system, sync_playwright() as pw:
        assert system.system is not None and system.system.runtime.outbound is not None
        runtime = system.system.runtime
        runtime.outbound.adapters = {"test": FlakyAdapter([])}
        add_staff(runtime, email="rina@kotabogor.go.id", name="Rina Operator", role="operator", password=PASSWORD)
        [accepted] = store.accept_batch(runtime.sf, [envelope("browser-dead")])
        with runtime.sf.begin() as session:
            spend_budget(session, accepted.inbox_id)
        runtime.send("verify_intake", [accepted.inbox_id])
        system.wait_for(lambda s: s.get(InboxMessage, accepted.inbox_id).state == "dead")
        # The inbox row turns dead in the stage; the dead-letter recorder files the message just after.
        [letter], _ = wait_until(lambda: dead_letters(runtime)[0] and dead_letters(runtime))
        with console_page(pw, system.url, "rina@kotabogor.go.id", PASSWORD) as page:
            page.goto(f"{system.url}/ops/health/dead-letters")
            expect(page.get_by_role("heading", name=ID["dlq_title"])).to_be_visible()
            rows = page.locator("table.dead-letters tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text(ID["dlq_actor_verify_intake"])
            expect(rows.first).to_contain_text(ERROR)
            # Its inbox row is listed once, with the message (not again among rows dead on their own).
            expect(rows.first.get_by_role("link", name=accepted.ticket)).to_be_visible()
            expect(page.locator("section.dlq-rows")).to_contain_text(ID["dlq_rows_none"])
            page.screenshot(path=str(tmp_path / "dead-letters.png"), full_page=True)

            outage.end()  # the cause is fixed (the database is back)
            page.get_by_label(ID["dlq_select_label"].format(id=letter.message_id[:8])).check()
            page.get_by_role("button", name=ID["dlq_requeue_selected"]).click()
            expect(page.get_by_role("status")).to_contain_text(ID["dlq_done_requeue"].format(n=1, rows=1))
            expect(page.get_by_text(ID["dlq_empty"])).to_be_visible()
            expect(page.locator("section.dlq-recent")).to_contain_text(ID["dlq_what_requeue"])

            ticket = system.wait_for(
                lambda s: s.scalar(select(Complaint.ticket).where(Complaint.inbox_id == accepted.inbox_id))
            )
            page.goto(f"{system.url}/ops/kasus/{ticket}")
            expect(page.locator("main")).to_contain_text(ticket)
            page.screenshot(path=str(tmp_path / "dead-letter-requeued.png"), full_page=True)
        assert system.db(lambda s: s.get(InboxMessage, accepted.inbox_id).state) == "done"
