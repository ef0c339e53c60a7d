"""A simulated outage on real parts: /ops/health names each broken part in words, and clears after recovery.

Kannel stopped, the IMAP password changed on the mail server, a poison message: the operator reads
"Kannel sendsms refusing ...", "IMAP poller disconnected ...: authentication failed ..." and
"N messages in the dead-letter queue" at the top of the page; after the recovery the page says
everything is running normally. On both ways to run (embedded, PostgreSQL + Redis).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.outage import OUTAGE_CODES, PHONES, codes, outage_rig

TICKET = re.compile(r"BGR-[2-9A-HJ-NP-Z]{7}")


def test_outage_shows_on_the_health_page_in_words_and_clears_after_recovery(
    tmp_path: Path, backend: dict[str, object]
) -> None:
    """Three broken parts, three problems in words; after the recovery, none, and an SMS gets its receipt again."""
    with outage_rig(tmp_path, **backend) as rig:
        # Given a system that is flowing
        assert rig.operator.health_problems() == []
        # When Kannel stops, the mailbox password changes, a poison message and three SMS complaints arrive
        rig.stop_kannel()
        rig.break_imap_password()
        rig.send_poison()
        rig.send_complaints()
        # Then the health page names each of the three, in words (the receipts Kannel refused fail on
        # their rows after their one retry; only the poison message is a dead letter)
        expected = {
            "outbound_failing": r"Critical: Kannel sendsms refusing for \d+ min "
            r"\(last error: cannot connect \(connection refused\)\)",
            "poller_error": r"Critical: IMAP poller disconnected for \d+ min: "
            r"authentication failed \(wrong user or password\)",
            "dead_letters": r"Warning: 1 message in the dead-letter queue",
        }

        def all_said(found: list[tuple[str, str]]) -> bool:
            words = dict(found)
            return all(re.fullmatch(pattern, words.get(code, "")) for code, pattern in expected.items())

        during = rig.wait_for_page(all_said)
        assert codes(during) == OUTAGE_CODES, during  # nothing else is wrong
        assert rig.failed_receipts() == len(PHONES)
        # When everything is put right (and the operator discards the poison message)
        assert rig.restore() == 1
        # Then the page clears and says so, and a new SMS through Kannel gets its receipt
        assert TICKET.search(rig.sms_round_trip())
        assert rig.wait_for_page(lambda found: not found) == []
        assert rig.operator.health_all_well() == "Everything is running normally."
