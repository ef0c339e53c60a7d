"""Telegram ``Update`` objects → intakes, without any I/O (https://core.telegram.org/bots/api#update).

The same function serves the webhook (the POSTed JSON body) and the long poll (each element
of ``getUpdates``), so both paths read Telegram's payloads identically. Everything is checked
on read: the body comes from the internet, and a webhook URL can be guessed.

Only private chats are served. Every message there is one turn of the guided conversation
(``kind="conversation"``, handled by ``workers/conversation.py``), which also reads commands
such as /lapor and /cek. What the worker needs is typed on the intake (:class:`ChatTurn`,
``attachments_to_fetch``); ``raw`` keeps the update id and what the message held, for the
record. Photos are not downloaded here (no I/O in parse): the largest size's ``file_id`` goes
into ``attachments_to_fetch`` and on to the case; fetching the bytes with getFile is a later step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, overload

from channels.base import BadRequest, InboundResult
from config.loader import base_language
from normalizer.envelope import ChatContent, ChatTurn, Identity, Intake, RemoteFile, ReplyRoute
from normalizer.geo import coordinates

# The Update fields we ask Telegram for (getUpdates/setWebhook ``allowed_updates``), so
# the rest is normally never sent; if it is (allowed_updates left at its default on the
# webhook), IGNORED_UPDATES says why each kind is dropped. callback_query: the PUAS / TIDAK PUAS
# buttons under an answer (issue 14).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

RATING_BUTTONS: dict[str, str] = {"rate:puas": "PUAS", "rate:tidak_puas": "TIDAK PUAS"}
"""Callback data of the answer's inline buttons → the rating keyword the chat's rating path reads."""

IGNORED_UPDATES: dict[str, str] = {
    "channel_post": "posts in channels are broadcasts, not a citizen talking to the bot",
    "edited_channel_post": "posts in channels are broadcasts, not a citizen talking to the bot",
    "business_connection": "the city's bot is not connected to a Telegram Business account",
    "business_message": "the city's bot is not connected to a Telegram Business account",
    "edited_business_message": "the city's bot is not connected to a Telegram Business account",
    "deleted_business_messages": "the city's bot is not connected to a Telegram Business account",
    "message_reaction": "a reaction carries no complaint",
    "message_reaction_count": "a reaction carries no complaint",
    "inline_query": "the bot offers no inline mode",
    "chosen_inline_result": "the bot offers no inline mode",
    "shipping_query": "the bot sells nothing",
    "pre_checkout_query": "the bot sells nothing",
    "purchased_paid_media": "the bot sells nothing",
    "poll": "the bot sends no polls",
    "poll_answer": "the bot sends no polls",
    "my_chat_member": "being blocked or added to a chat is no complaint (a blocked bot shows as a failed reply)",
    "chat_member": "membership changes in chats carry no complaint",
    "chat_join_request": "the bot manages no chats",
    "chat_boost": "chat boosts carry no complaint",
    "removed_chat_boost": "chat boosts carry no complaint",
}

# Message contents a citizen may send that the conversation cannot use: still a turn, so the
# worker answers "text, photos and locations only" instead of leaving the citizen waiting.
UNSUPPORTED_CONTENT = (
    "sticker",
    "voice",
    "video",
    "video_note",
    "audio",
    "animation",
    "document",
    "dice",
    "poll",
    "game",
    "contact",
    "story",
    "paid_media",
)

# Telegram re-encodes every PhotoSize as JPEG; a photo sent "as a file" names its own type.
PHOTO_CONTENT_TYPE = "image/jpeg"

# What the conversation can use; commands are read from the text by the normaliser.
_CHAT_CONTENT: dict[str, ChatContent] = {"text": "text", "photo": "photo", "location": "location", "contact": "contact"}

NOT_PRIVATE = "only private chats are served: complaints carry personal data (NIK, address, phone)"


def parse_update(data: Any) -> InboundResult:
    """Turn one decoded Update into an :class:`InboundResult`.

    Raises :class:`BadRequest` when a field we read has the wrong shape; updates of kinds we
    do not serve come back with ``ignored`` set to the reason.
    """
    if not isinstance(data, dict):
        raise BadRequest("an Update must be a JSON object")
    update_id = _int(data, "update_id", "Update")
    kinds = [key for key in data if key != "update_id"]
    if not kinds:
        return InboundResult(ignored=f"update {update_id} carries nothing")
    kind = kinds[0]  # "At most one of the optional parameters can be present in any given update."
    if kind not in ALLOWED_UPDATES:
        reason = IGNORED_UPDATES.get(kind)
        if reason is None:
            reason = f"update type {kind[:40]!r} is not known to this version (newer Bot API?)"
        return InboundResult(ignored=f"{kind[:40]}: {reason}")
    message = data[kind]
    if not isinstance(message, dict):
        raise BadRequest(f"{kind} must be a {'CallbackQuery' if kind == 'callback_query' else 'Message'} object")
    if kind == "callback_query":
        return _parse_button(update_id, message)
    return _parse_message(update_id, message, edited=kind == "edited_message")


def _parse_button(update_id: int, query: dict[str, Any]) -> InboundResult:
    """A press of the answer's PUAS / TIDAK PUAS button (https://core.telegram.org/bots/api#callbackquery)
    → a chat turn whose text is the rating keyword, as if the citizen had typed it."""
    query_id = _str(query, "id", "CallbackQuery", required=True)
    keyword = RATING_BUTTONS.get(_str(query, "data", "CallbackQuery") or "")
    if keyword is None:
        return InboundResult(ignored="callback_query: not one of the bot's rating buttons")
    message = _dict(query, "message", "CallbackQuery")
    if message is None:
        return InboundResult(ignored="callback_query: a button of an inline message, not of our chat")
    chat_id, chat_type = _chat(message)
    if chat_type != "private":
        return InboundResult(ignored=f"{chat_type} chat: {NOT_PRIVATE}")
    answer_id = _int(message, "message_id", "Message")
    sender = _dict(query, "from", "CallbackQuery", required=True)
    intake = Intake(
        channel="telegram",
        provider="telegram",
        # The query id is unique per press: a webhook retry or poll overlap is the same press.
        external_id=f"telegram:{update_id}:{chat_id}:callback:{query_id}",
        sender=str(chat_id),
        text=keyword,
        reply_route=_route(chat_id, answer_id),  # the reply quotes the answer whose button was pressed
        language=_language(sender),
        received_at=datetime.now(UTC),  # a CallbackQuery carries no date
        kind="conversation",
        turn=ChatTurn(content="text", message_id=f"callback:{query_id}", edited=False),
        raw={"update_id": update_id, "content": "callback_query"},
    )
    return InboundResult(intakes=[intake])


def _parse_message(update_id: int, message: dict[str, Any], *, edited: bool) -> InboundResult:
    """One Message (https://core.telegram.org/bots/api#message) from a private chat → a turn."""
    chat_id, chat_type = _chat(message)
    if chat_type != "private":
        return InboundResult(ignored=f"{chat_type} chat: {NOT_PRIVATE}")
    message_id = _int(message, "message_id", "Message")
    sender = _dict(message, "from", "Message") or {}
    if sender.get("is_bot") is True:
        return InboundResult(ignored="message from a bot: bots are never answered")
    content, text, facts = _content(message, sender)
    if content is None:
        return InboundResult(ignored="service message (no text, photo or location from the citizen)")
    stamp_field = "edit_date" if edited and "edit_date" in message else "date"
    stamp = _int(message, stamp_field, "Message")
    name = " ".join(filter(None, (_str(sender, "first_name", "User"), _str(sender, "last_name", "User"))))
    address = str(chat_id)
    photo = facts.get("photo")
    turn = ChatTurn(
        # Stickers, voice notes... ("unsupported:<kind>" in raw) are "other": answered, not used.
        content=_CHAT_CONTENT.get(content, "other"),
        message_id=str(message_id),
        edited=edited,
        contact_phone=facts.get("contact_phone"),
    )
    intake = Intake(
        channel="telegram",
        provider="telegram",
        # update_id dedupes webhook retries and poll overlaps. Chat and message id are added
        # because update ids restart at a random number after a week without updates
        # (https://core.telegram.org/bots/api#update), and an old id must not swallow a new message.
        external_id=f"telegram:{update_id}:{chat_id}:{message_id}",
        sender=address,
        text=text,
        reply_route=_route(chat_id, message_id),
        # The profile name is whatever the citizen typed into Telegram: a hint, never the
        # identity the SOP asks for (the conversation asks for the name on the KTP).
        identity=Identity(name=name or None),
        location=_location(message),
        language=_language(sender),
        received_at=_timestamp(stamp),
        kind="conversation",
        turn=turn,
        attachments_to_fetch=(_remote_file(photo),) if photo else (),
        # For the record: which update, and what the message held ("unsupported:sticker").
        raw={"update_id": update_id, "content": content},
    )
    return InboundResult(intakes=[intake])


def _chat(message: dict[str, Any]) -> tuple[int, str | None]:
    """(id, type) of the message's chat (https://core.telegram.org/bots/api#chat)."""
    chat = _dict(message, "chat", "Message", required=True)
    return _int(chat, "id", "Chat"), _str(chat, "type", "Chat", required=True)


def _route(chat_id: int, quoted_message_id: int) -> ReplyRoute:
    """Replies go to the chat, quoting ``quoted_message_id``."""
    return ReplyRoute(channel="telegram", address=str(chat_id), thread_ref=str(quoted_message_id), provider="telegram")


def _language(sender: dict[str, Any]) -> str:
    """en for a user whose Telegram is in English, else id."""
    return "en" if base_language(_str(sender, "language_code", "User") or "") == "en" else "id"


def _remote_file(ref: dict[str, Any]) -> RemoteFile:
    """A photo's file reference, fetched later with getFile."""
    return RemoteFile(
        provider="telegram",
        ref=ref["file_id"],
        content_type=ref.get("mime_type") or PHOTO_CONTENT_TYPE,
        size=ref.get("file_size"),
    )


def _content(message: dict[str, Any], sender: dict[str, Any]) -> tuple[str | None, str, dict[str, Any]]:
    """(content type, text, facts: photo, contact_phone) of a message; content None for service messages."""
    text = _str(message, "text", "Message")
    if text is not None:
        return "text", text, {}
    caption = _str(message, "caption", "Message") or ""
    photo = _largest_photo(message)
    if photo is not None:
        return "photo", caption, {"photo": photo}
    document = _dict(message, "document", "Message")
    if document is not None and str(document.get("mime_type") or "").startswith("image/"):
        # A photo sent "as a file" keeps its full resolution: as useful as a photo.
        return "photo", caption, {"photo": _file_ref(document, "Document")}
    if _dict(message, "location", "Message") is not None:
        return "location", "", {}
    contact = _dict(message, "contact", "Message")
    if contact is not None and contact.get("user_id") is not None and contact.get("user_id") == sender.get("id"):
        # The citizen shared their own number (Telegram's "share my contact"): usable as No. Telp.
        return "contact", "", {"contact_phone": _str(contact, "phone_number", "Contact", required=True)}
    for kind in UNSUPPORTED_CONTENT:
        if kind in message:
            return f"unsupported:{kind}", caption, {}
    return None, "", {}


def _largest_photo(message: dict[str, Any]) -> dict[str, Any] | None:
    """The biggest PhotoSize (https://core.telegram.org/bots/api#photosize): Telegram lists several."""
    sizes = message.get("photo")
    if sizes is None:
        return None
    if not isinstance(sizes, list) or not sizes or not all(isinstance(s, dict) for s in sizes):
        raise BadRequest("Message.photo must be a non-empty array of PhotoSize")
    refs = [_file_ref(size, "PhotoSize") for size in sizes]
    return max(refs, key=lambda r: ((r.get("width") or 0) * (r.get("height") or 0), r.get("file_size") or 0))


def _file_ref(obj: dict[str, Any], where: str) -> dict[str, Any]:
    ref: dict[str, Any] = {
        "file_id": _str(obj, "file_id", where, required=True),
        "file_unique_id": _str(obj, "file_unique_id", where),
    }
    for key in ("width", "height", "file_size"):
        if key in obj:
            ref[key] = _int(obj, key, where)
    if isinstance(obj.get("mime_type"), str):
        ref["mime_type"] = obj["mime_type"][:100]
    return ref


def _location(message: dict[str, Any]) -> tuple[float, float] | None:
    """(latitude, longitude) of a shared location (https://core.telegram.org/bots/api#location)."""
    loc = _dict(message, "location", "Message")
    if loc is None:
        return None
    try:
        return coordinates(loc.get("latitude"), loc.get("longitude"))
    except ValueError as exc:
        raise BadRequest(f"Location {exc}") from None


def _timestamp(unix: int) -> datetime:
    try:
        return datetime.fromtimestamp(unix, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise BadRequest("Message.date is not a plausible unix time") from exc


# -- checked reads ---------------------------------------------------------------------------


def _int(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{where}.{key} must be an integer")
    return value


def _str(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{where}.{key} must be a string")
    return value


@overload
def _dict(obj: dict[str, Any], key: str, where: str, *, required: Literal[True]) -> dict[str, Any]: ...
@overload
def _dict(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> dict[str, Any] | None: ...
def _dict(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> dict[str, Any] | None:
    """``obj[key]`` if it is an object; None when absent and not ``required``, else BadRequest."""
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"{where}.{key} must be an object")
    return value
