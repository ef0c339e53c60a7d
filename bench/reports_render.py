"""How long the staff report takes on a month of 10,000 cases, on SQLite and on PostgreSQL.

Run from the repository root: ``python -m bench.reports_render [--cases 10000] [--pg URL]``
(``--pg`` defaults to a fresh database on the local server; ``--no-pg`` skips it).

Each database gets the same made-up month (``scripts/seed_month.py``, seed 1), then each step is
timed as the best of ``--rounds`` runs:

- baseline: reading the columns the report needs (the period's history rows and complaints), no work;
- figures: :func:`complaints.reports.build_report` (queries, step walk in working minutes, counts);
- tables: the figures in words (:func:`gateway.console.report_tables.build_tables`);
- charts: both SVG charts; xlsx: the whole report as one workbook.

The report's page costs figures + tables; a chart or a download costs figures + its own part.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from complaints import sla
from complaints.db import make_engine, session_factory, upgrade
from complaints.models import Complaint, HistoryEntry
from complaints.queries import Viewer
from complaints.reports import Period, build_report
from config.loader import SHIPPED_CONFIG_DIR, load_city_config
from gateway.console.report_charts import compliance_svg, per_day_svg
from gateway.console.report_files import to_xlsx
from gateway.console.report_tables import build_tables
from gateway.console.strings import STRINGS
from scripts.seed_month import seed

PERIOD = Period.month(2026, 11)
CUTOFF = datetime(2026, 12, 6, tzinfo=UTC)


def best(rounds: int, fn: Callable[[], object]) -> float:
    """The fastest of ``rounds`` runs of ``fn``, in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def run(label: str, url: str, cases: int, rounds: int) -> None:
    """Seed ``cases`` into ``url`` and print the timings."""
    config = load_city_config(SHIPPED_CONFIG_DIR)
    calendar = sla.calendar_of(config.calendar)
    engine = make_engine(url)
    upgrade(engine)
    sf = session_factory(engine)
    with sf() as session:
        start = time.perf_counter()
        rows = seed(session, config, PERIOD, cases, seed=1, cutoff=CUTOFF)
        print(f"\n== {label}: seeded {cases} cases, {rows} history rows in {time.perf_counter() - start:.1f} s")
    # Table statistics, as autovacuum would have them on a live database (without them PostgreSQL
    # plans the OPD user's subqueries as nested loops over "one row").
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    t = STRINGS["en"]
    begin, end = PERIOD.bounds(calendar)
    operator = Viewer("operator")
    with sf() as session:

        def baseline() -> None:
            session.execute(
                sa.select(
                    HistoryEntry.complaint_id, HistoryEntry.at, HistoryEntry.action, HistoryEntry.from_status,
                    HistoryEntry.to_status, HistoryEntry.opd_code,
                ).where(HistoryEntry.at < end)
            ).all()  # fmt: skip
            session.execute(
                sa.select(Complaint.created_at, Complaint.channel, Complaint.opd_code, Complaint.status).where(
                    Complaint.created_at >= begin, Complaint.created_at < end
                )
            ).all()

        report = build_report(session, operator, PERIOD, config.sop, calendar)
        tables = build_tables(report, config, "en", t)
        timings = {
            "baseline (read the rows)": best(rounds, baseline),
            "figures (build_report)": best(
                rounds, lambda: build_report(session, operator, PERIOD, config.sop, calendar)
            ),
            "figures, one OPD (dlh)": best(
                rounds, lambda: build_report(session, Viewer("opd", "dlh"), PERIOD, config.sop, calendar)
            ),
            "tables in words": best(rounds, lambda: build_tables(report, config, "en", t)),
            "both SVG charts": best(rounds, lambda: (per_day_svg(report, t), compliance_svg(report, config, t))),
            "whole report as XLSX": best(rounds, lambda: to_xlsx(tables.values(), "report")),
        }
    base = timings["baseline (read the rows)"]
    for name, ms in timings.items():
        print(f"{name:<28} {ms:>9.1f} ms   {ms / base:>6.1f} x baseline")
    print(f"received {report.received}, steps finished {sum(s.count for s in report.steps)}")
    engine.dispose()


def main() -> None:
    """Time the report on SQLite and PostgreSQL."""
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--cases", type=int, default=10_000)
    args.add_argument("--rounds", type=int, default=3)
    args.add_argument("--pg", help="a PostgreSQL server URL to create a scratch database on")
    args.add_argument("--no-pg", action="store_true")
    options = args.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run("SQLite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}", options.cases, options.rounds)
    if options.no_pg:
        return
    server = options.pg or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    name = f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        run(
            "PostgreSQL",
            sa.make_url(server).set(database=name).render_as_string(hide_password=False),
            options.cases,
            options.rounds,
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
