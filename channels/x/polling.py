"""Polling X for mentions of the city's account and for DMs to it.

Two independent loops (a rate limit or an outage of one endpoint does not hold up the other):

- mentions: ``GET /2/users/:id/mentions`` with ``since_id`` = the newest mention already
  accepted (https://docs.x.com/x-api/posts/user-mention-timeline-by-user-id);
- DMs: ``GET /2/dm_events`` (``event_types=MessageCreate``), which has no ``since_id``: events
  come newest first, so reading stops at the newest event id already accepted
  (https://docs.x.com/x-api/direct-messages/lookup/integrate).

The position is kept in the database (``x:mentions:<user id>``, ``x:dm:<user id>``) and moved
only after ``ctx.accept`` has stored what was read: a crash re-reads, and the unique
(channel, external id) key makes re-reading harmless. On a 429 the loop waits until
``x-rate-limit-reset``; on other failures it backs off exponentially up to 15 minutes; both
waits end at once when the gateway stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
import tweepy

from channels.base import ChannelError, PollContext, PollerHealth
from channels.x.api import describe, rate_limit_wait
from channels.x.events import NotForUs, as_dict, intake_from_v2_dm, intake_from_v2_mention, parse_time, users_by_id
from normalizer.envelope import Intake, utcnow

log = structlog.get_logger(__name__)

# Fields the parser reads (https://docs.x.com/x-api/fundamentals/data-dictionary): lang picks
# the reply language, referenced_tweets tells retweets apart, note_tweet has long posts' full text.
MENTION_TWEET_FIELDS = [
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "author_id",
    "lang",
    "referenced_tweets",
    "note_tweet",
]
DM_EVENT_FIELDS = ["id", "text", "event_type", "created_at", "dm_conversation_id", "sender_id", "attachments"]
PAGE_SIZE = 100  # the largest page both endpoints serve
MAX_PAGES = 8  # the mentions timeline reaches back 800 posts at most
# On the very first poll (no position stored yet) only this much history is read: older
# mentions were not addressed to this system, and answering them months late helps nobody.
COLD_START_LOOKBACK = timedelta(hours=24)
MAX_BACKOFF_SECONDS = 15 * 60.0


class XPoller:
    """Reads mentions and DMs for one account through a tweepy client and accepts them."""

    def __init__(self, client: tweepy.Client, own_user_id: str, interval: float) -> None:
        self.client = client
        self.own_user_id = own_user_id
        self.interval = interval
        self.mentions_key = f"x:mentions:{own_user_id}"
        self.dm_key = f"x:dm:{own_user_id}"

    async def run(self, ctx: PollContext) -> None:
        """Poll both streams until ``ctx.stopping`` is set; never raises for X's trouble."""
        await asyncio.gather(
            self._keep_polling("mentions", self.poll_mentions, ctx),
            self._keep_polling("dm", self.poll_dms, ctx),
        )

    async def _keep_polling(self, stream: str, step: Callable[[PollContext], Awaitable[int]], ctx: PollContext) -> None:
        failures = 0
        while not ctx.stopping.is_set():
            try:
                accepted = await step(ctx)
                if accepted:
                    log.info("x_polled", stream=stream, accepted=accepted)
                failures, delay = 0, self.interval
                await self._report(ctx, stream, "connected", polled=True)
            except tweepy.TooManyRequests as exc:
                delay = rate_limit_wait(getattr(exc.response, "headers", None))
                log.warning("x_rate_limited", stream=stream, wait_seconds=round(delay, 1))
            except Exception as exc:  # noqa: BLE001 - a poller must outlive X's (and our database's) trouble
                failures += 1
                delay = min(max(self.interval, 1.0) * 2**failures, MAX_BACKOFF_SECONDS)
                log.warning("x_poll_failed", stream=stream, error=describe(exc), retry_in=round(delay, 1))
                await self._report(ctx, stream, "error", error=describe(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.stopping.wait(), delay)

    async def _report(
        self, ctx: PollContext, stream: str, status: str, *, error: str | None = None, polled: bool = False
    ) -> None:
        """Tell the operators how this stream is doing; a failed report never stops the poll."""
        poller = f"x:{stream}:{self.own_user_id}"
        health = PollerHealth(poller=poller, provider="x", status=status, error=error, polled=polled)
        try:
            await ctx.report(health)
        except Exception as exc:  # noqa: BLE001
            log.warning("x_health_not_saved", error=type(exc).__name__)

    # -- mentions --------------------------------------------------------------------
    async def poll_mentions(self, ctx: PollContext) -> int:
        """One round: read new mentions (all pages), accept them oldest first, then move
        ``since_id``. Returns how many intakes were handed to ``accept``."""
        since_id = await ctx.cursor_get(self.mentions_key)
        params: dict[str, Any] = {
            "expansions": ["author_id"],
            "tweet_fields": MENTION_TWEET_FIELDS,
            "user_fields": ["username"],
            "max_results": PAGE_SIZE,
            "user_auth": True,
        }
        if since_id:
            params["since_id"] = since_id
        else:
            params["start_time"] = utcnow() - COLD_START_LOOKBACK
        tweets: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        newest = int(since_id) if since_id and since_id.isdigit() else 0
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = await asyncio.to_thread(
                self.client.get_users_mentions, self.own_user_id, pagination_token=token, **params
            )
            page = page if isinstance(page, dict) else {}
            tweets.extend(t for t in page.get("data") or [] if isinstance(t, dict))
            users.update(users_by_id(page.get("includes")))
            meta = as_dict(page.get("meta"))
            newest = max(newest, _as_int(meta.get("newest_id")))
            token = meta.get("next_token") if isinstance(meta.get("next_token"), str) else None
            if not token:
                break
        newest = max([newest, *(_as_int(t.get("id")) for t in tweets)])
        intakes = self._intakes(
            sorted(tweets, key=lambda t: _as_int(t.get("id"))),
            lambda t: intake_from_v2_mention(t, users, self.own_user_id),
        )
        if intakes:
            await ctx.accept(intakes)
        if newest and str(newest) != since_id:
            await ctx.cursor_set(self.mentions_key, str(newest))
        return len(intakes)

    # -- direct messages ---------------------------------------------------------------
    async def poll_dms(self, ctx: PollContext) -> int:
        """One round: read DM events newer than the stored position, accept them oldest first,
        then move the position. Returns how many intakes were handed to ``accept``."""
        last = await ctx.cursor_get(self.dm_key)
        last_id = _as_int(last)
        oldest_wanted = utcnow() - COLD_START_LOOKBACK
        events: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = await asyncio.to_thread(
                self.client.get_direct_message_events,
                dm_event_fields=DM_EVENT_FIELDS,
                event_types="MessageCreate",
                expansions=["sender_id"],
                user_fields=["username"],
                max_results=PAGE_SIZE,
                pagination_token=token,
                user_auth=True,
            )
            page = page if isinstance(page, dict) else {}
            users.update(users_by_id(page.get("includes")))
            reached_known = False
            for event in page.get("data") or []:
                if not isinstance(event, dict) or not _as_int(event.get("id")):
                    continue
                if _is_old(event, last_id, oldest_wanted):
                    reached_known = True
                    continue
                events.append(event)
            meta = as_dict(page.get("meta"))
            token = meta.get("next_token") if isinstance(meta.get("next_token"), str) else None
            if reached_known or not token:
                break
        newest = max([last_id, *(_as_int(e.get("id")) for e in events)])
        intakes = self._intakes(
            sorted(events, key=lambda e: _as_int(e.get("id"))), lambda e: intake_from_v2_dm(e, users, self.own_user_id)
        )
        if intakes:
            await ctx.accept(intakes)
        if newest and newest != last_id:
            await ctx.cursor_set(self.dm_key, str(newest))
        return len(intakes)

    def _intakes(self, items: list[dict[str, Any]], read: Callable[[dict[str, Any]], Intake]) -> list[Intake]:
        intakes = []
        for item in items:
            try:
                intakes.append(read(item))
            except NotForUs as exc:
                log.debug("x_skipped", reason=str(exc))
            except ChannelError as exc:
                # X will not send this item differently next time: log it and read on.
                log.warning("x_unreadable_item", reason=str(exc), item_id=str(item.get("id"))[:32])
        return intakes


def _as_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) <= 20 else 0


def _is_old(event: dict[str, Any], last_id: int, oldest_wanted: datetime) -> bool:
    if last_id:
        return _as_int(event.get("id")) <= last_id
    created = parse_time(event.get("created_at"))
    return created is not None and created < oldest_wanted
