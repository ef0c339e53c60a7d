"""The chaos run's verdict (scripts/chaos.py): a loss, a duplicate or a wrong acknowledgement fails it."""

from __future__ import annotations

from collections import Counter

from scripts.chaos import tally
from scripts.chaos_load import Sender


def senders() -> list[Sender]:
    """One citizen per channel, all of whom sent their complaint."""
    return [Sender(i, channel, sent=True) for i, channel in enumerate(("sms", "web", "email", "telegram"))]


def test_one_case_and_one_acknowledgement_each_passes() -> None:
    sms, web, email, chat = senders()
    # Addresses as the database holds them: E.164 phones, the web citizen's phone, e-mail, chat id.
    stored = [("+628120000000", 1), ("+628130000001", 1), ("Warga2@email.example.org", 1), ("500000003", 1)]
    acks = Counter({sms.key: 1, email.key: 1, chat.key: 1})
    totals = tally([sms, web, email, chat], stored, acks, receipts=[("+628130000001", 1)])
    assert (totals["sent"], totals["stored"], totals["lost"], totals["dup"], totals["acks"]) == (4, 4, 0, 0, 4)
    assert not totals["failed"]


def test_loss_duplicate_and_wrong_acknowledgements_each_fail() -> None:
    sms, web, email, chat = senders()
    stored = [("+628120000000", 2), ("+628130000001", 1), ("warga2@email.example.org", 1)]  # chat lost
    acks = Counter({sms.key: 2, email.key: 1, chat.key: 1})  # the SMS citizen heard twice, the web one never
    totals = tally([sms, web, email, chat], stored, acks)
    assert (totals["lost"], totals["dup"], totals["missing_acks"], totals["extra_acks"]) == (1, 1, 1, 1)
    assert totals["lost_by_channel"] == Counter({"telegram": 1})
    assert totals["failed"]


def test_senders_that_could_not_send_are_not_counted() -> None:
    sms, web, email, chat = senders()
    web.sent = False  # the form never got through: nothing to find, nothing lost
    totals = tally([sms, web, email, chat], [("+628120000000", 1)], Counter({sms.key: 1}))
    assert totals["sent"] == 3 and totals["lost"] == 2
