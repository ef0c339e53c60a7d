"""Engine creation and schema migration for SQLite (embedded) and PostgreSQL (distributed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from complaints.sqlite import tune_sqlite

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create an engine tuned for the accept path.

    SQLite gets WAL, savepoint-safe transactions and one writer at a time
    (:mod:`complaints.sqlite`); PostgreSQL a connection pool with pre-ping.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a database error must not print citizens' data into the logs.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        tune_sqlite(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """The factory for sessions that write (on SQLite they begin IMMEDIATE)."""
    return sessionmaker(engine.execution_options(sqlite_immediate=True), expire_on_commit=False)


def urgent_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Writing sessions of the accept path: on SQLite they go before queued worker writes."""
    return sessionmaker(engine.execution_options(sqlite_immediate=True, sqlite_urgent=True), expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The factory for read-only sessions (on SQLite they never hold the write lock)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at our migrations, without an ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    cfg = alembic_config(engine)
    with engine.execution_options(sqlite_immediate=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            # The Procfile's processes start together and each migrates: one at a time.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(726201)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
