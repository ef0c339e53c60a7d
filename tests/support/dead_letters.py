"""A stage that fails as a whole while an outage lasts: the way a message reaches Dramatiq's dead letters.

A row that fails on its own is counted on its row and ends ``dead`` there (workers/verify.py); a
message is dead-lettered when the batch fails outside the per-row bookkeeping (a database outage,
a bug). Tests install :class:`Outage` in ``workers.actors.STAGES`` before the runtime is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from complaints.models import InboxMessage
from normalizer.envelope import Intake, ReplyRoute
from normalizer.normalize import build_envelope

ERROR = "database went away"


class Outage:
    """Wraps a stage: raises ``RuntimeError(ERROR)`` until :meth:`end`, then runs the real stage."""

    def __init__(self) -> None:
        self.on = True
        self.calls = 0

    def wrap(self, stage: Callable[..., Any]) -> Callable[..., Any]:
        """The stage to install in ``STAGES``."""

        def flaky(runtime: Any, ids: list[str]) -> Any:
            self.calls += 1
            if self.on:
                raise RuntimeError(ERROR)
            return stage(runtime, ids)

        return flaky

    def end(self) -> None:
        """The cause is fixed: from now on the real stage runs."""
        self.on = False


def envelope(ext: str, text: str = "LAPOR#3271014505900002#Siti Aminah#Jl. Pajajaran 5#lampu jalan mati"):  # type: ignore[no-untyped-def]
    """A structured SMS complaint with a valid NIK (routes to an OPD)."""
    return build_envelope(
        Intake(
            channel="sms",
            provider="test",
            external_id=ext,
            sender="+6281234567890",
            text=text,
            reply_route=ReplyRoute(channel="sms", address="+6281234567890", provider="test"),
        )
    )


def spend_budget(session: Session, inbox_id: str, attempts: int = 1) -> None:
    """An earlier retry chain (a sweep) already used the row's attempts (REPLY_MAX_RETRIES + 1)."""
    row = session.get(InboxMessage, inbox_id)
    assert row is not None
    row.attempts = attempts
