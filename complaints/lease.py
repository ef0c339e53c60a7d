"""A lease row that lets exactly one of several scheduler processes act (``scheduler_leases``).

Why a row and not a PostgreSQL advisory lock or a Redis lock: the same two statements work on
SQLite (embedded) and PostgreSQL (distributed), so one code path is tested on both; no connection
has to stay open for as long as the lock is held (an advisory lock belongs to one pooled
connection, and a transaction-pooling proxy would silently drop it); and the holder and expiry
are a row an operator can read. A holder that dies stops renewing, and another scheduler takes
the lease once it has expired. The lease only saves work: every job is also idempotent in the
database (unique keys), so two holders at once after a clock jump cannot act twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from complaints.models import SchedulerLease


def acquire(session: Session, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; True when it is held.

    A free (never taken or expired) lease is taken; one held by another holder is left alone.
    Two processes racing for it: the INSERT has a unique key and the UPDATE re-checks its
    condition on the row the other one wrote, so exactly one of them gets it.
    """
    values = {"name": name, "holder": holder, "expires_at": now + ttl, "renewed_at": now}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    created = session.scalar(
        insert(SchedulerLease).values(**values).on_conflict_do_nothing().returning(SchedulerLease.name)
    )
    if created is not None:
        return True
    result = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now),
        )
        .values(holder=holder, expires_at=now + ttl, renewed_at=now)
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def release(session: Session, name: str, holder: str, *, now: datetime) -> None:
    """Give the lease up (a clean stop), so another scheduler need not wait for it to expire."""
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
