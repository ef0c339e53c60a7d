"""Recomputing legacy deadlines on the working clock: rows per second, paged Core writes vs per-row ORM.

Run from the repository root: ``python -m bench.recompute_deadlines`` (``--rows N``, default
10,000; ``--only sqlite`` or ``--only postgresql``; PostgreSQL at ``TEST_PG_ADMIN_URL`` as in the
tests). It fills a fresh database with N open cases whose deadline follows the old wall-clock rule
(``deadline_clock`` NULL, entry + wall minutes, each with its entry and a note in the history),
then times:

- the baseline: the obvious loop, one case at a time through the ORM (its own history look-up,
  attribute writes flushed per page);
- complaints/deadlines.py as the scheduler and ``intake sla recompute`` run it: pages of 500, the
  entries of a page in one grouped query, the page written by one executemany UPDATE.

Both start from the same filled database (a copy for SQLite, refilled for PostgreSQL).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.ops_status_scale import _database
from complaints import deadlines
from complaints.db import make_engine, session_factory, upgrade
from complaints.models import Complaint, HistoryEntry
from config.loader import SHIPPED_CONFIG_DIR, load_city_config
from config.model import CityConfig

KINDS = ("sqlite", "postgresql")
STATUSES = ("disposisi", "dianalisa", "ditindaklanjuti", "dijawab", "diterima_operator", "diterima")


def _fill(engine: Engine, rows: int) -> None:
    """N legacy cases over the last 30 days, each with an inbox row and two history rows, made by the database."""
    status = "CASE g % 6 " + " ".join(f"WHEN {i} THEN '{s}'" for i, s in enumerate(STATUSES)) + " END"
    if engine.dialect.name == "sqlite":
        series = f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {rows}) "
        source = "FROM s"
        entered = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (g % 43200) || ' minutes')"
        deadline = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (g % 43200) || ' minutes', '+240 minutes')"
        noted = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (g % 43200) || ' minutes', '+10 minutes')"
    else:
        series = ""
        source = f"FROM generate_series(1, {rows}) AS g"
        entered = "now() - make_interval(mins => g % 43200)"
        deadline = f"{entered} + interval '240 minutes'"
        noted = f"{entered} + interval '10 minutes'"
    statements = [
        f"{series}INSERT INTO inbox (id, channel, provider, external_id, kind, envelope, state, attempts,"
        f" created_at, updated_at) SELECT 'i' || g, 'sms', 'kannel', 'e' || g, 'complaint', '{{}}', 'done', 1,"
        f" {entered}, {entered} {source}",
        f"{series}INSERT INTO complaints (id, ticket, inbox_id, channel, provider, reply_channel, reply_address,"
        f" language, status, step, version, step_deadline_at, opd_code, text, answer_public, created_at, updated_at)"
        f" SELECT 'c' || g, 'T' || g, 'i' || g, 'sms', 'kannel', 'sms', '+628' || g, 'id', {status}, 5, 3,"
        f" {deadline}, 'dlh', 'jalan rusak', false, {entered}, {entered} {source}",
        f"{series}INSERT INTO history (complaint_id, at, actor, action, from_status, to_status)"
        f" SELECT 'c' || g, {entered}, 'user:1', 'moved', 'x', {status} {source}",
        f"{series}INSERT INTO history (complaint_id, at, actor, action, from_status, to_status)"
        f" SELECT 'c' || g, {noted}, 'user:1', 'internal', {status}, {status} {source}",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def per_row_orm(sf: sessionmaker[Session], config: CityConfig) -> int:
    """The baseline: each legacy case read, its entry looked up and its deadline set one at a time."""
    done = 0
    while True:
        with sf.begin() as session:
            cases = list(
                session.scalars(
                    select(Complaint)
                    .where(Complaint.deadline_clock.is_(None), Complaint.step_deadline_at.is_not(None))
                    .limit(deadlines.PAGE)
                )
            )
            for case in cases:
                entered = session.scalar(
                    select(func.max(HistoryEntry.at)).where(
                        HistoryEntry.complaint_id == case.id,
                        HistoryEntry.to_status == case.status,
                        HistoryEntry.from_status != HistoryEntry.to_status,
                    )
                )
                case.step_deadline_at, case.deadline_clock = deadlines.recomputed_deadline(
                    case, entered, config=config, auto_dispose=True
                )
        done += len(cases)
        if len(cases) < deadlines.PAGE:
            return done


def paged(sf: sessionmaker[Session], config: CityConfig) -> int:
    """complaints/deadlines.py, as the scheduler runs it."""
    return deadlines.recompute_legacy_deadlines(sf, config=config, auto_dispose=True).recomputed


def _rate(kind: str, rows: int, run: Callable[[sessionmaker[Session], CityConfig], int], config: CityConfig) -> float:
    with _database(kind) as url:
        engine = make_engine(url)
        upgrade(engine)
        _fill(engine, rows)
        sf = session_factory(engine)
        started = time.perf_counter()
        done = run(sf, config)
        seconds = time.perf_counter() - started
        with sf() as session:
            left = deadlines.legacy_count(session)
        engine.dispose()
    if done != rows or left:
        raise SystemExit(f"{kind}: {run.__name__} did {done} of {rows} rows, {left} left")
    return rows / seconds


def measure(kind: str, rows: int, config: CityConfig) -> None:
    """Print the baseline's and the paged version's rows per second on one database kind."""
    before = _rate(kind, rows, per_row_orm, config)
    after = _rate(kind, rows, paged, config)
    print(f"{kind}: {rows:,} legacy open cases")
    print(f"  per-row ORM (baseline):   {before:9,.0f} rows/s")
    print(f"  paged (deadlines.py):     {after:9,.0f} rows/s   (x{after / before:.1f})")


def main() -> None:
    """Measure on SQLite and PostgreSQL (or the one named by ``--only``) with the shipped calendar."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="legacy open cases (default 10,000)")
    parser.add_argument("--only", choices=KINDS, help="one database kind only")
    args = parser.parse_args()
    config = load_city_config(SHIPPED_CONFIG_DIR)
    for kind in [args.only] if args.only else KINDS:
        measure(kind, args.rows, config)


if __name__ == "__main__":
    main()
