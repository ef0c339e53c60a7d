"""``intake dlq list|show|requeue|purge``: dead queue messages from the terminal (part-dlq).

Works on the Redis queue (``REDIS_URL``), which every process shares. The embedded queue of
``intake serve`` lives inside that one process's memory: its dead letters are on the console
page ``/ops/health/dead-letters`` only. Every requeue and discard is recorded as done by
``cli:<os user>``. Exit codes: 0 done, 1 an id that is not in the dead-letter queue (the others
are still done), 2 no Redis or a usage error.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from config.logging import configure_logging
from config.settings import Settings, load_settings
from workers.queue_inspect import (
    DeadLetter,
    DeadLetterOutcome,
    dead_inbox_rows,
    dead_letter,
    dead_letters,
    discard_dead,
    requeue_dead,
)
from workers.runtime import Runtime
from workers.setup import build_runtime

WIB = timezone(timedelta(hours=7), "WIB")
NO_REDIS = (
    "needs REDIS_URL: the dead letters of the embedded queue live inside the `intake serve` process; "
    "see them on its console page /ops/health/dead-letters"
)


def _runtime(command: str) -> Runtime | None:
    settings: Settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)  # logs to stderr, so stdout stays the answer
    if not settings.redis_url:
        print(f"intake dlq {command}: {NO_REDIS}", file=sys.stderr)
        return None
    return build_runtime(settings, migrate=False)


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(WIB):%Y-%m-%d %H:%M:%S} WIB"


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli:unknown"


def _with_runtime(command: str, work: Callable[[Runtime], int]) -> int:
    runtime = _runtime(command)
    if runtime is None:
        return 2
    try:
        return work(runtime)
    finally:
        runtime.close()


def _line(letter: DeadLetter) -> str:
    error = (letter.error or "-").replace("\n", " ")
    return (
        f"{letter.message_id:<36}  {_when(letter.died_at):<23}  {letter.actor:<14}  {letter.count:>5}  "
        f"{letter.attempts:>8}  {error}"
    )


def cmd_dlq_list(args: argparse.Namespace) -> int:
    """Print the dead messages, newest death first."""

    def work(runtime: Runtime) -> int:
        letters, total = dead_letters(runtime, args.limit, 0)
        _, dead_rows = dead_inbox_rows(runtime, 0)
        if dead_rows:
            # Not queue messages: their rows gave up on their own; the console page processes them again.
            print(f"intake dlq: {dead_rows} inbox message(s) dead on their row: see /ops/health/dead-letters")
        if not letters:
            print("intake dlq: no dead letters")
            return 0
        print(f"{'message id':<36}  {'died':<23}  {'actor':<14}  {'items':>5}  {'attempts':>8}  error")
        for letter in letters:
            print(_line(letter))
        more = f" (showing the newest {len(letters)})" if total > len(letters) else ""
        print(f"{total} dead letter(s){more}")
        return 0

    return _with_runtime("list", work)


def cmd_dlq_show(args: argparse.Namespace) -> int:
    """Print one dead message: its fields, the rows it names, its traceback."""

    def work(runtime: Runtime) -> int:
        detail = dead_letter(runtime, args.message_id)
        if detail is None:
            print(f"intake dlq show: no dead letter {args.message_id}", file=sys.stderr)
            return 1
        letter = detail.letter
        print(f"message id: {letter.message_id}")
        print(f"actor:      {letter.actor} (queue {letter.queue})")
        print(f"died:       {_when(letter.died_at)} ({letter.died_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)")
        print(f"attempts:   {letter.attempts}")
        print(f"error:      {letter.error or '-'}")
        print(f"items:      {letter.count}")
        for row in detail.rows:
            attempts = "-" if row.attempts is None else row.attempts
            print(
                f"  {row.kind:<6} {row.id}  state {row.state}  attempts {attempts}  ticket {row.ticket or '-'}"
                f"  error {row.error or '-'}"
            )
        for key, value in detail.options.items():
            print(f"option {key}: {value}")
        if letter.traceback:
            print("traceback:")
            print(letter.traceback.rstrip())
        return 0

    return _with_runtime("show", work)


def _report(command: str, verb: str, outcome: DeadLetterOutcome) -> int:
    for letter in outcome.done:
        print(f"intake dlq: {verb} {letter.message_id} ({letter.actor}, {letter.count} item(s))")
    if verb == "requeued":
        print(f"intake dlq: {len(outcome.done)} requeued, {outcome.rows_reset} row(s) made ready again")
    else:
        print(f"intake dlq: {len(outcome.done)} discarded")
    for missing in outcome.missing:
        print(f"intake dlq {command}: no dead letter {missing}", file=sys.stderr)
    return 1 if outcome.missing else 0


def _chosen(args: argparse.Namespace, command: str) -> list[str] | None | int:
    if args.all and args.message_ids:
        print(f"intake dlq {command}: give message ids or --all, not both", file=sys.stderr)
        return 2
    if not args.all and not args.message_ids:
        print(f"intake dlq {command}: give the message ids (see `intake dlq list`) or --all", file=sys.stderr)
        return 2
    return None if args.all else list(args.message_ids)


def cmd_dlq_requeue(args: argparse.Namespace) -> int:
    """Requeue dead messages with fresh retries; the rows they failed are made ready again."""
    chosen = _chosen(args, "requeue")
    if isinstance(chosen, int):
        return chosen
    return _with_runtime(
        "requeue", lambda runtime: _report("requeue", "requeued", requeue_dead(runtime, chosen, actor=_who()))
    )


def cmd_dlq_purge(args: argparse.Namespace) -> int:
    """Discard dead messages for good, with the reason recorded; their rows stay as they are."""
    chosen = _chosen(args, "purge")
    if isinstance(chosen, int):
        return chosen
    if not args.reason.strip():
        print("intake dlq purge: --reason must say why (it is recorded)", file=sys.stderr)
        return 2
    return _with_runtime(
        "purge",
        lambda runtime: _report("purge", "discarded", discard_dead(runtime, chosen, args.reason, actor=_who())),
    )


def add_dlq_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dlq list``, ``dlq show``, ``dlq requeue`` and ``dlq purge`` on the ``intake`` parser."""
    parser = sub.add_parser(
        "dlq",
        help="dead queue messages: list, show, requeue, purge (needs REDIS_URL)",
        description="dead queue messages on the Redis queue (the embedded queue's are on /ops/health/dead-letters)",
    )
    commands = parser.add_subparsers(dest="dlq_command", required=True)
    listing = commands.add_parser("list", help="list dead messages", description="list dead messages, newest first")
    listing.add_argument("--limit", type=int, default=100, help="how many to print (default 100)")
    listing.set_defaults(func=cmd_dlq_list)
    show = commands.add_parser("show", help="show one dead message", description="show one dead message and its rows")
    show.add_argument("message_id")
    show.set_defaults(func=cmd_dlq_show)
    requeue = commands.add_parser(
        "requeue",
        help="requeue dead messages with fresh retries",
        description="requeue dead messages with fresh retries; the rows they failed are made ready again",
    )
    requeue.add_argument("message_ids", nargs="*", metavar="message_id")
    requeue.add_argument("--all", action="store_true", help="every dead message")
    requeue.set_defaults(func=cmd_dlq_requeue)
    purge = commands.add_parser(
        "purge",
        help="discard dead messages with a reason",
        description="discard dead messages for good; the reason is recorded; their rows stay as they are",
    )
    purge.add_argument("message_ids", nargs="*", metavar="message_id")
    purge.add_argument("--all", action="store_true", help="every dead message")
    purge.add_argument("--reason", required=True, help="why they are discarded (recorded with your user name)")
    purge.set_defaults(func=cmd_dlq_purge)
