"""X payloads to :class:`Intake`, without I/O: the readers shared by the poller and the
webhook (``channels.x.webhook``), and the API v2 ones the poller uses.

Two formats describe the same things:

- API v2 (polling): a mention is a Post object from ``GET /2/users/:id/mentions`` with the
  author in ``includes.users`` (https://docs.x.com/x-api/posts/user-mention-timeline-by-user-id);
  a DM is a ``MessageCreate`` event from ``GET /2/dm_events``
  (https://docs.x.com/x-api/direct-messages/lookup/integrate).
- Account Activity (webhook): ``tweet_create_events`` carry v1.1 Tweet objects (``id_str``,
  ``user.id_str``, ``entities.user_mentions``) and ``direct_message_events`` carry v1.1
  ``message_create`` events
  (https://developer.x.com/en/docs/twitter-api/enterprise/account-activity-api/guides/account-activity-data-objects).

Both give the same external ids (``x:tweet:<id>``, ``x:dm:<event id>``), so a message seen by
the poller and by the webhook, or by two overlapping polls, is accepted once.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from channels.base import BadRequest
from normalizer.envelope import Intake, ReplyRoute
from normalizer.tickets import find_ticket

CHANNEL = "x"
PROVIDER = "x"

# X handles are 1-15 letters, digits or underscores
# (https://help.x.com/en/managing-your-account/x-username-rules).
_LEADING_HANDLES = re.compile(r"^(?:\s*@[A-Za-z0-9_]{1,15}(?![A-Za-z0-9_])[\s,:;]*)+")


class NotForUs(Exception):
    """A well-formed event that is deliberately not a complaint (our own post, a retweet...)."""


# --------------------------------------------------------------------------- small readers


def x_id(value: Any) -> str | None:
    """An X id as a string of digits (ids are strings in v2; v1.1 also has integer ``id``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        return value
    return None


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (untrusted JSON is checked on every read)."""
    return value if isinstance(value, dict) else {}


def as_text(value: Any) -> str | None:
    """``value`` if it is a string, else None."""
    return value if isinstance(value, str) else None


def parse_time(value: Any) -> datetime | None:
    """X's times: v2 ``2024-01-15T10:30:00.000Z``, v1.1 ``Wed Oct 10 20:19:24 +0000 2018``,
    DM ``created_timestamp`` in epoch milliseconds. None when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        if value[:1].isdigit():
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


def strip_leading_handles(text: str) -> str:
    """``@KotaBogor @DinasPUPR jalan rusak`` -> ``jalan rusak``: the handles a reply starts
    with address people, they are not part of the complaint. Later @handles are kept."""
    return _LEADING_HANDLES.sub("", text, count=1).strip()


def clean_post_text(text: str) -> str:
    """A post's text as the citizen typed it: unescaped (X sends ``&amp; &lt; &gt;`` in both API
    versions) and without the leading @handles."""
    return strip_leading_handles(html.unescape(text))


def reply_language_of(lang: Any) -> str:
    """The reply language for X's ``lang`` tag: English for ``en``, otherwise Indonesian (X tags
    Indonesian ``in``, and short complaints are often tagged as something else entirely)."""
    return "en" if lang == "en" else "id"


def dm_conversation_id(a: str, b: str) -> str:
    """A one-to-one conversation's id, ``<smaller id>-<larger id>``
    (https://docs.x.com/x-api/direct-messages/lookup/integrate#conversation-types)."""
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


def reply_route(user_id: str, thread_ref: str | None) -> ReplyRoute:
    """Replies go to the X user id; ``thread_ref`` is the post to reply under (None for a DM)."""
    return ReplyRoute(channel=CHANNEL, address=user_id, thread_ref=thread_ref, provider=PROVIDER)


# --------------------------------------------------------------------------- API v2 (polling)


def intake_from_v2_mention(
    tweet: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], own_user_id: str
) -> Intake:
    """A Post from the mentions timeline as an intake.

    Raises :class:`NotForUs` for our own posts and retweets, :class:`BadRequest` when the
    Post lacks its id, author or text.
    """
    tweet_id = x_id(tweet.get("id"))
    author_id = x_id(tweet.get("author_id"))
    # Long posts arrive cut to 280 characters in ``text``; the whole text is in note_tweet
    # (https://docs.x.com/x-api/fundamentals/data-dictionary#tweet).
    text = as_text(as_dict(tweet.get("note_tweet")).get("text")) or as_text(tweet.get("text"))
    if tweet_id is None or author_id is None or text is None:
        raise BadRequest("mention lacks id, author_id or text")
    if author_id == own_user_id:
        raise NotForUs(f"post {tweet_id} is our own")
    references = [as_dict(r) for r in tweet.get("referenced_tweets") or [] if isinstance(r, dict)]
    if any(r.get("type") == "retweeted" for r in references):
        raise NotForUs(f"post {tweet_id} is a retweet")
    author = as_dict(users.get(author_id))
    return mention_intake(
        tweet,
        tweet_id=tweet_id,
        author_id=author_id,
        text=text,
        username=author.get("username"),
        conversation_id=tweet.get("conversation_id"),
        in_reply_to_user_id=tweet.get("in_reply_to_user_id"),
    )


def mention_intake(
    tweet: Mapping[str, Any],
    *,
    tweet_id: str,
    author_id: str,
    text: str,
    username: Any,
    conversation_id: Any,
    in_reply_to_user_id: Any,
    **extra_raw: Any,
) -> Intake:
    """The intake of a public mention, whichever API format (v2 poll, v1.1 webhook) it came in."""
    return Intake(
        channel=CHANNEL,
        provider=PROVIDER,
        external_id=f"x:tweet:{tweet_id}",  # the same id from poll and webhook: overlap dedupes
        sender=author_id,
        text=clean_post_text(text),
        reply_route=reply_route(author_id, tweet_id),
        received_at=parse_time(tweet.get("created_at")),
        language=reply_language_of(tweet.get("lang")),
        raw={
            "public": True,
            "tweet_id": tweet_id,
            "author_username": as_text(username),
            "conversation_id": x_id(conversation_id),
            "in_reply_to_user_id": x_id(in_reply_to_user_id),
            "lang": as_text(tweet.get("lang")),
            **extra_raw,
        },
    )


def users_by_id(includes: Any) -> dict[str, dict[str, Any]]:
    """``includes.users`` of a v2 answer, keyed by user id."""
    users = as_dict(includes).get("users")
    return {str(u["id"]): u for u in users or [] if isinstance(u, dict) and x_id(u.get("id"))}


def intake_from_v2_dm(event: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], own_user_id: str) -> Intake:
    """A ``MessageCreate`` DM event as an intake (replies go back by DM only).

    Raises :class:`NotForUs` for other event types and for DMs the city sent itself,
    :class:`BadRequest` when the event lacks its id, sender or text.
    """
    event_id = x_id(event.get("id"))
    if event.get("event_type", "MessageCreate") != "MessageCreate":
        raise NotForUs(f"DM event {event_id} is a {event.get('event_type')!r}")
    sender_id = x_id(event.get("sender_id"))
    text = as_text(event.get("text"))
    if event_id is None or sender_id is None or text is None:
        raise BadRequest("DM event lacks id, sender_id or text")
    if sender_id == own_user_id:
        raise NotForUs(f"DM event {event_id} was sent by us")
    conversation = as_text(event.get("dm_conversation_id")) or dm_conversation_id(sender_id, own_user_id)
    media = as_dict(event.get("attachments")).get("media_keys")
    return dm_intake(
        event_id=event_id,
        sender_id=sender_id,
        text=text,
        received_at=parse_time(event.get("created_at")),
        username=as_text(as_dict(users.get(sender_id)).get("username")),
        conversation=conversation,
        media_keys=[m for m in media or [] if isinstance(m, str)],
    )


def dm_intake(
    *,
    event_id: str,
    sender_id: str,
    text: str,
    received_at: datetime | None,
    username: str | None,
    conversation: str,
    media_keys: list[str],
) -> Intake:
    """A DM to the city as an intake, whichever API delivered it; replies go back by DM only."""
    text = html.unescape(text).strip()
    return Intake(
        channel=CHANNEL,
        provider=PROVIDER,
        external_id=f"x:dm:{event_id}",
        sender=sender_id,
        text=text,
        reply_route=reply_route(sender_id, None),
        # A DM has no subject; the ticket the citizen quotes plays its part, so that "BGR-...\nTelp: ..."
        # sent privately completes the case it names (workers.followup: only from the case's own account).
        subject=find_ticket(text),
        received_at=received_at,
        raw={
            "public": False,
            "dm_conversation_id": conversation,
            "dm_event_id": event_id,
            "sender_username": username,
            # Media stays at X: downloading it needs the city's OAuth credentials (not done yet).
            "media_keys": media_keys,
        },
    )
