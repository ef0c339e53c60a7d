"""Telegram adapter: secret token, Update parsing (fixtures), sending and long polling against a fake Bot API."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

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
from channels.telegram import CURSOR_KEY, IGNORED_UPDATES, SECRET_HEADER, TelegramChannel, split_message
from config.settings import ConfigurationError, Settings
from normalizer.envelope import ChatTurn
from normalizer.normalize import build_envelope
from tests.support.fake_telegram import FakeTelegram

FIXTURES = Path(__file__).parent / "telegram" / "fixtures"
# The example token of the Bot API docs (https://core.telegram.org/bots/api#authorizing-your-bot).
TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SECRET = "Bogor_webhook-secret_2026"
PATH = "/channels/telegram"


def make_settings(**overrides: object) -> Settings:
    """Settings with Telegram enabled (webhook mode) and nothing read from a .env file."""
    values: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "telegram_webhook_secret": SECRET,
        "send_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def request(body: bytes, secret: str | None = SECRET) -> RawRequest:
    """A webhook call as Telegram makes it (https://core.telegram.org/bots/api#setwebhook)."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    return RawRequest(method="POST", path=PATH, query={}, headers=headers, body=body, url=f"http://127.0.0.1{PATH}")


def channel(**overrides: object) -> TelegramChannel:
    return TelegramChannel(make_settings(**overrides))


def update(**message: Any) -> dict[str, Any]:
    """A private text message update with fields replaced (``None`` removes the field)."""
    data = json.loads(fixture("message_text.json"))
    for key, value in message.items():
        if value is None:
            data["message"].pop(key, None)
        else:
            data["message"][key] = value
    return data


# -- configuration ---------------------------------------------------------------------------


def test_webhook_mode_requires_the_secret() -> None:
    """Without TELEGRAM_WEBHOOK_SECRET the webhook would take anyone's updates: start-up stops."""
    with pytest.raises(ConfigurationError, match="^TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook$"):
        channel(telegram_webhook_secret=None)


@pytest.mark.parametrize("mode", ["hook", "polling", ""])
def test_unknown_mode_is_refused(mode: str) -> None:
    """TELEGRAM_MODE is webhook or poll; anything else stops start-up naming the setting."""
    with pytest.raises(ConfigurationError, match="TELEGRAM_MODE"):
        channel(telegram_mode=mode)


def test_secret_with_characters_setwebhook_refuses() -> None:
    """A secret Telegram would not accept is caught at start-up, not when setWebhook fails."""
    with pytest.raises(ConfigurationError, match="A-Z"):
        channel(telegram_webhook_secret="has spaces!")


def test_poll_mode_mounts_no_webhook() -> None:
    """In poll mode there is no webhook route and polling is on; webhook mode is the reverse."""
    polling = channel(telegram_mode="poll", telegram_webhook_secret=None)
    assert polling.path is None and polling.polling_enabled()
    hooked = channel()
    assert hooked.path == PATH and not hooked.polling_enabled() and hooked.methods == ("POST",)


# -- verify ----------------------------------------------------------------------------------


def test_right_secret_passes() -> None:
    """The secret token header set by setWebhook is accepted."""
    channel().verify(request(fixture("message_text.json")))


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET.lower()])
def test_missing_or_wrong_secret_is_unauthorized(secret: str | None) -> None:
    """A missing or different secret token is refused (401) before anything is parsed."""
    with pytest.raises(Unauthorized):
        channel().verify(request(fixture("message_text.json"), secret))


def test_poll_mode_refuses_webhook_calls() -> None:
    """With no secret configured (poll mode) no webhook call is believed."""
    with pytest.raises(Unauthorized):
        channel(telegram_mode="poll", telegram_webhook_secret=None).verify(request(b"{}", "anything"))


# -- parse -----------------------------------------------------------------------------------


def test_private_text_message() -> None:
    """A private message becomes a conversation turn answered in the same chat, quoting it."""
    result = channel().parse(request(fixture("message_text.json")))
    (intake,) = result.intakes
    assert intake.channel == "telegram" and intake.provider == "telegram"
    assert intake.external_id == "telegram:10000:1111111:1365"
    assert intake.sender == "1111111" and intake.text == "/start" and intake.kind == "conversation"
    route = intake.reply_route
    assert (route.channel, route.address, route.thread_ref) == ("telegram", "1111111", "1365")
    assert route.provider == "telegram"
    assert intake.language == "id"
    assert intake.identity.name == "Test Test Lastname" and intake.identity.nik is None
    assert intake.received_at == datetime.fromtimestamp(1441645532, UTC)
    assert intake.turn == ChatTurn(content="text", message_id="1365", edited=False)
    assert intake.raw == {"update_id": 10000, "content": "text"}
    # The normaliser reads the command, the same way for every chat channel.
    assert build_envelope(intake).turn == ChatTurn(content="command", message_id="1365", command="start")


def test_photo_keeps_the_largest_file_id_and_the_caption() -> None:
    """A photo is not downloaded while parsing: its largest size's file_id is kept, the caption is the text."""
    (intake,) = channel().parse(request(fixture("message_photo_caption.json"))).intakes
    assert intake.text.startswith("Jalan berlubang")
    assert intake.turn is not None and intake.turn.content == "photo"
    (photo,) = intake.attachments_to_fetch
    assert (photo.provider, photo.ref, photo.content_type) == ("telegram", "AgACAgUAAxkBAAIBYWZfJ0large", "image/jpeg")
    assert intake.attachments == ()


def test_location() -> None:
    """A shared location arrives as (latitude, longitude)."""
    (intake,) = channel().parse(request(fixture("message_location.json"))).intakes
    assert intake.location == (-6.597629, 106.799568)
    assert intake.turn is not None and intake.turn.content == "location" and intake.text == ""


def test_edited_message() -> None:
    """An edit is its own turn (new update_id), marked as an edit of the same message."""
    (intake,) = channel().parse(request(fixture("edited_message.json"))).intakes
    assert intake.turn is not None and intake.turn.edited is True and intake.turn.message_id == "1365"
    assert intake.external_id == "telegram:10003:1111111:1365"
    assert intake.received_at == datetime.fromtimestamp(1441646600, UTC)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("callback_query.json", "not one of the bot's rating buttons"),
        ("my_chat_member.json", IGNORED_UPDATES["my_chat_member"]),
        ("message_group.json", "only private chats are served"),
    ],
)
def test_ignored_updates_say_why(name: str, reason: str) -> None:
    """Other bots' buttons, membership changes and group chats are ignored (200) with the listed reason."""
    result = channel().parse(request(fixture(name)))
    assert result.intakes == [] and result.ignored is not None
    assert reason in result.ignored


def test_every_update_type_but_messages_is_listed_as_ignored() -> None:
    """Each Update field of the Bot API other than the three we read has a written reason."""
    documented = {
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
    assert set(IGNORED_UPDATES) == documented
    for kind in documented:
        result = channel().parse(request(json.dumps({"update_id": 1, kind: {}}).encode()))
        assert result.ignored and kind in result.ignored


@pytest.mark.parametrize(
    ("data", "ignored"),
    [
        ({"update_id": 5, "future_thing": {"x": 1}}, "not known"),
        ({"update_id": 5}, "carries nothing"),
        (update(**{"from": {"id": 9, "is_bot": True, "first_name": "Spam"}}), "from a bot"),
        (update(text=None, pinned_message={"message_id": 1}), "service message"),
    ],
)
def test_other_ignored_shapes(data: dict[str, Any], ignored: str) -> None:
    """Unknown update types, empty updates, bots and service messages are ignored with a reason."""
    result = channel().parse(request(json.dumps(data).encode()))
    assert result.intakes == [] and ignored in (result.ignored or "")


def test_unsupported_content_is_still_a_turn() -> None:
    """A sticker gets an answer ("text, photos and locations only") instead of silence."""
    data = update(
        text=None,
        sticker={
            "file_id": "CAACAgIAAxk",
            "file_unique_id": "u",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        },
    )
    (intake,) = channel().parse(request(json.dumps(data).encode())).intakes
    assert intake.turn is not None and intake.turn.content == "other" and intake.text == ""
    assert intake.raw is not None and intake.raw["content"] == "unsupported:sticker"


def test_own_contact_is_a_phone_answer() -> None:
    """Sharing one's own contact gives the phone number; someone else's contact does not."""
    own = update(text=None, contact={"phone_number": "+6281234567890", "first_name": "Test", "user_id": 1111111})
    (intake,) = channel().parse(request(json.dumps(own).encode())).intakes
    assert intake.turn == ChatTurn(
        content="contact", message_id=str(own["message"]["message_id"]), contact_phone="+6281234567890"
    )
    other = update(text=None, contact={"phone_number": "+6281299999999", "first_name": "X", "user_id": 42})
    (intake,) = channel().parse(request(json.dumps(other).encode())).intakes
    assert intake.turn is not None and intake.turn.content == "other" and intake.turn.contact_phone is None


@pytest.mark.parametrize(
    ("code", "language"), [("en", "en"), ("en-GB", "en"), ("id", "id"), ("jv", "id"), (None, "id")]
)
def test_language_from_the_user(code: str | None, language: str) -> None:
    """English speakers are answered in English, everyone else in Indonesian."""
    data = update()
    data["message"]["from"]["language_code"] = code
    (intake,) = channel().parse(request(json.dumps(data).encode())).intakes
    assert intake.language == language


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"update_id": "10000", "message": {}}',
        json.dumps(update(chat=None)).encode(),
        json.dumps(update(chat={"id": "1111111", "type": "private"})).encode(),
        json.dumps(update(chat={"id": 1111111})).encode(),
        json.dumps(update(message_id=None)).encode(),
        json.dumps(update(text=12)).encode(),
        json.dumps({"update_id": 1, "message": "hello"}).encode(),
        json.dumps(update(text=None, photo=[])).encode(),
        json.dumps(update(text=None, photo=[{"width": 1}])).encode(),
        json.dumps(update(text=None, location={"latitude": 200, "longitude": 0})).encode(),
        json.dumps(update(text=None, location={"latitude": "x", "longitude": 0})).encode(),
        json.dumps(update(date=10**20)).encode(),
    ],
)
def test_malformed_updates_are_bad_requests(body: bytes) -> None:
    """Bodies that are not a well-formed Update are refused with 400, naming the field."""
    with pytest.raises(BadRequest):
        channel().parse(request(body))


def test_intake_normalises_without_losing_the_turn() -> None:
    """The normaliser keeps a conversation turn's text as typed (identity parsing is the worker's job)."""
    text = "NIK: 3271014505900002, Nama: Siti Aminah"
    (intake,) = channel().parse(request(json.dumps(update(text=text)).encode())).intakes
    envelope = build_envelope(intake)
    assert envelope.kind == "conversation" and envelope.text == text
    assert envelope.identity.nik is None
    assert envelope.external_id == "telegram:10000:1111111:1365"


def test_answer_is_an_empty_json_200() -> None:
    """Telegram gets 200 {} once the update is stored."""
    assert channel().answer(request(b"{}"), [None]) == (200, "application/json", b"{}")


# -- send ------------------------------------------------------------------------------------


def reply(
    text: str = "Status pengaduan BGR-7KQ2XMP: Disposisi, ditangani PUPR.", thread_ref: str | None = "1365"
) -> OutboundReply:
    return OutboundReply(
        id="r1",
        channel="telegram",
        provider="telegram",
        address="1111111",
        text=text,
        thread_ref=thread_ref,
        kind="status",
    )


async def test_send_quotes_the_citizens_message() -> None:
    """sendMessage goes to the chat as plain text with reply_parameters quoting the citizen's message."""
    async with FakeTelegram(TOKEN) as tg:
        adapter = channel(telegram_api_base=tg.url)
        result = await adapter.send(reply())
        await adapter.close()
    (message,) = tg.messages
    assert message.chat_id == "1111111" and message.text.startswith("Status pengaduan")
    assert message.reply_parameters == {"message_id": 1365, "allow_sending_without_reply": True}
    assert "parse_mode" not in message.params
    assert result.provider_message_id == str(message.message_id)
    assert [name for name, _ in tg.calls] == ["getme", "sendmessage"]


async def test_send_without_thread_ref_does_not_quote() -> None:
    """A reply with no message to quote is sent without reply_parameters."""
    async with FakeTelegram(TOKEN) as tg:
        adapter = channel(telegram_api_base=tg.url)
        await adapter.send(reply(thread_ref=None))
        await adapter.close()
    assert tg.messages[0].reply_parameters is None


async def test_blocked_bot_is_a_permanent_failure() -> None:
    """ "bot was blocked by the user" marks the reply failed for good: no retry can get through."""
    async with FakeTelegram(TOKEN) as tg:
        tg.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        adapter = channel(telegram_api_base=tg.url)
        with pytest.raises(SendError) as err:
            await adapter.send(reply())
        await adapter.close()
    assert err.value.retryable is False and "blocked" in str(err.value)


@pytest.mark.parametrize(
    ("status", "description", "retry_after", "retryable"),
    [
        (429, "Too Many Requests: retry after 3", 3, True),
        (500, "Internal Server Error", None, True),
        (502, "Bad Gateway", None, True),
        (400, "Bad Request: chat not found", None, False),
        (401, "Unauthorized", None, False),
    ],
)
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB's own RetryAfter
async def test_send_errors_say_whether_a_retry_helps(
    status: int, description: str, retry_after: int | None, retryable: bool
) -> None:
    """Flood control and server trouble are retried; refusals and a bad token are not."""
    async with FakeTelegram(TOKEN) as tg:
        adapter = channel(telegram_api_base=tg.url)
        await adapter.send(reply())  # the bot is initialised (getMe) before the failure
        tg.fail_next("sendMessage", status, description, retry_after=retry_after)
        with pytest.raises(SendError) as err:
            await adapter.send(reply())
        await adapter.close()
    assert err.value.retryable is retryable
    if retry_after:
        assert "Retry in 3 seconds" in str(err.value)


async def test_bad_token_never_appears_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The bot token is part of every Bot API URL: it must not reach the outbox error or the logs."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("telegram").setLevel(logging.INFO)  # PTB's own DEBUG lines print URLs
    async with FakeTelegram("999:other-token") as tg:
        adapter = channel(telegram_api_base=tg.url)
        with pytest.raises(SendError) as err:
            await adapter.send(reply())
        await adapter.close()
    assert err.value.retryable is False
    assert TOKEN not in str(err.value) and TOKEN not in caplog.text
    async with FakeTelegram(TOKEN) as tg:
        adapter = channel(telegram_api_base=tg.url)
        await adapter.send(reply())
        await adapter.close()
    assert TOKEN not in caplog.text


async def test_unreachable_api_is_retryable() -> None:
    """When the Bot API cannot be reached the reply stays queued for a retry."""
    adapter = channel(telegram_api_base="http://127.0.0.1:9", send_timeout_seconds=2.0)
    with pytest.raises(SendError) as err:
        await adapter.send(reply())
    await adapter.close()
    assert err.value.retryable is True


async def test_timeout_after_the_message_went_out_is_an_unknown_outcome() -> None:
    """Telegram delivered the message but its answer never came: the error says the outcome is unknown."""
    async with FakeTelegram(TOKEN) as tg:
        adapter = channel(telegram_api_base=tg.url, send_timeout_seconds=1.0)
        tg.hang_after_sending = 1
        with pytest.raises(SendError) as err:
            await adapter.send(reply())
        await adapter.close()
        assert len(tg.messages) == 1
    assert err.value.retryable is True and err.value.outcome_unknown is True


async def test_unreachable_api_is_not_an_unknown_outcome() -> None:
    """No connection means nothing went out: a plain retry."""
    adapter = channel(telegram_api_base="http://127.0.0.1:9", send_timeout_seconds=2.0)
    with pytest.raises(SendError) as err:
        await adapter.send(reply())
    await adapter.close()
    assert err.value.retryable is True and err.value.outcome_unknown is False


async def test_long_text_goes_as_several_messages() -> None:
    """An answer longer than Telegram's 4096 characters arrives whole, in parts; only the first quotes."""
    text = ("Jawaban OPD. " * 700).strip()
    async with FakeTelegram(TOKEN) as tg:
        adapter = channel(telegram_api_base=tg.url)
        result = await adapter.send(reply(text))
        await adapter.close()
    assert len(tg.messages) == 3
    assert " ".join(m.text for m in tg.messages) == text
    assert tg.messages[0].reply_parameters and all(m.reply_parameters is None for m in tg.messages[1:])
    assert result.provider_message_id == str(tg.messages[0].message_id)


async def test_long_answer_cut_short_resumes_without_repeating() -> None:
    """If part 2 of a long answer hits flood control, a retry by another adapter sends the rest, not the start again."""
    text = ("Jawaban OPD. " * 700).strip()
    async with FakeTelegram(TOKEN) as tg:
        adapter = channel(telegram_api_base=tg.url)
        tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, after=1)
        with pytest.raises(SendError) as err:
            await adapter.send(reply(text))
        await adapter.close()
        assert err.value.retryable is True and len(tg.messages) == 1
        assert err.value.parts_sent == 1 and err.value.provider_message_id == str(tg.messages[0].message_id)
        other_worker = channel(telegram_api_base=tg.url)
        await other_worker.send(dataclasses.replace(reply(text), parts_sent=err.value.parts_sent))
        await other_worker.close()
    assert len(tg.messages) == 3
    assert " ".join(m.text for m in tg.messages) == text


def test_split_counts_utf16_like_telegram() -> None:
    """Emoji count twice towards the limit, and pieces break between words."""
    parts = split_message("🌳 " * 3000, limit=4096)
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert "".join(p.replace(" ", "") for p in parts) == "🌳" * 3000
    assert split_message("short") == ["short"]


async def test_set_webhook_registers_secret_and_update_types() -> None:
    """setWebhook is called with our secret token and only the update types the adapter reads."""
    async with FakeTelegram(TOKEN) as tg:
        await channel(telegram_api_base=tg.url).set_webhook("https://lapor.kotabogor.example/channels/telegram")
    assert tg.webhook == {
        "url": "https://lapor.kotabogor.example/channels/telegram",
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }


# -- long poll -------------------------------------------------------------------------------


class FakePollContext:
    """A PollContext that records what the adapter does, in order."""

    def __init__(self, cursor: str | None = None, *, fail_accept: bool = False) -> None:
        self.events: list[tuple[str, Any]] = []
        self.health: list[PollerHealth] = []
        self.cursor = cursor
        self.fail_accept = fail_accept
        self.stopping = asyncio.Event()
        self.accepted = asyncio.Event()

    def context(self) -> PollContext:
        async def accept(intakes: list[Any]) -> list[Any]:
            if self.fail_accept:
                raise RuntimeError("database down")
            self.events.append(("accept", [i.external_id for i in intakes]))
            self.accepted.set()
            return []

        async def apply_updates(updates: list[DeliveryUpdate]) -> int:
            return 0

        async def cursor_get(key: str) -> str | None:
            assert key == CURSOR_KEY
            return self.cursor

        async def cursor_set(key: str, value: str) -> None:
            self.events.append(("cursor", value))
            self.cursor = value

        async def keep_unreadable(**unreadable: str) -> None:
            raise AssertionError(f"Telegram input kept as unreadable: {unreadable}")

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


async def test_poll_accepts_then_moves_the_offset_and_stops_promptly() -> None:
    """Updates are accepted before the offset moves past them; stopping ends a 25 s long poll at once."""
    async with FakeTelegram(TOKEN) as tg:
        tg.webhook = {"url": "https://old.example/hook"}
        for update_id in (500, 501):
            tg.push_update(update(message_id=update_id) | {"update_id": update_id})
        tg.push_update(json.loads(fixture("callback_query.json")) | {"update_id": 502})
        adapter = channel(telegram_api_base=tg.url, telegram_mode="poll", telegram_webhook_secret=None)
        ctx = FakePollContext(cursor="500")
        task = asyncio.create_task(adapter.poll(ctx.context()))
        await asyncio.wait_for(ctx.accepted.wait(), 10)
        while ("cursor", "503") not in ctx.events:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # now waiting in a long poll
        started = time.monotonic()
        ctx.stopping.set()
        await asyncio.wait_for(task, 5)
        assert time.monotonic() - started < 2
    # The stored offset (500) confirmed nothing below it; 500 and 501 were read, the callback ignored.
    assert ctx.events == [("accept", ["telegram:500:1111111:500", "telegram:501:1111111:501"]), ("cursor", "503")]
    names = [name for name, _ in tg.calls]
    assert names[:3] == ["getme", "deletewebhook", "getupdates"]
    polls = tg.calls_of("getUpdates")
    assert polls[0]["offset"] == "500" and polls[1]["offset"] == "503"
    assert polls[0]["allowed_updates"] == ["message", "edited_message", "callback_query"]
    assert tg.webhook == {}
    assert ctx.health and {(h.poller, h.status, h.polled) for h in ctx.health} == {("telegram", "connected", True)}


async def test_poll_keeps_the_offset_when_accepting_fails() -> None:
    """If the updates cannot be stored the offset stays, so Telegram serves them again."""
    async with FakeTelegram(TOKEN) as tg:
        tg.push_update(update() | {"update_id": 700})
        adapter = channel(telegram_api_base=tg.url, telegram_mode="poll", telegram_webhook_secret=None)
        ctx = FakePollContext(fail_accept=True)
        with pytest.raises(RuntimeError, match="database down"):
            await asyncio.wait_for(adapter.poll(ctx.context()), 10)
    assert ctx.events == [] and ctx.cursor is None


async def test_poll_with_a_bad_token_raises_without_the_token() -> None:
    """A rejected token stops this poll (the gateway retries with backoff) and the error hides the token."""
    async with FakeTelegram("999:other-token") as tg:
        adapter = channel(telegram_api_base=tg.url, telegram_mode="poll", telegram_webhook_secret=None)
        with pytest.raises(Exception) as err:
            await asyncio.wait_for(adapter.poll(FakePollContext().context()), 10)
    assert TOKEN not in str(err.value) and "InvalidToken" in str(err.value)


# -- issue 14: the answer's PUAS / TIDAK PUAS buttons ----------------------------------------


def button_press(data: str, *, chat_type: str = "private") -> bytes:
    """The callback_query fixture with the button's ``data`` and the chat's type replaced."""
    update = json.loads(fixture("callback_query.json"))
    update["callback_query"]["data"] = data
    update["callback_query"]["message"]["chat"]["type"] = chat_type
    return json.dumps(update).encode()


@pytest.mark.parametrize(("data", "keyword"), [("rate:puas", "PUAS"), ("rate:tidak_puas", "TIDAK PUAS")])
def test_a_rating_button_press_is_a_chat_turn_with_the_keyword(data: str, keyword: str) -> None:
    """A press of PUAS / TIDAK PUAS arrives as the chat's turn saying the keyword, quoting the answer."""
    (intake,) = channel().parse(request(button_press(data))).intakes
    assert intake.kind == "conversation" and intake.text == keyword and intake.sender == "1111111"
    assert intake.reply_route.channel == "telegram" and intake.reply_route.address == "1111111"
    assert intake.reply_route.thread_ref == "1368"
    assert intake.external_id == "telegram:10004:1111111:callback:4382bfdwdsb323b2d9"
    assert intake.turn is not None and intake.turn.content == "text"


def test_a_rating_button_in_a_group_is_ignored() -> None:
    result = channel().parse(request(button_press("rate:puas", chat_type="group")))
    assert result.intakes == [] and "only private chats are served" in (result.ignored or "")


async def test_an_answer_carries_the_rating_buttons_and_a_status_does_not() -> None:
    """sendMessage of an answer has an inline keyboard PUAS / TIDAK PUAS; other replies have none."""
    async with FakeTelegram(TOKEN) as tg:
        adapter = channel(telegram_api_base=tg.url)
        await adapter.send(dataclasses.replace(reply("Jawaban: lubang sudah ditambal."), kind="answer"))
        await adapter.send(reply())
        await adapter.close()
    answer, status = tg.messages
    assert answer.params["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "PUAS", "callback_data": "rate:puas"},
                {"text": "TIDAK PUAS", "callback_data": "rate:tidak_puas"},
            ]
        ]
    }
    assert "reply_markup" not in status.params
