"""Retry budgets kept on the rows, so they hold whichever worker or sweep runs the work.

A stage that fails an item records on its row how many attempts were made and when the next
one is due. Dramatiq's own retry chain brings the item back by then; the sweeper re-enqueues
only rows whose next attempt was due well before now (the chain was lost or its worker died),
and no attempt starts once the row's budget (``REPLY_MAX_RETRIES`` + 1 attempts) is spent.
"""

from __future__ import annotations

from datetime import timedelta

from config.settings import Settings

# A send whose outcome is unknown (the request may have gone out) is tried once more at most.
UNKNOWN_OUTCOME_RETRIES = 1


def attempt_budget(settings: Settings) -> int:
    """How many attempts one row gets in all: the first one and REPLY_MAX_RETRIES retries."""
    return settings.reply_max_retries + 1


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """The latest moment, after failed attempt number ``attempts``, that Dramatiq retries it.

    Dramatiq waits ``min_backoff * 2**retries`` times a jitter of 1-2, at most ``max_backoff``;
    this is that wait's upper bound, so a row is "due" only once its retry should have run.
    """
    exponent = min(max(attempts, 0), 32)
    return timedelta(milliseconds=min(settings.retry_min_backoff_ms * 2**exponent, settings.retry_max_backoff_ms))


# A long answer goes out as several requests (Telegram and WhatsApp cut at 4,096 characters, X
# sends a public notice and a DM): the outbound sender allows one request time-out per part, up
# to this many.
PART_CHARS = 4000
MAX_PARTS_WAITED = 6


def send_time_limit(settings: Settings, text: str) -> float:
    """Seconds one reply's whole send may take: a request's time-out (+5 s) per part it may need."""
    return (settings.send_timeout_seconds + 5) * min(MAX_PARTS_WAITED, 2 + len(text) // PART_CHARS)


def send_deadline(settings: Settings, text: str) -> timedelta:
    """How long a claimed send of ``text`` may legitimately run: its send time limit, plus margin.

    Only after this is a row still ``sending`` taken for a dead worker's and reclaimed; a live
    send of a long answer must never be reclaimed (it would go out twice), and a short one is
    reclaimed soon after its worker died.
    """
    return timedelta(seconds=send_time_limit(settings, text) + 15)
