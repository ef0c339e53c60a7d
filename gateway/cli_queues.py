"""``intake queues [--watch [SECONDS]]``: the health picture in the terminal, problems first.

The same picture and problem list as the console's ``/ops/health`` (and the same words, from
:mod:`gateway.console.strings`). Against Redis the queue depths are read from the broker; beside
an embedded ``intake serve`` (no REDIS_URL) the queue lives in that process's memory, so the
depths come from the newest sample its monitor stored. ``--watch`` redraws every SECONDS
(default 5) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from config.logging import configure_logging
from config.settings import load_settings
from gateway.console.strings import LANGUAGES, STRINGS
from normalizer.envelope import utcnow
from workers.health_problems import PROVIDER_NAMES, Problem, clock_words, duration_words, problems
from workers.health_report import HealthPicture, build_health
from workers.office_hours import WIB
from workers.runtime import Runtime

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen (ANSI; every terminal emulator in use understands it)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]


def render_text(picture: HealthPicture, found: list[Problem], lang: str, *, sampled: bool = False) -> str:
    """The picture as plain text: problems, queues, processes, inbound channels, pollers, outbound."""
    t = STRINGS[lang]
    now = picture.at
    words = 0 if lang == "id" else 1

    def when(at: datetime | None) -> str:
        return f"{clock_words(at, now)} WIB" if at is not None else t["health_never"]

    def trio(counts: dict[int, int]) -> str:
        return f"{counts[1]}/{counts[5]}/{counts[15]}"

    stamp = now.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"{t['health_title']} — {t['health_as_of'].format(time=stamp)}", "", t["health_problems"].upper()]
    said = [f"  [{t['health_severity_' + p.severity]}] {p.words(lang)}" for p in found]
    lines += said or [f"  {t['health_all_well']}"]
    lines += ["", t["health_queues"].upper() + (f" {t['health_sampled']}" if sampled else "")]
    if picture.queue_error:
        lines.append("  " + t["health_broker_error"].format(error=picture.queue_error))
    lines += _table(
        [t["health_queue"], t["health_ready"], t["health_in_flight"], t["health_delayed"], t["health_dead"],
         t["health_oldest"], f"{t['health_processed']} 1/5/15", f"{t['health_failed']} 1/5/15"],
        [[q.depth.queue, q.depth.ready, q.depth.in_flight, q.depth.delayed, q.depth.dead,
          duration_words(timedelta(seconds=q.depth.oldest_ready_seconds))[words]
          if q.depth.oldest_ready_seconds is not None else "-",
          trio(q.processed), trio(q.failed)] for q in picture.queues]
        + [[f"  {a.actor}", "", "", "", "", "", trio(a.processed), trio(a.failed)] for a in picture.actors],
    )  # fmt: skip
    lines += ["", t["health_processes"].upper()]
    if picture.processes:
        lines += _table(
            [t["health_role"], t["health_host"], t["health_pid"], t["health_threads"], t["health_beat"],
             t["health_state"]],
            [[p.info.role, p.info.host, p.info.pid, p.info.threads, when(p.info.beat_at), t["health_state_" + p.state]]
             for p in picture.processes],
        )  # fmt: skip
    else:
        lines.append("  " + t["health_no_processes"])
    lines += ["", t["health_inbound"].upper()]
    lines += _table(
        [t["health_channel"], t["health_last_in"], t["health_last_hour"], t["health_accepted_24h"],
         t["health_refused_24h"], t["health_malformed_24h"]],
        [[c.channel, when(c.last_in), c.last_hour, c.accepted_24h, c.refused_24h, c.malformed_24h]
         for c in picture.channels],
    )  # fmt: skip
    lines += ["", t["health_pollers"].upper()]
    if picture.pollers:
        lines += _table(
            [t["health_poller"], t["health_status"], t["health_last_poll"], t["health_last_error"]],
            [[p.id, p.status, when(p.last_poll_at), p.last_error or "-"] for p in picture.pollers],
        )
    else:
        lines.append("  " + t["health_no_pollers"])
    lines += ["", t["health_outbound"].upper()]
    if picture.outbound:
        lines += _table(
            [t["health_provider"], t["health_queued"], t["health_sent"], t["health_delivered"], t["health_failed"],
             t["health_unknown"], t["health_last_error"]],
            [[PROVIDER_NAMES.get(o.provider, o.provider), o.queued, o.sent, o.delivered, o.failed, o.unknown,
              o.last_error or "-"] for o in picture.outbound],
        )  # fmt: skip
    else:
        lines.append("  " + t["health_no_outbound"])
    return "\n".join(lines) + "\n"


def health_text(runtime: Runtime, lang: str, now: datetime | None = None) -> str:
    """One frame of ``intake queues`` for ``runtime`` at ``now``."""
    now = now or utcnow()
    sampled = not runtime.settings.redis_url
    picture = build_health(runtime, now, sampled_depths=sampled)
    return render_text(picture, problems(picture, runtime.settings, now), lang, sampled=sampled)


def cmd_queues(args: argparse.Namespace) -> int:
    """Print the health picture; with --watch, redraw it until Ctrl-C."""
    from workers.setup import build_runtime

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)  # logs to stderr, so stdout stays the picture
    lang = args.lang or (settings.default_language if settings.default_language in LANGUAGES else "en")
    runtime = build_runtime(settings, migrate=False)
    try:
        while True:
            try:
                frame = health_text(runtime, lang)
            except SQLAlchemyError as exc:
                print(f"intake queues: cannot read the database ({type(exc).__name__}); run `intake db upgrade`?",
                      file=sys.stderr)  # fmt: skip
                return 1
            if args.watch is None:
                sys.stdout.write(frame)
                return 0
            sys.stdout.write(CLEAR + frame)
            sys.stdout.flush()
            time.sleep(max(0.5, args.watch))
    except KeyboardInterrupt:
        return 0
    finally:
        runtime.close()


def add_queues_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``intake queues`` on the ``intake`` parser."""
    helptext = "print the health picture (problems, queues, processes, channels, outbound)"
    p = sub.add_parser("queues", help=helptext, description=helptext)
    p.add_argument(
        "--watch", nargs="?", type=float, const=5.0, default=None, metavar="SECONDS",
        help="redraw every SECONDS (default 5) until Ctrl-C",
    )  # fmt: skip
    p.add_argument("--lang", choices=LANGUAGES, help="language of the words (default: DEFAULT_LANGUAGE)")
    p.set_defaults(func=cmd_queues)
