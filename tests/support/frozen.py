"""A frozen "now" for the console's step clock (the working-hours words depend on the weekday and hour)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

# Every module that asks the time for the inbox, the case page and the seeded cases' deadlines.
_CLOCK_READERS = (
    "tests.support.cases",
    "gateway.console.inbox",
    "gateway.console.case",
    "complaints.casefile",
    "complaints.queries",
)


def freeze_console_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """Make the console and :func:`tests.support.cases.seed_case` read ``moment`` as now."""
    frozen = moment.astimezone(UTC)
    for module in _CLOCK_READERS:
        monkeypatch.setattr(f"{module}.utcnow", lambda: frozen)
