"""complaints.counting and /ops/status's counts: right while small, stopping at the cap when large."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.counting import COUNT_CAP, capped_count, capped_counts_by, distinct_values
from complaints.db import make_engine, session_factory, upgrade
from complaints.models import InboxMessage
from gateway.ops import operations_status
from normalizer.envelope import utcnow


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """A migrated database (SQLite file, then a fresh PostgreSQL database) and a session on it."""
    url = f"sqlite:///{tmp_path / 'count.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def _inbox(session: Session, states: dict[str, int], *, age: timedelta = timedelta(0)) -> None:
    at = utcnow() - age
    session.add_all(
        InboxMessage(
            id=f"{state}-{n}",
            channel="sms",
            provider="kannel",
            external_id=f"{state}-{n}",
            kind="complaint",
            envelope={},
            state=state,
            created_at=at,
            updated_at=at,
        )
        for state, count in states.items()
        for n in range(count)
    )
    session.commit()


def test_counts_by_state_are_exact_below_the_cap_and_stop_above_it(db: Session) -> None:
    """Each state gets its own count; a state with more rows than the cap reads cap + 1, the others stay exact."""
    _inbox(db, {"accepted": 2, "done": 7, "dead": 1})
    assert distinct_values(db, InboxMessage.state) == ["accepted", "dead", "done"]
    assert capped_counts_by(db, InboxMessage.state) == {"accepted": 2, "dead": 1, "done": 7}
    assert capped_counts_by(db, InboxMessage.state, cap=5) == {"accepted": 2, "dead": 1, "done": 6}
    assert capped_count(db, InboxMessage.id, InboxMessage.state != "dead", cap=4) == 4


def test_empty_table_has_no_states(db: Session) -> None:
    """No rows: no states and zero counts (no error from min() over nothing)."""
    assert capped_counts_by(db, InboxMessage.state) == {}
    assert capped_count(db, InboxMessage.id, sa.true(), cap=3) == 0


def test_ops_status_keeps_its_fields_and_says_where_counts_stop(db: Session) -> None:
    """/ops/status still answers inbox counts by state and the stuck count, and names its cap."""
    _inbox(db, {"accepted": 3, "done": 2}, age=timedelta(minutes=10))
    status = operations_status(db, stale_after=60)
    assert status["inbox"] == {"accepted": 3, "done": 2}
    assert status["inbox_stuck"] == 3
    assert status["inbox_oldest_unfinished_seconds"] >= 600
    assert status["replies"] == {} and status["cases"] == {} and status["cases_overdue"] == 0
    assert status["counts_capped_at"] == COUNT_CAP
