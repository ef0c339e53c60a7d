"""X adapter: CRC and signatures, X's documented payloads, the pollers against a fake X API,
the API-host adapter, and what may be said in public."""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tweepy

from channels.base import (
    BadRequest,
    DeliveryUpdate,
    OutboundReply,
    PollContext,
    PollerHealth,
    RawRequest,
    SendError,
    Unauthorized,
)
from channels.registry import build_adapters
from channels.x import XChannel
from channels.x.api import ApiHostAdapter, rate_limit_wait
from channels.x.events import strip_leading_handles
from channels.x.polling import XPoller
from channels.x.public import PublicPhrases
from channels.x.webhook import IGNORED_EVENT_TYPES, parse_account_activity
from complaints.replies import render_reply
from config.settings import Settings
from normalizer.envelope import Intake
from normalizer.normalize import build_envelope
from tests.support.city import shipped_city, shipped_texts
from tests.support.fake_x import FakeX, XCredentials
from tests.support.system import free_port

FIXTURES = Path(__file__).parent / "x" / "fixtures"
CREDS = XCredentials()
OWN = CREDS.user_id  # 2244994945, the documentation's @TwitterDev, as in the fixtures
NIK = "3271014505900002"
NAME = "Siti Aminah"
ADDRESS = "Jl. Pajajaran No. 5"
PHONE = "081234567890"
EMAIL = "siti.aminah@example.id"
TICKET = "BGR-7KQ2XMP"


def make_settings(**overrides: object) -> Settings:
    """Settings with X enabled and nothing read from a .env file."""
    values: dict[str, object] = {**CREDS.settings(), "send_timeout_seconds": 5.0, "x_poll_seconds": 0.2}
    values["public_base_url"] = "https://intake.example"
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def expected_hmac(message: bytes, secret: str = CREDS.consumer_secret) -> str:
    """What X computes: sha256= + base64(HMAC-SHA256(consumer secret, message)), done here with
    the standard library rather than with the adapter's code."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def post(body: bytes, signature: str | None) -> RawRequest:
    """An Account Activity POST as the gateway hands it over."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is not None:
        headers["X-Twitter-Webhooks-Signature"] = signature
    return RawRequest(method="POST", path="/channels/x", query={}, headers=headers, body=body)


def crc(token: str | None) -> RawRequest:
    """X's challenge-response GET."""
    query = {"crc_token": token} if token is not None else {}
    return RawRequest(method="GET", path="/channels/x", query=query, headers={}, body=b"")


@pytest.fixture
def fake() -> Iterator[FakeX]:
    """A fake X API on loopback."""
    with FakeX(CREDS) as server:
        yield server


@pytest.fixture
async def channel(fake: FakeX) -> Any:
    """An X channel whose tweepy client is pointed at the fake by X_API_BASE."""
    adapter = XChannel(make_settings(x_api_base=fake.url), texts=shipped_texts())
    yield adapter
    await adapter.close()


class MemoryContext:
    """A PollContext backed by dicts: accepts each external id once, like the inbox's unique key."""

    def __init__(self, *, fail_accept: bool = False) -> None:
        self.accepted: dict[str, Intake] = {}
        self.deliveries: list[Intake] = []
        self.cursors: dict[str, str] = {}
        self.health: list[PollerHealth] = []
        self.fail_accept = fail_accept
        self.stopping = asyncio.Event()

    def ctx(self) -> PollContext:
        async def accept(intakes: list[Intake]) -> list[Any]:
            if self.fail_accept:
                raise RuntimeError("database is down")
            self.deliveries.extend(intakes)
            for intake in intakes:
                self.accepted.setdefault(intake.external_id or "", intake)
            return []

        async def apply_updates(updates: list[DeliveryUpdate]) -> int:
            return 0

        async def cursor_get(key: str) -> str | None:
            return self.cursors.get(key)

        async def cursor_set(key: str, value: str) -> None:
            self.cursors[key] = value

        async def keep_unreadable(**unreadable: str) -> None:
            raise AssertionError(f"X input kept as unreadable: {unreadable}")

        async def report(health: PollerHealth) -> None:
            self.health.append(health)

        return PollContext(
            accept=accept,
            apply_updates=apply_updates,
            cursor_get=cursor_get,
            cursor_set=cursor_set,
            stopping=self.stopping,
            keep_unreadable=keep_unreadable,
            report=report,
        )


# -- settings and registry ---------------------------------------------------------------------


def test_registry_builds_the_x_channel_with_its_webhook_only_when_asked() -> None:
    """X is built from the registry line; /channels/x is served only with X_WEBHOOK_ENABLED."""
    off = build_adapters(make_settings(), texts=shipped_texts())
    assert off.named("x", XChannel).path is None and "x" in off.pollers and "x" not in off.webhooks
    on = build_adapters(make_settings(x_webhook_enabled=True), texts=shipped_texts())
    assert on.webhooks["x"].path == "/channels/x" and on.webhooks["x"].methods == ("GET", "POST")
    assert on.outbound["x"] is on.webhooks["x"] is on.pollers["x"]


def test_poll_seconds_zero_turns_polling_off() -> None:
    """X_POLL_SECONDS=0 leaves a webhook-only set-up without a poller."""
    assert not XChannel(make_settings(x_poll_seconds=0, x_webhook_enabled=True)).polling_enabled()


# -- webhook: CRC and signature ----------------------------------------------------------------


def test_crc_answer_is_the_hmac_of_the_token() -> None:
    """A CRC GET is answered 200 with {"response_token": "sha256=" + base64(HMAC-SHA256(secret, token))}."""
    token = "9b4507b3-9040-4669-9ca3-6b94edb50553"  # the token in X's CRC example code
    adapter = XChannel(make_settings(x_webhook_enabled=True))
    request = crc(token)
    adapter.verify(request)
    result = adapter.parse(request)
    assert result.intakes == [] and result.ignored
    status, content_type, body = adapter.answer(request, [])
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"response_token": expected_hmac(token.encode())}


@pytest.mark.parametrize("token", [None, "", '{"direct_message_events":[]}', "a b", "x" * 600])
def test_crc_without_a_plausible_token_is_a_bad_request(token: str | None) -> None:
    """A CRC GET without crc_token, or with one that could be a webhook body, gets 400 and no HMAC."""
    adapter = XChannel(make_settings(x_webhook_enabled=True))
    with pytest.raises(BadRequest):
        adapter.parse(crc(token))


BODY = fixture("aaa_tweet_create_events_mention.json")
SIGNATURE_CASES = [
    # (label, signature header, accepted)
    ("valid", expected_hmac(BODY), True),
    ("valid with surrounding space", " " + expected_hmac(BODY) + " ", True),
    ("missing", None, False),
    ("empty", "", False),
    ("wrong", "sha256=" + base64.b64encode(b"\0" * 32).decode(), False),
    ("other secret", expected_hmac(BODY, "not-the-secret"), False),
    ("other body", expected_hmac(BODY + b" "), False),
    (
        "hex instead of base64",
        "sha256=" + hmac.new(CREDS.consumer_secret.encode(), BODY, hashlib.sha256).hexdigest(),
        False,
    ),
]


@pytest.mark.parametrize(("label", "signature", "accepted"), SIGNATURE_CASES, ids=[c[0] for c in SIGNATURE_CASES])
def test_post_signature_is_checked(label: str, signature: str | None, accepted: bool) -> None:
    """Only a POST signed with the consumer secret over its exact bytes passes; others are Unauthorized."""
    adapter = XChannel(make_settings(x_webhook_enabled=True))
    if accepted:
        adapter.verify(post(BODY, signature))
    else:
        with pytest.raises(Unauthorized):
            adapter.verify(post(BODY, signature))


def test_post_answer_is_an_empty_200() -> None:
    """X gets an empty 200 for an event POST once it is stored."""
    adapter = XChannel(make_settings(x_webhook_enabled=True))
    assert adapter.answer(post(BODY, expected_hmac(BODY)), ["BGR-7KQ2XMP"]) == (200, "text/plain", b"")


# -- webhook: documented payloads --------------------------------------------------------------


def test_mention_event_becomes_a_public_intake() -> None:
    """A tweet_create_events @mention is a complaint from its author, answered in that post's thread."""
    result = parse_account_activity(fixture("aaa_tweet_create_events_mention.json"), OWN)
    [intake] = result.intakes
    assert intake.external_id == "x:tweet:1746879348726448128"
    assert intake.channel == intake.provider == "x"
    assert intake.sender == "199566737"
    assert intake.text == "Lampu PJU mati di Jl. Pajajaran sejak seminggu & belum diperbaiki"
    assert (intake.reply_route.address, intake.reply_route.thread_ref) == ("199566737", "1746879348726448128")
    assert intake.raw is not None and intake.raw["public"] is True and intake.raw["author_username"] == "LeBraat"
    assert intake.received_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)


def test_long_reply_uses_the_extended_text_and_yields_the_identity() -> None:
    """A truncated post is read from extended_tweet.full_text, so its labelled identity is complete."""
    [intake] = parse_account_activity(fixture("aaa_tweet_create_events_long_reply.json"), OWN).intakes
    envelope = build_envelope(intake)
    assert envelope.identity.nik == NIK and envelope.identity.name == NAME
    assert envelope.identity.phone == "+6281234567890"
    assert envelope.text.startswith("Sampah menumpuk") and envelope.text.endswith("& mulai berbau")


def test_own_posts_and_retweets_are_not_complaints() -> None:
    """The city's own reply and a retweet of its post arrive as tweet_create_events but open nothing."""
    result = parse_account_activity(fixture("aaa_tweet_create_events_own_post_and_retweet.json"), OWN)
    assert result.intakes == []
    assert result.ignored and "our own" in result.ignored and "retweet" in result.ignored


def test_dm_event_becomes_a_private_intake() -> None:
    """A direct_message_events message_create is a complaint answered by DM only (no thread)."""
    [intake] = parse_account_activity(fixture("aaa_direct_message_events.json"), "4337869213").intakes
    assert intake.external_id == "x:dm:954491830116155396"
    assert intake.sender == "3001969357" and intake.text == "Hello World!"
    assert intake.reply_route.thread_ref is None and intake.reply_route.address == "3001969357"
    assert intake.raw == {
        "public": False,
        "dm_conversation_id": "3001969357-4337869213",
        "dm_event_id": "954491830116155396",
        "sender_username": "furiouscamper",
        "media_keys": [],
    }
    assert intake.received_at is not None and intake.received_at.year == 2018


def test_our_own_dm_echoed_by_the_webhook_is_skipped() -> None:
    """The DMs the city sends come back through the webhook and are not complaints."""
    payload = json.loads(fixture("aaa_direct_message_events.json"))
    create = payload["direct_message_events"][0]["message_create"]
    create["sender_id"], create["target"]["recipient_id"] = "4337869213", "3001969357"
    result = parse_account_activity(json.dumps(payload).encode(), "4337869213")
    assert result.intakes == [] and result.ignored and "sent by us" in result.ignored


@pytest.mark.parametrize(
    ("name", "event_type"),
    [
        ("aaa_direct_message_indicate_typing_events.json", "direct_message_indicate_typing_events"),
        ("aaa_direct_message_mark_read_events.json", "direct_message_mark_read_events"),
        ("aaa_tweet_delete_events.json", "tweet_delete_events"),
        ("aaa_user_event_revoke.json", "user_event"),
    ],
)
def test_deliberately_ignored_event_types_name_their_reason(name: str, event_type: str) -> None:
    """Typing, read receipts, deletions and revocations are answered 200 and ignored with the listed reason."""
    body = fixture(name)
    own = str(json.loads(body).get("for_user_id") or OWN)
    result = parse_account_activity(body, own)
    assert result.intakes == []
    assert result.ignored == f"{event_type}: {IGNORED_EVENT_TYPES[event_type]}"


def test_unknown_event_type_and_other_accounts_are_ignored() -> None:
    """An event type X adds later, and events for another subscribed account, are ignored with a reason."""
    unknown = parse_account_activity(b'{"for_user_id": "2244994945", "poll_vote_events": []}', OWN)
    assert unknown.intakes == [] and unknown.ignored == "poll_vote_events: unknown event type"
    other = parse_account_activity(fixture("aaa_tweet_create_events_mention.json"), "4337869213")
    assert other.intakes == [] and other.ignored and "another subscribed account" in other.ignored


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[]", b'"text"'])
def test_malformed_bodies_are_bad_requests(body: bytes) -> None:
    """A signed body that is not a JSON object is refused with a reason."""
    with pytest.raises(BadRequest):
        parse_account_activity(body, OWN)


@pytest.mark.parametrize(
    "body",
    [
        b'{"tweet_create_events": {}}',
        b'{"tweet_create_events": ["x"]}',
        b'{"tweet_create_events": [{"id_str": "1", "text": "hi"}]}',
        b'{"direct_message_events": [{"type": "message_create", "id": "5", "message_create": {}}]}',
    ],
)
def test_malformed_events_are_skipped_with_a_reason(body: bytes) -> None:
    """Malformed events inside a valid body are skipped with a logged reason, not refused (X would resend for ever)."""
    result = parse_account_activity(body, OWN)
    assert result.intakes == [] and result.ignored


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@KotaBogor jalan rusak", "jalan rusak"),
        ("@KotaBogor @DinasPUPR_Bgr, jalan rusak", "jalan rusak"),
        ("  @KotaBogor: LAPOR#1#2#3#isi", "LAPOR#1#2#3#isi"),
        ("jalan rusak, cc @KotaBogor", "jalan rusak, cc @KotaBogor"),
        ("@KotaBogor", ""),
        ("email@KotaBogor.id rusak", "email@KotaBogor.id rusak"),
    ],
)
def test_leading_handles_are_stripped(text: str, expected: str) -> None:
    """The @handles a reply starts with are not part of the complaint; later ones are."""
    assert strip_leading_handles(text) == expected


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_dm_answer_format_we_ask_for_is_read_back(lang: str) -> None:
    """The x_identity_missing request shows a DM format that our parser reads as identity plus the case's ticket."""
    request = render_reply(shipped_city().replies, "x_identity_missing", lang, channel="x", ticket=TICKET, fields="NIK")
    example = request[request.index(TICKET + "\n") :]
    answer = (
        example.replace("NIK: ...", f"NIK: {NIK}")
        .replace("Nama: ...", f"Nama: {NAME}")
        .replace("Alamat: ...", f"Alamat: {ADDRESS}")
        .replace("Telp: ...", f"Telp: {PHONE}")
    )
    intake = parse_account_activity(
        json.dumps(
            {
                "for_user_id": OWN,
                "direct_message_events": [
                    {
                        "type": "message_create",
                        "id": "954491830116155396",
                        "created_timestamp": "1516403560557",
                        "message_create": {
                            "target": {"recipient_id": OWN},
                            "sender_id": "3001969357",
                            "message_data": {"text": answer},
                        },
                    }
                ],
            }
        ).encode(),
        OWN,
    ).intakes[0]
    envelope = build_envelope(intake)
    assert envelope.subject == TICKET  # what links the DM to its case (workers.followup)
    assert (envelope.identity.nik, envelope.identity.name, envelope.identity.address) == (NIK, NAME, ADDRESS)
    assert envelope.identity.phone == "+6281234567890"


# -- polling against the fake ------------------------------------------------------------------


async def test_documented_mentions_answer_is_read(fake: FakeX, channel: XChannel) -> None:
    """The mentions timeline answer from X's docs becomes one complaint; since_id moves to meta.newest_id."""
    fake.respond_next("mentions", 200, fixture("mentions_quickstart.json"))
    memory = MemoryContext()
    poller = XPoller(channel.client, "2244994945", 0.2)
    assert await poller.poll_mentions(memory.ctx()) == 1
    intake = memory.accepted["x:tweet:1301573587187331074"]
    assert intake.text == "Hey @XDevelopers, love the new API!" and intake.sender == "1234567890"
    assert intake.raw is not None and intake.raw["author_username"] == "developer"
    assert memory.cursors["x:mentions:2244994945"] == "1301573587187331074"
    # The documented answer has a next_token: the second page was asked for with it.
    first, second = fake.served("mentions")
    assert "since_id" not in first.query and first.query["start_time"].endswith("Z")
    assert second.query["pagination_token"] == "t3buvdr5pujq9g7bggsnf3ep2ha28"
    assert first.query["expansions"] == "author_id" and "created_at" in first.query["tweet.fields"]


@pytest.mark.parametrize(
    ("name", "external_id", "conversation"),
    [
        ("dm_events_quickstart.json", "x:dm:1234567890", "2244994945-9876543210"),
        ("dm_events_integrate.json", "x:dm:1582838499983564806", "1578398451921985538"),
    ],
)
async def test_documented_dm_events_answers_are_read(
    fake: FakeX, channel: XChannel, name: str, external_id: str, conversation: str
) -> None:
    """DM events from X's docs become private complaints; joins and leaves are not messages."""
    fake.respond_next("dm_events", 200, fixture(name))
    memory = MemoryContext()
    poller = XPoller(channel.client, OWN, 0.2)
    with pytest.MonkeyPatch.context() as patch:
        # The documented events are from 2022/2024: read them as if the position were older.
        memory.cursors["x:dm:" + OWN] = "1"
        patch.setattr("channels.x.polling.MAX_PAGES", 1)
        assert await poller.poll_dms(memory.ctx()) == 1
    [intake] = memory.accepted.values()
    assert intake.external_id == external_id and intake.raw is not None
    assert intake.raw["dm_conversation_id"] == conversation and intake.reply_route.thread_ref is None
    [request] = fake.served("dm_events")
    assert request.auth == "oauth1" and request.query["event_types"] == "MessageCreate"


async def test_polls_accept_each_message_once_and_skip_our_own(fake: FakeX, channel: XChannel) -> None:
    """Mentions and DMs are accepted once, oldest first; the city's own DMs are skipped; positions move."""
    first = fake.add_mention("@KotaBogor jalan rusak", author_id="1111", username="warga1")
    second = fake.add_mention("@KotaBogor lampu mati", author_id="2222", username="warga2")
    dm = fake.add_dm("halo, sampah menumpuk", sender_id="3333", username="warga3")
    await channel.send(OutboundReply(id="r0", channel="x", provider="x", address="3333", text="Terima kasih"))
    memory = MemoryContext()
    poller = XPoller(channel.client, OWN, 0.2)
    assert await poller.poll_mentions(memory.ctx()) == 2
    assert await poller.poll_dms(memory.ctx()) == 1
    assert [i.external_id for i in memory.deliveries] == [f"x:tweet:{first}", f"x:tweet:{second}", f"x:dm:{dm}"]
    own_dm = fake.dms_sent[0]["dm_event_id"]
    assert memory.cursors == {f"x:mentions:{OWN}": second, f"x:dm:{OWN}": own_dm}
    # Next round: since_id is sent, nothing is new.
    assert await poller.poll_mentions(memory.ctx()) == 0
    assert await poller.poll_dms(memory.ctx()) == 0
    assert fake.served("mentions")[-1].query["since_id"] == second


async def test_position_moves_only_after_accept(fake: FakeX, channel: XChannel) -> None:
    """When storing fails, since_id stays put and the same mention is read again next time."""
    tweet = fake.add_mention("@KotaBogor jalan rusak", author_id="1111", username="warga1")
    memory = MemoryContext(fail_accept=True)
    poller = XPoller(channel.client, OWN, 0.2)
    with pytest.raises(RuntimeError):
        await poller.poll_mentions(memory.ctx())
    assert memory.cursors == {}
    memory.fail_accept = False
    assert await poller.poll_mentions(memory.ctx()) == 1
    assert memory.cursors[f"x:mentions:{OWN}"] == tweet


async def test_cold_start_reads_one_day_back(fake: FakeX, channel: XChannel) -> None:
    """Without a stored position, mentions and DMs older than a day are not turned into complaints."""
    old = datetime.now(UTC) - timedelta(days=3)
    fake.add_mention("@KotaBogor lama", author_id="1111", username="warga1", created_at=old)
    fake.add_dm("lama", sender_id="1111", username="warga1", created_at=old)
    recent = fake.add_mention("@KotaBogor baru", author_id="1111", username="warga1")
    memory = MemoryContext()
    poller = XPoller(channel.client, OWN, 0.2)
    assert await poller.poll_mentions(memory.ctx()) == 1
    assert await poller.poll_dms(memory.ctx()) == 0
    assert list(memory.accepted) == [f"x:tweet:{recent}"]


async def test_rate_limit_is_waited_out_and_polling_continues(fake: FakeX, channel: XChannel) -> None:
    """A 429 on mentions makes that loop wait until x-rate-limit-reset; DMs keep being polled meanwhile."""
    reset = fake.rate_limit_next("mentions", reset_in=1.0)
    tweet = fake.add_mention("@KotaBogor jalan rusak", author_id="1111", username="warga1")
    memory = MemoryContext()
    task = asyncio.create_task(channel.poll(memory.ctx()))
    deadline = time.monotonic() + 10
    while f"x:tweet:{tweet}" not in memory.accepted and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    memory.stopping.set()
    await asyncio.wait_for(task, 5)
    mentions = fake.served("mentions")
    assert mentions[0].status == 429 and mentions[1].status == 200
    assert mentions[1].at >= reset, "the second request waited for the reset time"
    dm_polls_during_wait = [r for r in fake.served("dm_events") if r.at < mentions[1].at]
    assert len(dm_polls_during_wait) >= 2


async def test_stopping_interrupts_a_long_rate_limit_wait(fake: FakeX, channel: XChannel) -> None:
    """A poller waiting out a 15-minute rate limit stops at once when the gateway stops."""
    fake.rate_limit_next("mentions", reset_in=600)
    memory = MemoryContext()
    task = asyncio.create_task(channel.poll(memory.ctx()))
    while not fake.served("mentions"):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    started = time.monotonic()
    memory.stopping.set()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 2


async def test_server_errors_back_off(fake: FakeX, channel: XChannel) -> None:
    """After a 503 the mentions loop waits longer than its interval before asking again."""
    fake.fail_next("mentions", 503, "Service Unavailable")
    memory = MemoryContext()
    task = asyncio.create_task(channel.poll(memory.ctx()))
    while len(fake.served("mentions")) < 2:
        await asyncio.sleep(0.05)
    memory.stopping.set()
    await asyncio.wait_for(task, 5)
    first, second = fake.served("mentions")[:2]
    assert first.status == 503 and second.at - first.at >= 1.5  # 2 x max(interval, 1 s)
    mentions = [h for h in memory.health if h.poller.startswith("x:mentions:")]
    assert [h.status for h in mentions[:2]] == ["error", "connected"] and "503" in (mentions[0].error or "")
    assert mentions[1].polled and not mentions[0].polled


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-rate-limit-reset": "1000"}, 11.0),
        ({"x-rate-limit-reset": "980"}, 1.0),
        ({"x-rate-limit-reset": "999999"}, 960.0),
        ({"x-rate-limit-reset": "soon"}, 60.0),
        ({}, 60.0),
        (None, 60.0),
    ],
)
def test_rate_limit_wait_follows_the_reset_header(headers: dict[str, str] | None, expected: float) -> None:
    """Waits run to x-rate-limit-reset + 1 s, at least 1 s and at most one 15-minute window (+1 min)."""
    assert rate_limit_wait(headers, now=990.0) == expected


# -- the API host adapter ------------------------------------------------------------------------


async def test_x_api_base_sends_tweepy_requests_to_that_host(fake: FakeX, channel: XChannel) -> None:
    """tweepy's hard-coded host is rewritten to X_API_BASE, and the OAuth signature still verifies."""
    answer = await asyncio.to_thread(channel.client.get_users_mentions, OWN, user_auth=True, max_results=5)
    assert answer == {"meta": {"result_count": 0}}
    [request] = fake.served("mentions")
    assert request.path == f"/2/users/{OWN}/mentions" and request.auth == "oauth1"
    adapter = channel.client.session.get_adapter("https://api.twitter.com/2/tweets")
    assert isinstance(adapter, ApiHostAdapter) and adapter.api_base == fake.url
    assert adapter.rewrite("https://api.twitter.com/2/dm_events?a=1") == f"{fake.url}/2/dm_events?a=1"


async def test_wrong_credentials_are_refused_and_sends_fail_for_good(fake: FakeX) -> None:
    """The fake checks the OAuth 1.0a signature: a wrong token secret gets 401, and a send fails permanently."""
    adapter = XChannel(make_settings(x_api_base=fake.url, x_access_token_secret="not-the-secret"))
    with pytest.raises(tweepy.Unauthorized):
        await asyncio.to_thread(adapter.client.get_direct_message_events, user_auth=True)
    with pytest.raises(SendError) as caught:
        await adapter.send(reply("answer", thread_ref=None))
    assert not caught.value.retryable and "401" in str(caught.value)
    assert [r.auth for r in fake.requests] == [None, None]
    await adapter.close()


def test_public_api_base_keeps_the_host_but_sets_a_timeout() -> None:
    """With the default X_API_BASE nothing is rewritten, yet every request gets SEND_TIMEOUT_SECONDS."""
    adapter = XChannel(make_settings(send_timeout_seconds=7.0)).client.session.get_adapter(
        "https://api.twitter.com/2/tweets"
    )
    assert isinstance(adapter, ApiHostAdapter)
    assert adapter.api_base is None and adapter.timeout == 7.0
    assert adapter.rewrite("https://api.twitter.com/2/tweets") == "https://api.twitter.com/2/tweets"


def test_api_base_with_a_path_prefix_is_kept() -> None:
    """A city's relay under a path (https://relay.example/x-api) gets that prefix before /2/..."""
    assert (
        ApiHostAdapter("https://relay.example/x-api/", 5).rewrite("https://api.twitter.com/2/tweets?x=1")
        == "https://relay.example/x-api/2/tweets?x=1"
    )


# -- replies -------------------------------------------------------------------------------------


FULL_ACK = (
    f"Terima kasih, pengaduan Anda sudah kami terima dengan nomor tiket {TICKET} dan diteruskan ke "
    f"Dinas PUPR. Data: NIK {NIK}, {NAME}, {ADDRESS}, {PHONE}, {EMAIL}"
)


def reply(
    kind: str | None = "ack",
    *,
    text: str = FULL_ACK,
    thread_ref: str | None = "1900000000000000001",
    ticket: str | None = TICKET,
    reply_id: str = "r1",
    address: str = "1111",
    language: str | None = None,
) -> OutboundReply:
    """An outbox row for an X citizen."""
    return OutboundReply(
        id=reply_id,
        channel="x",
        provider="x",
        address=address,
        text=text,
        thread_ref=thread_ref,
        ticket=ticket,
        kind=kind,
        language=language,
    )


PERSONAL = [NIK, "Siti", "Aminah", "Pajajaran", PHONE, "0812", "siti.aminah", "PUPR"]


async def test_ack_goes_public_with_ticket_only_and_whole_text_by_dm(fake: FakeX, channel: XChannel) -> None:
    """An acknowledgement is a public reply with the ticket and a short status, then the full text by DM."""
    result = await channel.send(reply("ack"))
    [public] = fake.posts
    assert public["in_reply_to_tweet_id"] == "1900000000000000001"
    assert TICKET in public["text"] and len(public["text"]) <= 280
    assert not [word for word in PERSONAL if word in public["text"]], public["text"]
    [dm] = fake.dms_sent
    assert dm["participant_id"] == "1111" and dm["text"] == FULL_ACK
    assert result.provider_message_id == dm["dm_event_id"]


PHRASES = PublicPhrases(shipped_texts())


@pytest.mark.parametrize(
    ("kind", "lang", "expected"),
    [
        ("ack", "id", f"Laporan Anda diterima, tiket {TICKET}. Detail lewat DM."),
        ("ack", "en", f"Your report has been received, ticket {TICKET}. Details by DM."),
        ("ack_triage", "id", f"Laporan Anda diterima, tiket {TICKET}, sedang ditelaah petugas. Detail lewat DM."),
        ("status", "id", f"Status tiket {TICKET} sudah kami kirim lewat DM."),
        ("status", "en", f"We have sent the status of ticket {TICKET} by DM."),
        ("identity_missing", "id", None),
        (
            "answer",
            "id",
            f"Pengaduan {TICKET} sudah dijawab. Jawabannya kami kirim lewat DM; lacak di https://intake.example/lacak/{TICKET}",
        ),
        (
            "answer",
            "en",
            f"Complaint {TICKET} has been answered. We sent the answer by DM; track it at https://intake.example/lacak/{TICKET}",
        ),
        ("conversation", "id", None),
        (None, "id", None),
    ],
)
def test_public_text_exists_only_for_ack_status_and_answer(kind: str | None, lang: str, expected: str | None) -> None:
    """Only acknowledgements, status answers and "answered" have a public form, built from the ticket alone."""
    assert PHRASES.public_reply_text(kind, TICKET, lang, tracking_base="https://intake.example/lacak/") == expected


@pytest.mark.parametrize("ticket", [None, "", "BGR-0000000", f"{TICKET} {NIK}", NIK])
def test_no_public_text_without_a_well_formed_ticket(ticket: str | None) -> None:
    """Whatever sits in the ticket field, only a canonical BGR- ticket is ever published."""
    assert PHRASES.public_reply_text("ack", ticket, "id") is None


async def test_english_reply_gets_the_english_public_phrase(fake: FakeX, channel: XChannel) -> None:
    """The public phrase is in the language the workers wrote the reply in (the case's language)."""
    text = f"Thank you, we have received your complaint with ticket number {TICKET} and forwarded it to PUPR."
    await channel.send(reply("ack", text=text, language="en"))
    assert fake.posts[0]["text"] == f"Your report has been received, ticket {TICKET}. Details by DM."


@pytest.mark.parametrize(
    ("kind", "thread_ref", "ticket"),
    [
        ("identity_missing", None, TICKET),  # the complaint came by DM: nothing in public
        ("answer", None, TICKET),
        ("ack", None, TICKET),
        ("status", None, TICKET),
        ("empty_complaint", "1900000000000000001", None),  # no ticket: nothing may be shown
        ("ack", "1900000000000000001", None),
    ],
)
async def test_everything_else_goes_by_dm_only(
    fake: FakeX, channel: XChannel, kind: str, thread_ref: str | None, ticket: str | None
) -> None:
    """Any reply to a DM, and a reply without a well-formed ticket, is sent privately and never posted."""
    await channel.send(reply(kind, thread_ref=thread_ref, ticket=ticket))
    assert fake.posts == []
    assert [d["text"] for d in fake.dms_sent] == [FULL_ACK]


async def test_refused_dm_is_permanent_and_says_the_public_reply_went_out(fake: FakeX, channel: XChannel) -> None:
    """A citizen who does not accept DMs makes the reply fail for good, naming the public reply already posted."""
    fake.refuse_dms_to("1111")
    with pytest.raises(SendError) as caught:
        await channel.send(reply("ack"))
    assert not caught.value.retryable
    assert "You cannot send messages to this user" in str(caught.value)
    assert f"public reply {fake.posts[0]['id']} posted" in str(caught.value)


@pytest.mark.parametrize(
    ("endpoint", "status", "retryable"),
    [
        # (A failing public notice alone no longer fails the send: see the rate-limited tests.)
        ("dm_send", 500, True),
        ("dm_send", 429, True),
        ("dm_send", 400, False),
        ("dm_send", 401, False),
        ("dm_send", 404, False),
    ],
)
async def test_send_errors_say_whether_a_retry_helps(
    fake: FakeX, channel: XChannel, endpoint: str, status: int, retryable: bool
) -> None:
    """Throttling and server trouble are retried; other refusals are permanent."""
    if status == 429:
        fake.rate_limit_next(endpoint)
    else:
        fake.fail_next(endpoint, status)
    with pytest.raises(SendError) as caught:
        await channel.send(reply("ack"))
    assert caught.value.retryable is retryable


async def test_retry_after_a_failed_dm_does_not_post_twice(fake: FakeX, channel: XChannel) -> None:
    """When the DM fails after the public reply, a new adapter given the row's parts_sent sends only the DM."""
    fake.fail_next("dm_send", 503)
    with pytest.raises(SendError) as caught:
        await channel.send(reply("ack"))
    assert caught.value.retryable and caught.value.parts_sent == 1
    other_worker = XChannel(make_settings(x_api_base=fake.url), texts=shipped_texts())
    await other_worker.send(dataclasses.replace(reply("ack"), parts_sent=caught.value.parts_sent))
    await other_worker.close()
    assert len(fake.posts) == 1 and len(fake.dms_sent) == 1
    assert all(r.status != 403 for r in fake.served("tweets"))  # no duplicate post was even tried


async def test_answered_mention_gets_answered_in_public_and_the_answer_by_dm(fake: FakeX, channel: XChannel) -> None:
    """The OPD's answer: "answered, see your DM" with the tracking link in public, the answer itself by DM."""
    await channel.send(reply("answer"))
    [public] = fake.posts
    assert public["in_reply_to_tweet_id"] == "1900000000000000001"
    assert public["text"] == (
        f"Pengaduan {TICKET} sudah dijawab. Jawabannya kami kirim lewat DM; lacak di https://intake.example/lacak/{TICKET}"
    )
    assert not [word for word in PERSONAL if word in public["text"]], public["text"]
    assert [d["text"] for d in fake.dms_sent] == [FULL_ACK]


@pytest.mark.parametrize("kind", ["identity_missing", "empty_complaint"])
async def test_every_mention_gets_a_public_reply_with_ticket_and_link_then_the_dm(
    fake: FakeX, channel: XChannel, kind: str
) -> None:
    """A mention answered privately (e.g. identity missing) still gets a public ticket-and-link reply in its thread."""
    await channel.send(reply(kind))
    [public] = fake.posts
    assert public["in_reply_to_tweet_id"] == "1900000000000000001"
    assert public["text"] == f"Tiket {TICKET}: kami kirim DM; lacak di https://intake.example/lacak/{TICKET}"
    assert not [word for word in PERSONAL if word in public["text"]], public["text"]
    assert [d["text"] for d in fake.dms_sent] == [FULL_ACK]


async def test_dm_notice_is_in_the_reply_language(fake: FakeX, channel: XChannel) -> None:
    """The public DM notice follows the case's language."""
    await channel.send(dataclasses.replace(reply("identity_missing"), language="en"))
    assert fake.posts[0]["text"] == (
        f"Ticket {TICKET}: we have sent you a DM; track it at https://intake.example/lacak/{TICKET}"
    )


async def test_closed_dms_still_leave_the_public_reply(fake: FakeX, channel: XChannel) -> None:
    """A citizen whose DMs are closed still sees the public reply with the ticket; the DM fails for good."""
    fake.refuse_dms_to("1111")
    with pytest.raises(SendError) as caught:
        await channel.send(reply("identity_missing"))
    assert not caught.value.retryable and caught.value.parts_sent == 1
    [public] = fake.posts
    assert TICKET in public["text"] and "/lacak/" in public["text"]
    assert fake.dms_sent == []


async def test_retry_in_another_process_relies_on_x_refusing_duplicates(fake: FakeX, channel: XChannel) -> None:
    """A retry by a worker that did not post the first time meets X's duplicate refusal and still sends the DM."""
    fake.fail_next("dm_send", 503)
    with pytest.raises(SendError):
        await channel.send(reply("ack"))
    other_worker = XChannel(make_settings(x_api_base=fake.url), texts=shipped_texts())
    await other_worker.send(reply("ack"))
    await other_worker.close()
    assert len(fake.posts) == 1 and len(fake.dms_sent) == 1
    assert fake.served("tweets")[-1].status == 403


async def test_public_reply_refused_for_good_still_sends_the_dm(fake: FakeX, channel: XChannel) -> None:
    """If X will not take the public reply (e.g. the post is gone), the citizen still gets the DM."""
    fake.fail_next("tweets", 403, "You attempted to reply to a Tweet that is deleted or not visible to you.")
    result = await channel.send(reply("ack"))
    assert fake.posts == [] and len(fake.dms_sent) == 1 and result.provider_message_id


async def test_rate_limited_public_reply_does_not_hold_back_the_dm(fake: FakeX, channel: XChannel) -> None:
    """X's post rate limit on the public notice still lets the DM (which says it all) go out at once."""
    fake.rate_limit_next("tweets")
    result = await channel.send(reply("ack"))
    assert fake.posts == [] and [d["text"] for d in fake.dms_sent] == [FULL_ACK] and result.provider_message_id


async def test_rate_limited_public_reply_and_closed_dms_retry_the_public_reply(fake: FakeX, channel: XChannel) -> None:
    """Nothing went out (notice rate limited, DMs closed): the error is retryable so the notice is tried again."""
    fake.rate_limit_next("tweets")
    fake.refuse_dms_to("1111")
    with pytest.raises(SendError) as caught:
        await channel.send(reply("ack"))
    assert caught.value.retryable and caught.value.parts_sent == 0
    with pytest.raises(SendError) as again:
        await channel.send(dataclasses.replace(reply("ack"), parts_sent=caught.value.parts_sent))
    assert not again.value.retryable and again.value.parts_sent == 1 and len(fake.posts) == 1


async def test_dm_timeout_after_it_went_out_is_an_unknown_outcome(fake: FakeX) -> None:
    """X stored the DM but never answered: the error says the outcome is unknown (DMs have no idempotency key)."""
    adapter = XChannel(make_settings(x_api_base=fake.url, send_timeout_seconds=1.0))
    fake.hang_after_dm = 1
    with pytest.raises(SendError) as caught:
        await adapter.send(reply("answer", thread_ref=None))
    await adapter.close()
    assert caught.value.retryable and caught.value.outcome_unknown
    assert len(fake.dms_sent) == 1


async def test_network_failure_is_retryable() -> None:
    """An unreachable X API is a retryable send error."""
    adapter = XChannel(make_settings(x_api_base=f"http://127.0.0.1:{free_port()}", send_timeout_seconds=2.0))
    with pytest.raises(SendError) as caught:
        await adapter.send(reply("identity_missing"))
    assert caught.value.retryable and not caught.value.outcome_unknown
    await adapter.close()


async def test_address_must_be_a_user_id(channel: XChannel) -> None:
    """A reply address that is not an X user id fails for good instead of calling X."""
    with pytest.raises(SendError) as caught:
        await channel.send(reply("answer", address="@warga"))
    assert not caught.value.retryable


def test_documented_create_answers_are_read() -> None:
    """The ids in X's documented create-post and create-DM answers (with or without "data") are found."""
    from channels.x.channel import _created_id

    assert _created_id(json.loads(fixture("create_tweet.json")), "id") == "1445880548472328192"
    assert _created_id(json.loads(fixture("create_dm.json")), "dm_event_id") == "128341038123"
    wrapped = {"data": copy.deepcopy(json.loads(fixture("create_dm.json")))}
    assert _created_id(wrapped, "dm_event_id") == "128341038123"


def test_one_malformed_event_does_not_cost_the_others() -> None:
    """A body with a valid mention and a malformed event still yields the mention (X would resend a 400 for ever)."""
    payload = json.loads(fixture("aaa_tweet_create_events_mention.json"))
    payload["tweet_create_events"].append({"id_str": "2", "user": {"id_str": "9"}})
    result = parse_account_activity(json.dumps(payload).encode(), OWN)
    assert [i.external_id for i in result.intakes] == ["x:tweet:1746879348726448128"]
    assert result.ignored
