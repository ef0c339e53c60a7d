"""``/ops/status``'s counts on a million rows: the old whole-table counts against the capped ones.

Run from the repository root: ``python -m bench.ops_status_scale`` (``--rows N``, ``--only sqlite``
or ``--only postgresql``; PostgreSQL at ``TEST_PG_ADMIN_URL`` as in the tests). It fills a fresh
SQLite file and a fresh PostgreSQL database with N inbox messages, N cases and N replies (years of
a city's work: nearly all finished, a few hundred waiting), then prints the best of five runs of
each version in milliseconds. The database is made on the server itself (no rows cross the wire).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from complaints.db import make_engine, session_factory, upgrade
from complaints.models import Complaint, InboxMessage, Reply
from gateway.ops import operations_status
from normalizer.envelope import utcnow
from tests.support import services

STALE_AFTER = 60.0


def whole_table_counts(session: Session, stale_after: float) -> dict[str, Any]:
    """The counts as /ops/status made them before the cap (the baseline): every row read each time."""
    now = utcnow()
    due = func.coalesce(InboxMessage.next_attempt_at, InboxMessage.updated_at)
    return {
        "inbox": dict(session.execute(select(InboxMessage.state, func.count()).group_by(InboxMessage.state)).all()),
        "replies": dict(session.execute(select(Reply.status, func.count()).group_by(Reply.status)).all()),
        "cases": dict(session.execute(select(Complaint.status, func.count()).group_by(Complaint.status)).all()),
        "oldest": session.scalar(select(func.min(InboxMessage.created_at)).where(InboxMessage.state == "accepted")),
        "overdue": session.scalar(select(func.count()).select_from(Complaint).where(Complaint.step_deadline_at < now)),
        "stuck": session.scalar(
            select(func.count())
            .select_from(InboxMessage)
            .where(InboxMessage.state == "accepted", due < now - timedelta(seconds=stale_after))
        ),
    }


def _fill(engine: Engine, rows: int) -> None:
    """N rows in each table, made by the database from a number series (SQLite: a recursive CTE)."""
    if engine.dialect.name == "sqlite":
        series = f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {rows}) "
        source = "FROM s"
        when = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (g % 40000) || ' minutes')"
        deadline = "strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || ((g % 200) - 10) || ' days')"
    else:
        series = ""
        source = f"FROM generate_series(1, {rows}) AS g"
        when = "now() - make_interval(mins => g % 40000)"
        deadline = "now() + make_interval(days => (g % 200) - 10)"
    # One in 2,000 still waiting (accepted / queued / at step 2): a healthy system's few.
    inbox_state = "CASE WHEN g % 2000 = 0 THEN 'accepted' WHEN g % 997 = 0 THEN 'dead' ELSE 'done' END"
    case_status = "CASE WHEN g % 2000 = 0 THEN 'diterima' WHEN g % 7 = 0 THEN 'disposisi' ELSE 'selesai' END"
    reply_status = "CASE WHEN g % 2000 = 0 THEN 'queued' WHEN g % 50 = 0 THEN 'failed' ELSE 'delivered' END"
    statements = [
        f"{series}INSERT INTO inbox (id, channel, provider, external_id, kind, envelope, state, attempts,"
        f" created_at, updated_at) SELECT 'i' || g, 'sms', 'kannel', 'e' || g, 'complaint', '{{}}',"
        f" {inbox_state}, 1, {when}, {when} {source}",
        f"{series}INSERT INTO complaints (id, ticket, inbox_id, channel, provider, reply_channel, reply_address,"
        f" language, status, step, version, step_deadline_at, text, answer_public, created_at, updated_at)"
        f" SELECT 'c' || g, 'T' || g, 'i' || g, 'sms', 'kannel', 'sms', '+628' || g, 'id', {case_status}, 2, 1,"
        f" {deadline}, 'jalan rusak', false, {when}, {when} {source}",
        f"{series}INSERT INTO replies (id, dedupe_key, complaint_id, kind, channel, provider, address, text,"
        f" status, attempts, parts_sent, unknown_outcomes, created_at, updated_at)"
        f" SELECT 'r' || g, 'd' || g, 'c' || g, 'receipt', 'sms', 'kannel', '+628' || g, 'diterima',"
        f" {reply_status}, 1, 1, 0, {when}, {when} {source}",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    # Planner statistics, and on PostgreSQL the visibility map autovacuum keeps on a long-lived table
    # (without it an index-only scan still visits every row's page).
    maintenance = "ANALYZE" if engine.dialect.name == "sqlite" else "VACUUM ANALYZE"
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text(maintenance))


def _best_ms(run: Callable[[Session, float], Any], session: Session, times: int = 5) -> float:
    run(session, STALE_AFTER)  # warm the cache: both versions are timed on a hot database
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        run(session, STALE_AFTER)
        session.rollback()
        best = min(best, time.perf_counter() - started)
    return best * 1000


@contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'scale.sqlite3'}"
        return
    url, name = services.create_pg_database()
    try:
        yield url
    finally:
        services.drop_pg_database(name)


def measure(kind: str, rows: int) -> None:
    """Fill one database kind with ``rows`` rows per table and print both versions' times."""
    with _database(kind) as url:
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        _fill(engine, rows)
        print(f"{kind}: {rows:,} inbox messages, cases and replies made in {time.perf_counter() - started:.0f} s")
        with session_factory(engine)() as session:
            before = _best_ms(whole_table_counts, session)
            after = _best_ms(operations_status, session)
            capped = operations_status(session, STALE_AFTER)
        engine.dispose()
    print(f"  whole-table counts (before): {before:8.1f} ms")
    print(f"  capped counts (after):       {after:8.1f} ms   (before / after: {before / after:.1f})")
    print(f"  inbox {capped['inbox']}  stuck {capped['inbox_stuck']}  capped at {capped['counts_capped_at']}")


def main() -> None:
    """Measure on SQLite and PostgreSQL (or the one named by ``--only``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    for kind in (args.only,) if args.only else ("sqlite", "postgresql"):
        measure(kind, args.rows)


if __name__ == "__main__":
    main()
