"""SQLite tuning for the embedded mode: WAL, savepoints, and one writer at a time.

SQLite allows one writer. When several threads of one process contend for it, SQLite's own
busy handler makes the losers sleep 1, 2, 5 … 100 ms and poll, so the lock sits idle while
they sleep: under load that costs most of the throughput and adds hundreds of milliseconds to
the accept path. Here writers queue on a Python lock instead and get the database the moment
it is free; SQLite's busy timeout remains only for other processes (``intake db upgrade``).
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event

_HELD = "intake_write_lock_held"


class WriterLock:
    """A lock where urgent writers (the accept path) go before the workers' queue.

    A citizen's provider waits on the accept path; a worker's batch can wait a moment.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = False
        self._urgent_waiting = 0

    def acquire(self, *, urgent: bool) -> None:
        """Block until this writer may write."""
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
            try:
                while self._held or (not urgent and self._urgent_waiting):
                    self._cond.wait()
            finally:
                if urgent:
                    self._urgent_waiting -= 1
            self._held = True

    def release(self) -> None:
        """Let the next writer in."""
        with self._cond:
            self._held = False
            self._cond.notify_all()


def tune_sqlite(engine: Engine) -> None:
    """Install the pragmas, BEGIN handling and in-process writer lock on ``engine``."""
    write_lock = WriterLock()

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, issue BEGIN (savepoints need it).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cur.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Writers take the lock up front: a deferred transaction that reads and then writes
        # gets SQLITE_BUSY at once (no busy wait) when another writer got in between.
        # Readers stay deferred, so they never block the writers.
        options = conn.get_execution_options()
        if options.get("sqlite_immediate"):
            write_lock.acquire(urgent=bool(options.get("sqlite_urgent")))
            conn.info[_HELD] = True
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                _release(conn)
                raise
        else:
            conn.exec_driver_sql("BEGIN")

    def _release(conn: Any, *_args: Any) -> None:
        if conn.info.pop(_HELD, False):
            write_lock.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
