"""Counts that cost the same with a thousand rows or a million: each stops at a cap.

Operators need "how many are stuck" to tell a handful from a flood, not an exact figure in the
millions, and a ``count(*)`` over a whole table reads every row (about 0.7 s for a million on
this kind of machine, on every monitor poll). So each count here reads at most ``cap + 1`` rows
through an index: a result above ``cap`` means "more than ``cap``".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

COUNT_CAP = 10_000
"""Counts stop just above this: a count of ``COUNT_CAP + 1`` reads "more than COUNT_CAP"."""


def capped_count(session: Session, column: InstrumentedAttribute[Any], *where: ColumnElement[bool], cap: int) -> int:
    """Rows of ``column``'s table matching ``where``, read no further than ``cap`` rows (a LIMIT subquery)."""
    rows = select(column).where(*where).limit(cap).subquery()
    return int(session.scalar(select(func.count()).select_from(rows)) or 0)


def distinct_values(session: Session, column: InstrumentedAttribute[Any]) -> list[Any]:
    """The distinct values of an indexed ``column``, one index seek per value (a loose index scan).

    ``SELECT DISTINCT`` reads every row on SQLite and PostgreSQL alike; asking for the smallest
    value above the last one found jumps through the index instead, and a state or status
    column has only a handful of values.
    """
    found: list[Any] = []
    value = session.scalar(select(func.min(column)))
    while value is not None:
        found.append(value)
        value = session.scalar(select(func.min(column)).where(column > value))
    return found


def capped_counts_by(session: Session, column: InstrumentedAttribute[Any], cap: int = COUNT_CAP) -> dict[Any, int]:
    """Rows per value of an indexed ``column`` (a state or status), each count stopping at ``cap + 1``."""
    return {
        value: capped_count(session, column, column == value, cap=cap + 1) for value in distinct_values(session, column)
    }
