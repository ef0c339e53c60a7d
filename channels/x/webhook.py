"""The Account Activity webhook, without I/O: the challenge-response check, the signature of
each POST, and the events X delivers
(https://developer.x.com/en/docs/twitter-api/enterprise/account-activity-api/guides/account-activity-data-objects).

``tweet_create_events`` carry v1.1 Tweet objects (``id_str``, ``user.id_str``,
``entities.user_mentions``) and ``direct_message_events`` carry v1.1 ``message_create`` events;
both become the same intakes, with the same external ids, as the poller's API v2 reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from typing import Any

from channels.base import BadRequest, InboundResult, read_json, same_secret
from channels.x.events import (
    NotForUs,
    as_dict,
    as_text,
    dm_conversation_id,
    dm_intake,
    mention_intake,
    parse_time,
    x_id,
)
from normalizer.envelope import Intake

# Account Activity event types we receive but deliberately do nothing with, and why
# (https://developer.x.com/en/docs/twitter-api/enterprise/account-activity-api/guides/account-activity-data-objects).
IGNORED_EVENT_TYPES: dict[str, str] = {
    "favorite_events": "a like carries no complaint text",
    "follow_events": "a follow or unfollow carries no complaint text",
    "unfollow_events": "a follow or unfollow carries no complaint text",
    "block_events": "blocking is an account matter, not a complaint",
    "unblock_events": "blocking is an account matter, not a complaint",
    "mute_events": "muting is an account matter, not a complaint",
    "unmute_events": "muting is an account matter, not a complaint",
    "direct_message_indicate_typing_events": "typing indicators carry no text",
    "direct_message_mark_read_events": "read receipts name the last event read, not one of our replies",
    "tweet_delete_events": "an accepted complaint stays on record (SOP recording); deletion requests go to an operator",
    "user_event": "the city's app authorisation was revoked: no events arrive until it is authorised again",
}

# Top-level keys of a webhook payload that describe the events rather than being events.
ENVELOPE_KEYS = frozenset({"for_user_id", "user_has_blocked", "is_blocked_by", "users", "apps"})

# A CRC token is answered with HMAC-SHA256(consumer secret, token), the very function that signs
# webhook bodies. Answering any token would let anyone obtain a valid signature for a body of
# their choosing, so only tokens that can never be a JSON object (no "{") are answered.
_CRC_TOKEN = re.compile(r"[A-Za-z0-9._~+/=:-]{1,512}")

SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def _sign(consumer_secret: str, message: bytes) -> str:
    digest = hmac.new(consumer_secret.encode("utf-8"), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def crc_response_token(consumer_secret: str, crc_token: str) -> str:
    """The ``response_token`` for X's challenge-response check: ``sha256=`` + base64 of
    HMAC-SHA256(consumer secret, crc_token)
    (https://docs.x.com/x-api/webhooks/quickstart, "The CRC check";
    https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks).

    Raises :class:`BadRequest` for a token that could double as a webhook body.
    """
    if not _CRC_TOKEN.fullmatch(crc_token):
        raise BadRequest("crc_token has characters a CRC token never has")
    return _sign(consumer_secret, crc_token.encode("ascii"))


def webhook_signature(consumer_secret: str, body: bytes) -> str:
    """The ``x-twitter-webhooks-signature`` X sends with a POST: ``sha256=`` + base64 of
    HMAC-SHA256(consumer secret, raw body)
    (https://docs.x.com/x-api/webhooks/quickstart, "Securing webhooks")."""
    return _sign(consumer_secret, body)


def signature_matches(consumer_secret: str, body: bytes, given: str) -> bool:
    """Constant-time comparison of a received signature with the one the body should have."""
    return same_secret(given.strip(), webhook_signature(consumer_secret, body))


def parse_account_activity(body: bytes, own_user_id: str) -> InboundResult:
    """Read one Account Activity POST body.

    Mentions of the city (``tweet_create_events``) and DMs to it (``direct_message_events``)
    become intakes; other event types are ignored with the reason from
    :data:`IGNORED_EVENT_TYPES`. Raises :class:`BadRequest` for a body that is not a JSON
    object or an event without its id, author or text.
    """
    payload = read_json(body)
    if not isinstance(payload, dict):
        raise BadRequest("body is not a JSON object")
    for_user = payload.get("for_user_id")
    if for_user is not None and x_id(for_user) != own_user_id:
        # One app webhook may serve several subscribed accounts; only ours is a complaint inbox.
        return InboundResult(ignored=f"event for another subscribed account ({x_id(for_user) or 'invalid id'})")
    intakes: list[Intake] = []
    skipped: list[str] = []
    # Both readers take (event, whole payload, our account id); the names of their first parameter differ.
    reader: Callable[[dict[str, Any], dict[str, Any], str], Intake]
    for key, value in payload.items():
        if key in ENVELOPE_KEYS:
            continue
        if key == "tweet_create_events":
            events, reader = value, _intake_from_tweet_event
        elif key == "direct_message_events":
            events, reader = value, _intake_from_dm_event
        else:
            skipped.append(f"{key}: {IGNORED_EVENT_TYPES.get(key, 'unknown event type')}")
            continue
        if not isinstance(events, list):
            skipped.append(f"{key} is not a list")
            continue
        # One malformed event must not cost the others: X would resend the whole body, get the
        # same 400 for ever, and (webhook-only set-ups) nothing else would pick them up.
        for event in events:
            if not isinstance(event, dict):
                skipped.append(f"an item of {key} is not an object")
                continue
            try:
                intakes.append(reader(event, payload, own_user_id))
            except (NotForUs, BadRequest) as exc:
                skipped.append(str(exc))
    ignored = "; ".join(skipped) or (None if intakes else "no events in the payload")
    return InboundResult(intakes=intakes, ignored=ignored)


def _mentions_us(tweet: Mapping[str, Any], own_user_id: str) -> bool:
    mentions = [
        *(as_dict(tweet.get("entities")).get("user_mentions") or []),
        *(as_dict(as_dict(tweet.get("extended_tweet")).get("entities")).get("user_mentions") or []),
    ]
    if any(x_id(as_dict(m).get("id_str") or as_dict(m).get("id")) == own_user_id for m in mentions):
        return True
    return x_id(tweet.get("in_reply_to_user_id_str") or tweet.get("in_reply_to_user_id")) == own_user_id


def _intake_from_tweet_event(tweet: dict[str, Any], payload: dict[str, Any], own_user_id: str) -> Intake:
    """A v1.1 Tweet object from ``tweet_create_events``
    (https://developer.x.com/en/docs/x-api/v1/data-dictionary/object-model/tweet)."""
    tweet_id = x_id(tweet.get("id_str") or tweet.get("id"))
    user = as_dict(tweet.get("user"))
    author_id = x_id(user.get("id_str") or user.get("id"))
    # Posts longer than 140 characters arrive "truncated" with the whole text in extended_tweet.
    text = (
        as_text(as_dict(tweet.get("extended_tweet")).get("full_text"))
        or as_text(tweet.get("full_text"))
        or as_text(tweet.get("text"))
    )
    if tweet_id is None or author_id is None or text is None:
        raise BadRequest("tweet_create_events item lacks id_str, user.id_str or text")
    # The event type also carries the city's own posts and retweets of and by it.
    if author_id == own_user_id:
        raise NotForUs(f"post {tweet_id} is our own")
    if "retweeted_status" in tweet:
        raise NotForUs(f"post {tweet_id} is a retweet")
    if not _mentions_us(tweet, own_user_id):
        raise NotForUs(f"post {tweet_id} does not mention us")
    return mention_intake(
        tweet,
        tweet_id=tweet_id,
        author_id=author_id,
        text=text,
        username=user.get("screen_name"),
        conversation_id=None,
        in_reply_to_user_id=tweet.get("in_reply_to_user_id_str"),
        user_has_blocked=payload.get("user_has_blocked"),
    )


def _payload_user(payload: Mapping[str, Any], user_id: str) -> dict[str, Any]:
    user = as_dict(as_dict(payload.get("users")).get(user_id))
    if not user:
        # X's documentation example nests the user objects inside "apps"; accept both places.
        user = as_dict(as_dict(payload.get("apps")).get(user_id))
    return user


def _intake_from_dm_event(event: dict[str, Any], payload: dict[str, Any], own_user_id: str) -> Intake:
    """A v1.1 ``message_create`` event from ``direct_message_events``
    (https://developer.x.com/en/docs/x-api/v1/direct-messages/sending-and-receiving/guides/message-create-object)."""
    event_id = x_id(event.get("id"))
    if event.get("type") != "message_create":
        raise NotForUs(f"direct message event {event_id} is a {event.get('type')!r}")
    create = as_dict(event.get("message_create"))
    sender_id = x_id(create.get("sender_id"))
    recipient_id = x_id(as_dict(create.get("target")).get("recipient_id"))
    text = as_text(as_dict(create.get("message_data")).get("text"))
    if event_id is None or sender_id is None or text is None:
        raise BadRequest("direct_message_events item lacks id, message_create.sender_id or message_data.text")
    # The webhook also delivers the DMs the city sends (our own replies).
    if sender_id == own_user_id:
        raise NotForUs(f"DM event {event_id} was sent by us")
    attachment = as_dict(as_dict(create.get("message_data")).get("attachment"))
    media = as_dict(attachment.get("media"))
    media_key = as_text(media.get("media_key")) or as_text(media.get("id_str"))
    return dm_intake(
        event_id=event_id,
        sender_id=sender_id,
        text=text,
        received_at=parse_time(event.get("created_timestamp")),
        username=as_text(_payload_user(payload, sender_id).get("screen_name")),
        conversation=dm_conversation_id(sender_id, recipient_id or own_user_id),
        media_keys=[media_key] if media_key else [],
    )
