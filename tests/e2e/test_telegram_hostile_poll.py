"""Telegram long poll (TELEGRAM_MODE=poll): hostile updates in one getUpdates batch block nothing.

Over a webhook a bad update is answered 400 and Telegram drops it; in poll mode there is nobody to
answer, and an update the poller cannot get past would be fetched again at the same offset for
ever, blocking every citizen behind it. The local fake Bot API serves updates with lone surrogates
and NUL in the text, a 4,096-character text, entities pointing outside it, markup in the sender's
name, a service message with no content, an unknown update type and a channel post, then a good
complaint: the good one is answered, and the stored offset moves past them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.embedded import start_system
from tests.conftest import base_settings
from tests.e2e.test_telegram import TOKEN, Citizen, full_report_polled
from tests.support.error_logs import error_records, no_errors
from tests.support.fake_telegram import FakeTelegram


def hostile_updates(citizen: Citizen) -> list[dict[str, Any]]:
    """Updates a client, a bot farm or a newer Bot API can make Telegram deliver."""
    updates = [
        citizen.update("jalan \ud800 rusak \x00 parah"),
        citizen.update("x" * 4096),
        citizen.update("lampu mati", entities=[{"type": "bold", "offset": 5000, "length": 10}]),
        citizen.update(None, new_chat_title="<script>alert(1)</script>"),
        citizen.update("<b>Siti</b>", **{"from": {"id": 7, "is_bot": False, "first_name": "<img src=x onerror=1>"}}),
    ]
    citizen.next_update += 1
    updates.append({"update_id": citizen.next_update, "some_future_update": {"id": 1, "weird": [None, {}]}})
    citizen.next_update += 1
    channel_post = {"message_id": 9, "chat": {"id": -100123, "type": "channel", "title": "Kanal"}, "date": 0}
    updates.append({"update_id": citizen.next_update, "channel_post": {**channel_post, "text": "halo"}})
    return updates


async def test_hostile_updates_in_a_poll_batch_block_no_one(tmp_path: Path) -> None:
    """A batch of hostile updates, then a good complaint: it is answered and the offset passes them all."""
    async with FakeTelegram(TOKEN) as tg:
        settings = base_settings(tmp_path, telegram_bot_token=TOKEN, telegram_mode="poll", telegram_api_base=tg.url)
        # The hostile updates come from another chat: the good citizen's first answer is their own.
        for update in hostile_updates(Citizen(tg.push_update, tg, chat_id=2222222, first_update=30000)):
            tg.push_update(update)
        citizen = Citizen(tg.push_update, tg, first_update=40000)
        system = await start_system(settings)
        try:
            with error_records() as errors:
                await full_report_polled(system, citizen)
                # The hostile chat's text messages were read and answered too, not skipped.
                assert [m for m in tg.messages if m.chat_id == "2222222"]
            no_errors(errors)
        finally:
            await system.stop()
