"""The outer time-out of a send leaves room for every part of a long answer."""

from __future__ import annotations

from channels.base import OutboundReply
from channels.registry import Adapters
from config.settings import Settings
from workers.budget import MAX_PARTS_WAITED, send_deadline
from workers.outbound import OutboundSender
from workers.setup import build_runtime


def _reply(text: str) -> OutboundReply:
    return OutboundReply(id="r1", channel="telegram", provider="telegram", address="42", text=text)


def test_a_long_answer_gets_one_request_time_out_per_part() -> None:
    """A 9,000-character answer (three Telegram messages) may take longer than a one-line ack, up to a cap."""
    settings = Settings(_env_file=None, send_timeout_seconds=10)  # type: ignore[call-arg]
    sender = OutboundSender(settings, Adapters())
    try:
        short, long, huge = (sender.reply_timeout(_reply("x" * n)) for n in (100, 9000, 1_000_000))
    finally:
        sender.close()
    assert short == 2 * 15 and long == 4 * 15 and huge == MAX_PARTS_WAITED * 15


def test_the_send_actor_outlives_the_longest_send(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Dramatiq's time limit on send_reply is longer than the longest outer send time-out, so it never cuts one."""
    settings = Settings(_env_file=None, data_dir=tmp_path, send_timeout_seconds=30)  # type: ignore[call-arg]
    runtime = build_runtime(settings)
    try:
        limit_ms = runtime.actors["send_reply"].options["time_limit"]
    finally:
        runtime.close()
    assert limit_ms / 1000 > MAX_PARTS_WAITED * (30 + 5) + 5


def test_a_live_long_send_is_never_reclaimed_as_a_dead_workers() -> None:
    """The sweeper's deadline for a claimed send outlasts the longest send, so it never sends one twice."""
    settings = Settings(_env_file=None, send_timeout_seconds=15)  # type: ignore[call-arg]
    sender = OutboundSender(settings, Adapters())
    try:
        longest = sender.reply_timeout(_reply("x" * 1_000_000))
    finally:
        sender.close()
    assert send_deadline(settings, "x" * 1_000_000).total_seconds() > longest + 5
    # A one-line reply of a worker killed mid-send is reclaimed within a minute, not after the longest send.
    assert send_deadline(settings, "Tiket BGR-7KQ2XMP").total_seconds() < 60
