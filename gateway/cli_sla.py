"""``intake sla recompute``: give open cases of the old wall-clock rule their working-hours deadline.

The scheduler does the same before every escalation pass (complaints/deadlines.py); this is the
way to do it at once after an upgrade, with progress, before the first scheduler starts. It
migrates the schema first (the mark of which clock a deadline counts on is migration 0017).
"""

from __future__ import annotations

import argparse
import sys
import time

from complaints.db import make_engine, session_factory, upgrade
from complaints.deadlines import PAGE, legacy_count, recompute_legacy_deadlines
from config.loader import load_city_config
from config.logging import configure_logging
from config.problems import ConfigError
from config.settings import load_settings


def cmd_sla_recompute(args: argparse.Namespace) -> int:
    """Recompute every legacy deadline, printing progress per page; exit 1 on a broken city config."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        config = load_city_config(settings.config_dir, home_region=settings.region_code)
    except ConfigError as exc:
        print(f"intake sla recompute: {exc}", file=sys.stderr)
        return 1
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        sf = session_factory(engine)
        with sf() as session:
            total = legacy_count(session)
        print(f"intake sla recompute: {total} open case(s) with a deadline of the old wall-clock rule", flush=True)
        started = time.monotonic()

        def progress(done: int) -> None:
            print(f"  {done}/{total} recomputed", flush=True)

        outcome = recompute_legacy_deadlines(
            sf, config=config, auto_dispose=settings.auto_dispose, page=args.page, progress=progress
        )
        seconds = time.monotonic() - started
        print(
            f"intake sla recompute: {outcome.recomputed} recomputed, {outcome.moved} deadline(s) moved"
            f" in {seconds:.1f} s",
            flush=True,
        )
    finally:
        engine.dispose()
    return 0


def add_sla_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``intake sla recompute`` on the ``intake`` parser."""
    sla = sub.add_parser("sla", help="the SOP step clock", description="the SOP step clock")
    slasub = sla.add_subparsers(dest="sla_command", required=True)
    helptext = "recompute open cases' deadlines of the old wall-clock rule on the working-hours clock"
    p = slasub.add_parser("recompute", help=helptext, description=helptext)
    p.add_argument("--page", type=int, default=PAGE, help=f"cases per transaction (default {PAGE})")
    p.set_defaults(func=cmd_sla_recompute)
