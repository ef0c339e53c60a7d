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


def send_deadline(settings: Settings) -> timedelta:
    """How long a claimed send may legitimately run (the outbound sender's own time-outs)."""
    return timedelta(seconds=2 * settings.send_timeout_seconds + 10)
