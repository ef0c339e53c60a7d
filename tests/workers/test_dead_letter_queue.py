"""Dead letters on both brokers: listed with their error, requeued (work done, rows reset) or discarded."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from sqlalchemy import select

from complaints import store
from complaints.models import Complaint, DeadLetterAction, InboxMessage, Reply
from gateway.embedded import start_workers
from normalizer.tickets import new_ticket
from tests.conftest import base_settings
from tests.support.cases import PHONE, seed_case
from tests.support.dead_letters import ERROR, Outage, envelope, spend_budget
from tests.workers.test_dead_letters import FlakyAdapter
from workers import actors
from workers.broker import QUEUE
from workers.queue_inspect import (
    dead_inbox_rows,
    dead_letter,
    dead_letters,
    discard_dead,
    queue_depths,
    requeue_dead,
    retry_dead_rows,
)
from workers.runtime import Runtime
from workers.setup import build_runtime
from workers.verify import verify_batch


def _until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {check}")


@pytest.fixture
def broken(
    tmp_path: Path, backend: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, Outage, FlakyAdapter]]:
    """Workers whose verify stage fails as a whole until the outage ends; no retries, no sweeps meanwhile."""
    outage = Outage()
    monkeypatch.setitem(actors.STAGES, "verify_intake", outage.wrap(verify_batch))
    settings = base_settings(tmp_path, reply_max_retries=0, sweep_after_seconds=600, **backend)
    runtime = build_runtime(settings)
    pool = start_workers(runtime, threads=2)
    adapter = FlakyAdapter([])
    assert runtime.outbound is not None
    runtime.outbound.adapters = {"test": adapter}
    try:
        yield runtime, outage, adapter
    finally:
        pool.stop()
        runtime.close()


def _dead_inbox(runtime: Runtime, ext: str) -> str:
    """Accept one complaint whose row's budget is spent and wait until its message is dead-lettered."""
    [outcome] = store.accept_batch(runtime.sf, [envelope(ext)])
    with runtime.sf.begin() as session:
        spend_budget(session, outcome.inbox_id)
    runtime.send("verify_intake", [outcome.inbox_id])
    _until(lambda: dead_letters(runtime)[1] == 1)
    return outcome.inbox_id


def test_a_failing_message_is_listed_then_requeued_and_the_work_is_done(
    broken: tuple[Runtime, Outage, FlakyAdapter],
) -> None:
    """A dead message shows actor, ids, attempts and error; requeued after the fix, its complaint is processed."""
    runtime, outage, adapter = broken
    inbox_id = _dead_inbox(runtime, "dead-1")
    [letter], total = dead_letters(runtime)
    assert total == 1
    assert (letter.actor, letter.ids, letter.attempts) == ("verify_intake", (inbox_id,), 1)
    assert letter.error is not None and ERROR in letter.error
    assert [d.dead for d in queue_depths(runtime.broker)] == [1]
    detail = dead_letter(runtime, letter.message_id)
    assert detail is not None
    [row] = detail.rows
    assert (row.kind, row.id, row.state) == ("inbox", inbox_id, "dead")

    outage.end()
    outcome = requeue_dead(runtime, [letter.message_id], actor="staff:7")
    assert [d.message_id for d in outcome.done] == [letter.message_id] and outcome.rows_reset == 1

    with runtime.read_sf() as session:
        assert session.get(InboxMessage, inbox_id).state in ("accepted", "done")

    def processed() -> bool:
        with runtime.read_sf() as session:
            row = session.get(InboxMessage, inbox_id)
            sent = session.scalar(select(Reply.id).where(Reply.status == "sent"))
            return row is not None and row.state == "done" and sent is not None

    _until(processed)
    with runtime.read_sf() as session:
        assert session.scalar(select(Complaint.ticket).where(Complaint.inbox_id == inbox_id))
        [action] = session.scalars(select(DeadLetterAction)).all()
    assert (action.actor, action.action, action.message_id, action.actor_name) == (
        "staff:7",
        "requeue",
        letter.message_id,
        "verify_intake",
    )
    assert dead_letters(runtime) == ([], 0)
    assert len(adapter.sent) == 1
    assert dead_letter(runtime, letter.message_id) is None


def test_discard_records_the_reason_and_leaves_the_rows(broken: tuple[Runtime, Outage, FlakyAdapter]) -> None:
    """Discard needs a reason, removes the message, records who and why; the row stays dead; an unknown id is named."""
    runtime, _outage, _adapter = broken
    inbox_id = _dead_inbox(runtime, "dead-2")
    [letter], _ = dead_letters(runtime)
    with pytest.raises(ValueError):
        discard_dead(runtime, [letter.message_id], "   ", actor="cli:ani")
    assert dead_letters(runtime)[1] == 1
    outcome = discard_dead(
        runtime, [letter.message_id, "no-such-id"], "duplicate of a handled complaint", actor="cli:ani"
    )
    assert [d.message_id for d in outcome.done] == [letter.message_id]
    assert outcome.missing == ["no-such-id"]
    assert dead_letters(runtime) == ([], 0)
    with runtime.read_sf() as session:
        assert session.get(InboxMessage, inbox_id).state == "dead"
        [action] = session.scalars(select(DeadLetterAction)).all()
    assert (action.actor, action.action, action.reason) == ("cli:ani", "discard", "duplicate of a handled complaint")
    # Once gone, a second requeue of the same id finds nothing and does nothing.
    again = requeue_dead(runtime, [letter.message_id], actor="cli:ani")
    assert again.done == [] and again.missing == [letter.message_id]


def test_requeue_all_leaves_rows_that_moved_on(broken: tuple[Runtime, Outage, FlakyAdapter]) -> None:
    """Requeue of all messages resets only rows still dead: a row finished meanwhile is not touched."""
    runtime, outage, _adapter = broken
    first = _dead_inbox(runtime, "dead-3")
    with runtime.sf.begin() as session:  # meanwhile someone finished it another way
        session.get(InboxMessage, first).state = "done"
    outage.end()
    outcome = requeue_dead(runtime, None, actor="staff:1")
    assert len(outcome.done) == 1 and outcome.rows_reset == 0
    _until(lambda: dead_letters(runtime)[1] == 0 and queue_depths(runtime.broker)[0].ready == 0)
    with runtime.read_sf() as session:
        row = session.get(InboxMessage, first)
        assert row.state == "done" and row.attempts == 1


def _reply(session: Any, case_id: str, kind: str, status: str) -> str:
    """A reply of ``kind`` on the case that ended ``status`` after one attempt."""
    reply_id = store.queue_reply(
        session, dedupe_key=f"{case_id}:{kind}:{status}", kind=kind, channel="sms", provider="test",
        address=PHONE, text="jawaban", complaint_id=case_id,
    )  # fmt: skip
    assert reply_id is not None
    session.flush()
    row = session.get(Reply, reply_id)
    row.status, row.attempts, row.error = status, 1, "503 from provider"
    return reply_id


def test_requeued_replies_reset_only_failed_ones_not_sent_again_since(tmp_path: Path) -> None:
    """A failed reply is queued again with fresh attempts; one whose answer was resent since, or whose
    outcome is unknown (it may have arrived), is left as it is; so is one with a part sent, a send of
    unknown outcome, or attempts left (not failed by the recorder)."""
    runtime = build_runtime(base_settings(tmp_path, reply_max_retries=0))
    try:
        with runtime.sf.begin() as session:
            alone = seed_case(session, new_ticket(), "selesai", opd_code="pupr", deadline_in=None)
            resent = seed_case(session, new_ticket(), "selesai", opd_code="pupr", deadline_in=None)
            replies = {
                "alone": _reply(session, alone.id, "answer", "failed"),
                "alone-unknown": _reply(session, alone.id, "ack", "unknown"),
                "resent": _reply(session, resent.id, "answer", "failed"),
                "resent-newer": _reply(session, resent.id, "answer", "queued"),
                # part-escfix: a reply two of whose three SMS parts went out, one whose send may
                # have arrived, and one failed before its budget was spent (not the recorder's).
                "partly-sent": _reply(session, alone.id, "status", "failed"),
                "maybe-arrived": _reply(session, alone.id, "reminder", "failed"),
                "refused-early": _reply(session, alone.id, "notice", "failed"),
            }
            session.get(Reply, replies["partly-sent"]).parts_sent = 2
            session.get(Reply, replies["maybe-arrived"]).unknown_outcomes = 1
            session.get(Reply, replies["refused-early"]).attempts = 0
            newer = session.get(Reply, replies["resent-newer"])  # the operator sent the answer again later
            newer.created_at, newer.attempts = newer.created_at + timedelta(minutes=5), 0
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=QUEUE,
            actor_name="send_reply",
            args=(
                [
                    replies[k]
                    for k in ("alone", "alone-unknown", "resent", "partly-sent", "maybe-arrived", "refused-early")
                ],
            ),
            kwargs={},
            options={"retries": 1},
        )
        runtime.broker.dead_letters_by_queue[QUEUE].append(MessageProxy(message))  # type: ignore[attr-defined]

        outcome = requeue_dead(runtime, [message.message_id], actor="staff:2")

        assert outcome.rows_reset == 1
        with runtime.read_sf() as session:
            states = {
                key: (r.status, r.attempts) for key, r in ((k, session.get(Reply, v)) for k, v in replies.items())
            }
        assert states == {
            "alone": ("queued", 0),
            "alone-unknown": ("unknown", 1),
            "resent": ("failed", 1),
            "resent-newer": ("queued", 0),
            "partly-sent": ("failed", 1),
            "maybe-arrived": ("failed", 1),
            "refused-early": ("failed", 0),
        }
        [depth] = queue_depths(runtime.broker)
        assert (depth.ready, depth.dead) == (1, 0)
    finally:
        runtime.close()


def test_a_poison_complaint_dies_on_its_row_and_is_processed_again_after_the_fix(
    tmp_path: Path, backend: dict[str, object]
) -> None:
    """A row whose processing raises ends dead with no queue message; listed, fixed and retried, it is done."""
    runtime = build_runtime(base_settings(tmp_path, reply_max_retries=0, sweep_after_seconds=600, **backend))
    pool = start_workers(runtime, threads=1)
    assert runtime.outbound is not None
    runtime.outbound.adapters = {"test": FlakyAdapter([])}
    try:
        [accepted] = store.accept_batch(runtime.sf, [envelope("poison")])
        with runtime.sf.begin() as session:  # written by a future version of the code
            row = session.get(InboxMessage, accepted.inbox_id)
            good, row.envelope = row.envelope, {**row.envelope, "version": 99}
        runtime.send("verify_intake", [accepted.inbox_id])
        [dead], total = _until(lambda: (found := dead_inbox_rows(runtime))[1] and found)
        assert total == 1 and dead.id == accepted.inbox_id and "version 99" in (dead.error or "")
        assert dead_letters(runtime) == ([], 0)  # the row's budget ended first: no queue message died

        with runtime.sf.begin() as session:  # the fix: this version can read it again
            session.get(InboxMessage, accepted.inbox_id).envelope = good
        assert retry_dead_rows(runtime, [accepted.inbox_id, "not-a-row"], actor="staff:3") == 1

        def done() -> bool:
            with runtime.read_sf() as session:
                return session.get(InboxMessage, accepted.inbox_id).state == "done"

        _until(done)
        assert dead_inbox_rows(runtime) == ([], 0)
        with runtime.read_sf() as session:
            [action] = session.scalars(select(DeadLetterAction)).all()
        assert (action.actor, action.message_id) == ("staff:3", f"inbox:{accepted.inbox_id}")
    finally:
        pool.stop()
        runtime.close()
