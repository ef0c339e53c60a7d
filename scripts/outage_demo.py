"""A live outage on a real running system, and what the operator's health page says about it (issue 9).

Starts on loopback a real Dovecot (the city's mailbox), a real Kannel (bearerbox, smsbox, fake
SMSC) and the whole gateway (web, workers, IMAP poller, sweeper, monitor), embedded by default or
on PostgreSQL + Redis with ``--backend distributed``. Then: stops Kannel's smsbox and bearerbox,
changes the mailbox password on the mail server, sends a poison message (one no worker can run)
and three SMS complaints, and prints the problem list read off ``/ops/health`` by a logged-in
operator, exactly as the page shows it. Then it puts everything right, discards the poison
message as an operator would, and prints the list again. The minute thresholds are 0 here
(``HEALTH_OUTBOUND_FAILING_MINUTES``, ``HEALTH_POLLER_ERROR_MINUTES``), so each problem shows
as soon as it is true. Takes about 15-60 s.

Run from the repository root: ``make outage-demo`` or ``.venv/bin/python scripts/outage_demo.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.logging import configure_logging  # noqa: E402
from tests.support import services  # noqa: E402
from tests.support.outage import OUTAGE_CODES, PHONES, OutageRig, codes, outage_rig  # noqa: E402


class Clock:
    """Seconds since the demo started, for each line it prints."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        """Print one narrated step."""
        print(f"[{time.monotonic() - self.started:5.1f} s] {text}", flush=True)


def show(clock: Clock, title: str, found: list[tuple[str, str]], all_well: str | None) -> None:
    """Print the page's problem list (or its all-is-well line) under a title."""
    clock.say(title)
    for code, words in found:
        print(f"      - {words}   [{code}]")
    if not found:
        print(f"      {all_well}")


@contextmanager
def backend_settings(kind: str) -> Iterator[dict[str, Any]]:
    """No overrides (SQLite + in-process queue), or a fresh PostgreSQL database and Redis namespace."""
    if kind == "embedded":
        yield {}
        return
    url, name = services.create_pg_database()
    redis_url = services.check_redis()
    namespace = f"intake-outage-{name[-10:]}"
    try:
        yield {"database_url": url, "redis_url": redis_url, "redis_namespace": namespace}
    finally:
        services.drop_namespace(redis_url, namespace)
        services.drop_pg_database(name)


def run(rig: OutageRig, clock: Clock) -> None:
    """Break the three parts, show the page, put them right, show it again."""
    show(clock, "/ops/health before the outage:", rig.operator.health_problems(), rig.operator.health_all_well())
    rig.stop_kannel()
    clock.say("Kannel's smsbox and bearerbox stopped (sendsms refuses connections)")
    rig.break_imap_password()
    clock.say("mailbox password changed in Dovecot's passwd file; the poller's session kicked")
    rig.send_poison()
    clock.say("poison message sent: verify_intake with a keyword this release's actor does not take")
    rig.send_complaints()
    clock.say(f"{len(PHONES)} SMS complaints handed to the gateway's Kannel webhook (their receipts need sendsms)")

    def outage_said(found: list[tuple[str, str]]) -> bool:
        words = dict(found)
        return OUTAGE_CODES <= codes(found) and "authentication" in words.get("poller_error", "")

    during = rig.wait_for_page(outage_said)
    show(clock, "/ops/health during the outage (as the operator reads it, lang=en):", during, None)
    show(clock, "the same list in the console's default language (lang=id):", rig.operator.health_problems("id"), None)
    clock.say(f"receipts given up after their retry while Kannel was down: {rig.failed_receipts()}")

    discarded = rig.restore()
    clock.say(f"restored: Kannel started, the right password back, {discarded} poison message discarded")
    receipt = rig.sms_round_trip()
    clock.say(f"a new SMS through Kannel got its receipt: {receipt[:60]!r}...")
    after = rig.wait_for_page(lambda found: not found)
    show(clock, "/ops/health after the recovery:", after, rig.operator.health_all_well())


def main() -> int:
    """Run the demo once; exit 1 if the page does not show the outage or does not clear."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("embedded", "distributed"), default="embedded")
    parser.add_argument("--verbose", action="store_true", help="show the system's own log lines (stderr)")
    args = parser.parse_args()
    # The narration is the output; the system's warnings and errors are the expected outage itself.
    configure_logging("INFO" if args.verbose else "CRITICAL")
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="outage-demo-") as folder, backend_settings(args.backend) as backend:
        clock.say(f"starting Dovecot, Kannel and the gateway ({args.backend}) on loopback")
        try:
            with outage_rig(Path(folder), **backend) as rig:
                clock.say(f"running at {rig.system.url}; the IMAP poller is logged in")
                run(rig, clock)
        except AssertionError as exc:
            print(f"outage demo failed: {exc}", file=sys.stderr)
            return 1
    clock.say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
