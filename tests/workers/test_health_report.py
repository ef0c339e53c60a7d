"""The health picture and its problems in words, with a frozen clock (``now`` is passed in).

Counters and heartbeats are seeded through :mod:`complaints.monitoring`, as the monitor thread
of each process writes them; inbox and reply rows are written as the pipeline writes them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from complaints.models import InboxMessage, PollerState, Reply
from complaints.monitoring import ProcessInfo, add_counts, add_queue_samples, beat, minute_of
from config.loader import load_city_config
from config.settings import ConfigurationError
from normalizer.envelope import utcnow
from tests.conftest import base_settings
from tests.support.city import copy_config, edit
from workers.health_problems import Problem, problems
from workers.health_report import build_health
from workers.office_hours import WIB, parse_office_hours
from workers.runtime import Runtime
from workers.setup import build_runtime

# Wednesday 2 December 2026, 11:30 WIB: inside "mon-fri 08:00-16:00".
WEDNESDAY_1130 = datetime(2026, 12, 2, 11, 30, tzinfo=WIB).astimezone(UTC)
KANNEL = {
    "kannel_sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
    "kannel_username": "u",
    "kannel_password": "p",
    "kannel_inbound_token": "t",
}


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on SQLite with Kannel switched on (so SMS is an expected channel), no workers."""
    rt = build_runtime(base_settings(tmp_path, **KANNEL))
    yield rt
    rt.close()


def inbox_row(rt: Runtime, channel: str, at: datetime, state: str = "done") -> None:
    with rt.sf.begin() as session:
        session.add(
            InboxMessage(
                id=uuid.uuid4().hex, channel=channel, provider="kannel", external_id=uuid.uuid4().hex, kind="complaint",
                envelope={}, state=state, created_at=at, updated_at=at,
            )
        )  # fmt: skip


def found_at(rt: Runtime, now: datetime) -> list[Problem]:
    return problems(build_health(rt, now), rt.settings, now)


def codes(found: list[Problem]) -> list[str]:
    return [p.code for p in found]


def test_office_hours_count_only_office_time() -> None:
    """Friday 15:00 to Monday 08:30 is 1.5 h of office time; Saturday is closed; bad values say why."""
    office = parse_office_hours("mon-fri 08:00-16:00")
    friday_15 = datetime(2026, 12, 4, 15, 0, tzinfo=WIB)
    monday_0830 = datetime(2026, 12, 7, 8, 30, tzinfo=WIB)
    assert office.open_time_between(friday_15, monday_0830) == timedelta(hours=1, minutes=30)
    assert not office.is_open(datetime(2026, 12, 5, 11, 0, tzinfo=WIB))
    assert office.is_open(monday_0830)
    split = parse_office_hours("mon-thu 07:30-16:00, fri 07:30-11:30")
    assert not split.is_open(datetime(2026, 12, 4, 12, 0, tzinfo=WIB)) and split.is_open(monday_0830)
    with pytest.raises(ConfigurationError, match="mon-fri 08:00-16:00"):
        parse_office_hours("weekdays 8-4")


def test_malformed_office_hours_are_a_problem_not_a_broken_page(tmp_path: Path) -> None:
    """HEALTH_OFFICE_HOURS that cannot be read is listed as a problem saying what to write."""
    rt = build_runtime(base_settings(tmp_path, health_office_hours="weekdays"))
    try:
        [bad] = found_at(rt, WEDNESDAY_1130)
        assert bad.code == "office_hours_invalid" and "mon-fri 08:00-16:00" in bad.text_en
    finally:
        rt.close()


def test_a_message_waiting_too_long_in_the_queue_is_a_problem(tmp_path: Path) -> None:
    """Nobody consumes the queue: its oldest message's wait is said once past HEALTH_STUCK_MINUTES."""
    rt = build_runtime(base_settings(tmp_path, health_stuck_minutes=0.001))  # 60 ms
    try:
        rt.send("verify_intake", ["x"])
        time.sleep(0.2)
        [waiting] = [p for p in found_at(rt, utcnow()) if p.code == "queue_waiting"]
        assert waiting.subject == "intake" and waiting.text_en == "Queue intake: the oldest message has waited 0 min"
    finally:
        rt.close()


def test_quiet_channel_is_a_problem_only_after_the_threshold_and_in_office_hours(runtime: Runtime) -> None:
    """No SMS since 08:00 on a Wednesday: fine at 10:30, a problem at 11:30, not on Saturday, and not
    for the web form (nothing outside the city switches it on or off)."""
    rt = runtime
    inbox_row(rt, "sms", datetime(2026, 12, 2, 6, 30, tzinfo=WIB))  # before office hours
    inbox_row(rt, "web", datetime(2026, 12, 2, 6, 30, tzinfo=WIB))
    assert "channel_quiet" not in codes(found_at(rt, datetime(2026, 12, 2, 10, 30, tzinfo=WIB)))
    [quiet] = [p for p in found_at(rt, WEDNESDAY_1130) if p.code == "channel_quiet"]
    assert quiet.subject == "sms" and quiet.severity == "warning"
    assert quiet.text_en == "No SMS received for 3 h during office hours"  # 08:00-11:30 = 3.5 h
    assert quiet.text_id == "Tidak ada SMS masuk selama 3 jam pada jam kerja"
    saturday = datetime(2026, 12, 5, 11, 30, tzinfo=WIB)
    assert "channel_quiet" not in codes(found_at(rt, saturday))
    # An SMS at 11:00 resets the silence.
    inbox_row(rt, "sms", datetime(2026, 12, 2, 11, 0, tzinfo=WIB))
    assert "channel_quiet" not in codes(found_at(rt, WEDNESDAY_1130))


def test_missing_heartbeat_is_flagged_but_a_clean_stop_is_not(runtime: Runtime) -> None:
    """A worker that stopped beating at 11:20 is missing (said in WIB); one that stopped cleanly is not."""
    rt, now = runtime, WEDNESDAY_1130
    started = now - timedelta(hours=2)
    with rt.sf.begin() as session:
        for pid, beat_at, stopped in (
            (101, now - timedelta(minutes=10), None),  # silent for 10 min: missing
            (102, now - timedelta(minutes=30), now - timedelta(minutes=30)),  # said goodbye
            (103, now - timedelta(seconds=5), None),  # alive
        ):
            beat(session, ProcessInfo(f"host-a:{pid}:1", "worker", "host-a", pid, 4, started, beat_at, stopped))
    picture = build_health(rt, now)
    assert {p.info.pid: p.state for p in picture.processes} == {101: "missing", 102: "stopped", 103: "alive"}
    [missing] = [p for p in problems(picture, rt.settings, now) if p.code == "process_missing"]
    assert missing.text_en == "worker heartbeat missing since 11:20 WIB (host-a, pid 101)"
    assert missing.severity == "critical" and missing.subject == "host-a:101:1"
    # The worker is started again on its host (after a kill -9): the old one was replaced, not missing.
    with rt.sf.begin() as session:
        beat(session, ProcessInfo("host-a:104:2", "worker", "host-a", 104, 4, now - timedelta(minutes=2), now, None))
    picture = build_health(rt, now)
    assert {p.info.pid: p.state for p in picture.processes}[101] == "replaced"
    assert "process_missing" not in codes(problems(picture, rt.settings, now))


def test_accepted_messages_nobody_processed_and_given_up_are_counted(runtime: Runtime) -> None:
    """Two accepted messages older than 5 min are a problem; a fresh one and a finished one are not.
    A message given up after its retries today is its own problem; one from last week is not."""
    rt, now = runtime, WEDNESDAY_1130
    for minutes, state in ((12, "accepted"), (6, "accepted"), (1, "accepted"), (30, "done"), (90, "dead")):
        inbox_row(rt, "sms", now - timedelta(minutes=minutes), state)
    inbox_row(rt, "sms", now - timedelta(days=7), "dead")
    found = found_at(rt, now)
    [stuck] = [p for p in found if p.code == "inbox_stuck"]
    assert stuck.text_en == "2 accepted messages older than 5 min not yet processed"
    [dead] = [p for p in found if p.code == "inbox_dead"]
    assert dead.text_en == "1 message received in the last 24 h given up after every retry"


def test_outbound_provider_refusing_says_for_how_long_and_the_last_error(runtime: Runtime) -> None:
    """Kannel sends failing since 11:22 with none succeeding: a problem naming the last HTTP status;
    a send that succeeds afterwards clears it."""
    rt, now = runtime, WEDNESDAY_1130
    with rt.sf.begin() as session:
        add_counts(session, {(minute_of(now - timedelta(minutes=20)), "outbound", "kannel:sent"): 3})
        for ago in (8, 5, 1):
            add_counts(session, {(minute_of(now - timedelta(minutes=ago)), "outbound", "kannel:failed"): 2})
        add_counts(session, {(minute_of(now - timedelta(minutes=3)), "outbound", "kannel:sent"): 0})  # not a success
        session.add(
            Reply(
                id=uuid.uuid4().hex, dedupe_key=uuid.uuid4().hex, kind="ack", channel="sms", provider="kannel",
                address="+6281234567890", text="Terima kasih", status="queued", attempts=2,
                error="sendsms answered 503: Service Unavailable (to +6281234567890)",
                created_at=now - timedelta(minutes=9), updated_at=now - timedelta(minutes=1),
            )
        )  # fmt: skip
    picture = build_health(rt, now)
    [kannel] = [o for o in picture.outbound if o.provider == "kannel"]
    assert (kannel.queued, kannel.sent, kannel.failed) == (1, 3, 6)
    assert kannel.last_error is not None and "6281234567890" not in kannel.last_error  # masked
    [refusing] = [p for p in problems(picture, rt.settings, now) if p.code == "outbound_failing"]
    assert refusing.text_en == "Kannel sendsms refusing for 8 min (last error: 503)"
    assert refusing.text_id == "Kannel sendsms menolak pengiriman selama 8 menit (galat terakhir: 503)"
    with rt.sf.begin() as session:
        add_counts(session, {(minute_of(now), "outbound", "kannel:sent"): 1})
    assert "outbound_failing" not in codes(found_at(rt, now))


def test_poller_error_in_words_after_its_grace_time_with_the_mailbox_masked(runtime: Runtime) -> None:
    """An IMAP poller failing to log in for 12 min: its words name the failure, never the mailbox."""
    rt, now = runtime, WEDNESDAY_1130
    with rt.sf.begin() as session:
        session.add(
            PollerState(
                id="imap:lapor@bogorkota.go.id@127.0.0.1/INBOX", provider="imap", status="error",
                last_poll_at=now - timedelta(minutes=12), last_error="LoginError: b'[AUTHENTICATIONFAILED] ...'",
                last_error_at=now - timedelta(seconds=20), updated_at=now,
            )
        )  # fmt: skip
    picture = build_health(rt, now)
    [poller] = picture.pollers
    assert "lapor@bogorkota.go.id" not in poller.id
    [down] = [p for p in problems(picture, rt.settings, now) if p.code == "poller_error"]
    assert down.text_en == "IMAP poller disconnected for 12 min: authentication failed (wrong user or password)"
    assert "lapor@" not in str(down.as_json())
    assert "poller_error" not in codes(found_at(rt, now - timedelta(minutes=11)))  # within the 2 min grace


def test_counters_and_samples_feed_the_windows_and_the_chart(runtime: Runtime) -> None:
    """Processed and failed per actor over 1/5/15 min, and the chart's minutes come from the stored rows."""
    rt, now = runtime, WEDNESDAY_1130
    with rt.sf.begin() as session:
        add_counts(session, {(minute_of(now), "actor", "verify_intake:processed"): 4})
        add_counts(session, {(minute_of(now - timedelta(minutes=3)), "actor", "verify_intake:processed"): 6})
        add_counts(session, {(minute_of(now - timedelta(minutes=10)), "actor", "send_reply:failed"): 1})
        add_queue_samples(session, now - timedelta(minutes=3), [_depth(ready=7)])
    picture = build_health(rt, now)
    verify = next(a for a in picture.actors if a.actor == "verify_intake")
    assert verify.processed == {1: 4, 5: 10, 15: 10}
    [queue] = picture.queues
    assert queue.processed[15] == 10 and queue.failed == {1: 0, 5: 0, 15: 1}
    by_minute = {p.minute: p for p in picture.series}
    assert by_minute[minute_of(now - timedelta(minutes=3))].depth == 7
    assert by_minute[minute_of(now)].processed == 4


def _depth(**fields: Any) -> Any:
    from complaints.monitoring import QueueDepth

    values = {"queue": "intake", "ready": 0, "delayed": 0, "in_flight": 0, "dead": 0} | fields
    return QueueDepth(**values)


def test_queue_depths_and_dead_letters_on_both_brokers(tmp_path: Path, backend: dict[str, object]) -> None:
    """Two waiting messages and one the broker dead-lettered show the same embedded (SQLite, in-process
    broker) and distributed (PostgreSQL, Redis): ready 2, dead 1, an oldest age, the problem in words."""
    rt = build_runtime(base_settings(tmp_path, **backend))
    try:
        inbox_row(rt, "sms", utcnow() - timedelta(minutes=20), "accepted")  # the picture's queries on this database
        assert codes(found_at(rt, utcnow())) == ["inbox_stuck"]
        for ids in (["a"], ["b"], ["c"]):
            rt.send("verify_intake", ids)
        # A consumer takes one and rejects it: Dramatiq's own dead-lettering (what a spent retry budget does).
        consumer = rt.broker.consume("intake", timeout=1000)
        message = next(m for m in consumer if m is not None)
        consumer.nack(message)
        consumer.close()
        picture = build_health(rt)
        [queue] = picture.queues
        assert (queue.depth.queue, queue.depth.ready, queue.depth.dead) == ("intake", 2, 1)
        assert queue.depth.oldest_ready_seconds is not None
        [dead] = [p for p in problems(picture, rt.settings, picture.at) if p.code == "dead_letters"]
        assert dead.text_en == "1 message in the dead-letter queue"
    finally:
        rt.close()


def test_quiet_channel_skips_the_city_calendars_holidays(runtime: Runtime) -> None:
    """part-escfix: cuti bersama (24 Dec 2026) and Christmas (25 Dec) are no office hours: silence is not counted."""
    rt = runtime
    inbox_row(rt, "sms", datetime(2026, 12, 23, 15, 0, tzinfo=WIB))  # Wednesday, an hour before closing
    [quiet] = [p for p in found_at(rt, datetime(2026, 12, 28, 11, 0, tzinfo=WIB)) if p.code == "channel_quiet"]
    assert quiet.text_en == "No SMS received for 4 h during office hours"  # Wed 15-16 + Mon 08-11
    inbox_row(rt, "sms", datetime(2026, 12, 23, 15, 30, tzinfo=WIB))
    assert "channel_quiet" not in codes(found_at(rt, datetime(2026, 12, 24, 11, 30, tzinfo=WIB)))


# --- issue 10 review: office hours are calendar.yaml's working hours; HEALTH_OFFICE_HOURS only overrides ---


def test_quiet_channel_office_hours_are_the_city_calendars_working_hours(tmp_path: Path) -> None:
    """A city whose calendar.yaml closes at 11:30 on Fridays: no quiet SMS at Friday 13:00, one at Thursday 13:00."""
    directory = copy_config(tmp_path / "config")
    edit(directory / "calendar.yaml", 'friday: "08:00-16:00"', 'friday: "08:00-11:30"')
    rt = build_runtime(base_settings(tmp_path, **KANNEL), config=load_city_config(directory))
    try:
        assert rt.settings.health_office_hours == ""  # nothing set: the calendar says
        inbox_row(rt, "sms", datetime(2026, 12, 3, 6, 0, tzinfo=WIB))  # Thursday before opening
        assert "channel_quiet" in codes(found_at(rt, datetime(2026, 12, 3, 13, 0, tzinfo=WIB)))
        inbox_row(rt, "sms", datetime(2026, 12, 4, 6, 0, tzinfo=WIB))  # Friday before opening
        assert "channel_quiet" not in codes(found_at(rt, datetime(2026, 12, 4, 13, 0, tzinfo=WIB)))
    finally:
        rt.close()


def test_health_office_hours_overrides_the_weekly_hours_but_not_the_holidays(tmp_path: Path) -> None:
    """HEALTH_OFFICE_HOURS='mon-sun 07:00-21:00': a silent Saturday evening is reported, Christmas Day is not."""
    rt = build_runtime(base_settings(tmp_path, health_office_hours="mon-sun 07:00-21:00", **KANNEL))
    try:
        inbox_row(rt, "sms", datetime(2026, 12, 5, 7, 0, tzinfo=WIB))
        [quiet] = [p for p in found_at(rt, datetime(2026, 12, 5, 19, 0, tzinfo=WIB)) if p.code == "channel_quiet"]
        assert quiet.text_en == "No SMS received for 12 h during office hours"
        inbox_row(rt, "sms", datetime(2026, 12, 25, 7, 0, tzinfo=WIB))
        assert "channel_quiet" not in codes(found_at(rt, datetime(2026, 12, 25, 19, 0, tzinfo=WIB)))
    finally:
        rt.close()
