"""Work the sweeper re-enqueues gets a new request id, logged beside its inbox id and carried on the queue."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import dramatiq
from sqlalchemy import update
from structlog.testing import capture_logs

from complaints import store
from complaints.models import InboxMessage
from normalizer.envelope import Intake, ReplyRoute, utcnow
from normalizer.normalize import build_envelope
from tests.conftest import base_settings
from tests.support.cases import seed_case
from workers import request_ids
from workers.broker import QUEUE
from workers.setup import build_runtime
from workers.sweeper import sweep_once


def _queued(broker: Any) -> list[dramatiq.Message[Any]]:
    """The messages waiting in the in-process broker's queue, decoded."""
    queue = broker.queues[QUEUE]
    return [dramatiq.Message.decode(queue.get_nowait()) for _ in range(queue.qsize())]


def test_sweeper_gives_each_requeued_item_a_new_request_id(tmp_path: Path) -> None:
    """A lost inbox message and a case stuck in 'diverifikasi' each get their own new id, logged with the inbox id."""
    runtime = build_runtime(base_settings(tmp_path, sweep_after_seconds=5))
    try:
        # Given an accepted SMS whose queue message was lost an hour ago
        intake = Intake(
            channel="sms",
            provider="test",
            external_id="lost-1",
            sender="+6281234567890",
            text="Lampu jalan mati di Jl. Pajajaran",
            reply_route=ReplyRoute(channel="sms", address="+6281234567890", provider="test"),
        )
        (outcome,) = store.accept_batch(runtime.sf, [build_envelope(intake)])
        long_ago = utcnow() - timedelta(hours=1)
        with runtime.sf.begin() as session:
            session.execute(update(InboxMessage).values(updated_at=long_ago, next_attempt_at=long_ago))
            # and a verified case nobody routed (its route message was lost too)
            case = seed_case(session, "BGR-SWEEP01", "diverifikasi", updated_at=long_ago)
            case_id, case_inbox = case.id, case.inbox_id
        # When the sweeper runs
        with capture_logs() as logs:
            counts = sweep_once(runtime)
        assert counts["verify_intake"] == 1 and counts["route_to_opd"] == 1
        lines = {line["item_id"]: line for line in logs if line["event"] == "sweeper_requeued_item"}
        # Then each item's line names its inbox message and a fresh request id of its own
        assert lines[outcome.inbox_id]["inbox_id"] == outcome.inbox_id
        assert lines[case_id]["inbox_id"] == case_inbox and lines[case_id]["actor"] == "route_to_opd"
        new_ids = {item: line["request_id"] for item, line in lines.items()}
        assert len(set(new_ids.values())) == 2
        assert all(len(r) == 16 and r.isalpha() for r in new_ids.values())
        # And the queue messages carry those ids, so the workers' lines carry them too
        carried = {m.actor_name: m.options.get(request_ids.OPTION) for m in _queued(runtime.broker)}
        assert carried == {"verify_intake": [new_ids[outcome.inbox_id]], "route_to_opd": [new_ids[case_id]]}
        # A second sweep right away leaves them alone (they wait a full period again): no new ids
        with capture_logs() as again:
            sweep_once(runtime)
        assert not [line for line in again if line["event"] == "sweeper_requeued_item"]
    finally:
        runtime.close()
