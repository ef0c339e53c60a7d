"""A local stand-in for the X API v2 endpoints the X channel uses, in X's documented wire format.

- ``GET /2/users/:id/mentions``: newest first, ``since_id`` (precedence over ``start_time``),
  ``max_results`` 5-100, ``pagination_token``; ``data``, ``includes.users`` (``expansions=author_id``)
  and ``meta`` (``newest_id``, ``oldest_id``, ``result_count``, ``next_token``); an empty answer is
  ``{"meta": {"result_count": 0}}``
  (https://docs.x.com/x-api/posts/user-mention-timeline-by-user-id).
- ``GET /2/dm_events``: events sent and received, newest first, ``event_types``,
  ``dm_event.fields``, ``expansions=sender_id``; user context only
  (https://docs.x.com/x-api/direct-messages/lookup/integrate).
- ``POST /2/tweets``: ``201 {"data": {"id", "text"}}``; ``reply.in_reply_to_tweet_id``; a post
  identical to one the account made is refused (403, duplicate content)
  (https://docs.x.com/x-api/posts/manage-tweets).
- ``POST /2/dm_conversations/with/:participant_id/messages``:
  ``201 {"data": {"dm_conversation_id", "dm_event_id"}}``; a refused recipient gets 403
  "You cannot send messages to this user."
  (https://developer.x.com/en/docs/twitter-api/direct-messages/manage/api-reference/post-dm_conversations-with-participant_id-messages).

Errors use X's problem JSON (``title``, ``detail``, ``type``, ``status``). User-context
endpoints check the OAuth 1.0a ``Authorization`` header: consumer key and token must be the
configured ones and the HMAC-SHA1 signature must verify over the public API URL (the one the
client signed, before any host rewriting); an app-only bearer token is refused with 403.
``rate_limit_next`` answers one request with 429 and ``x-rate-limit-reset``
(https://docs.x.com/x-api/fundamentals/rate-limits).

The server runs in its own thread and event loop, so synchronous end-to-end tests and async
unit tests can both use it::

    with FakeX(credentials) as fake:
        settings = base_settings(tmp_path, x_api_base=fake.url, ...)
        fake.add_mention("@KotaBogor jalan rusak", author_id="1111", username="warga")
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from tests.support.local_http import serve_on_loopback

PUBLIC_HOSTS = ("https://api.twitter.com", "https://api.x.com")


@dataclass(frozen=True)
class XCredentials:
    """The city's app and account credentials the fake expects."""

    user_id: str = "2244994945"
    username: str = "KotaBogor"
    bearer_token: str = "AAAA-fake-bearer"
    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    access_token: str = "2244994945-fake-access-token"
    access_token_secret: str = "fake-access-token-secret"

    def settings(self) -> dict[str, str]:
        """The X_* settings for these credentials (without X_API_BASE)."""
        return {
            "x_bearer_token": self.bearer_token,
            "x_consumer_key": self.consumer_key,
            "x_consumer_secret": self.consumer_secret,
            "x_access_token": self.access_token,
            "x_access_token_secret": self.access_token_secret,
            "x_user_id": self.user_id,
        }


@dataclass
class RecordedRequest:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    auth: str | None
    """"oauth1" (valid OAuth 1.0a user context), "bearer" (the app's bearer token) or None."""
    at: float = field(default_factory=time.time)
    status: int = 0


@dataclass
class _Canned:
    status: int
    body: bytes
    headers: dict[str, str]


def _problem(status: int, title: str, detail: str, type_: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": type_, "status": status}


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakeX:
    """Records every request in :attr:`requests`; :attr:`posts` and :attr:`dms_sent` hold what
    the city sent."""

    def __init__(self, credentials: XCredentials | None = None) -> None:
        self.credentials = credentials or XCredentials()
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.mentions: list[dict[str, Any]] = []
        self.dm_events: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, str]] = {
            self.credentials.user_id: {
                "id": self.credentials.user_id,
                "name": "Pemkot Bogor",
                "username": self.credentials.username,
            },
        }
        self.posts: list[dict[str, Any]] = []
        self.dms_sent: list[dict[str, Any]] = []
        self.refused_dm_recipients: set[str] = set()
        self.hang_after_dm = 0
        """DMs to store and then leave unanswered until the fake stops (the sender cannot know)."""
        self._stopping = threading.Event()
        self.ignore_since_id = False
        """Serve mentions again although the client says it has them (a lost or reset position)."""
        self._canned: dict[str, list[_Canned]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-x", daemon=True)
        self._runner: web.AppRunner | None = None

    # -- test controls ---------------------------------------------------------------------
    def new_id(self) -> str:
        """A fresh, increasing snowflake-like id (X ids grow with time)."""
        with self._lock:
            return str(1_900_000_000_000_000_000 + next(self._ids) * 1_000)

    def add_user(self, user_id: str, username: str, name: str | None = None) -> None:
        """Make a user known (for ``includes.users``)."""
        with self._lock:
            self.users[user_id] = {"id": user_id, "name": name or username, "username": username}

    def add_mention(
        self,
        text: str,
        *,
        author_id: str,
        username: str,
        tweet_id: str | None = None,
        created_at: datetime | None = None,
        lang: str | None = "in",
        in_reply_to_user_id: str | None = None,
    ) -> str:
        """A post by ``author_id`` that mentions the city; returns its id."""
        self.add_user(author_id, username)
        tweet_id = tweet_id or self.new_id()
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author_id,
            "created_at": _iso(created_at or datetime.now(UTC)),
            "conversation_id": tweet_id,
            "lang": lang,
        }
        if in_reply_to_user_id:
            tweet["in_reply_to_user_id"] = in_reply_to_user_id
        with self._lock:
            self.mentions.append(tweet)
        return tweet_id

    def add_dm(self, text: str, *, sender_id: str, username: str, created_at: datetime | None = None) -> str:
        """A DM from ``sender_id`` to the city; returns its event id."""
        self.add_user(sender_id, username)
        return self._store_dm(sender_id, self.credentials.user_id, text, created_at)

    def rate_limit_next(self, endpoint: str, *, reset_in: float = 1.0) -> int:
        """Answer the next request to ``endpoint`` ("mentions", "dm_events", "tweets", "dm_send")
        with 429 and ``x-rate-limit-reset`` ``reset_in`` seconds from now; returns that epoch second."""
        reset = int(time.time() + reset_in) + 1
        headers = {"x-rate-limit-limit": "180", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
        self._queue(endpoint, _Canned(429, _json(_problem(429, "Too Many Requests", "Too Many Requests")), headers))
        return reset

    def fail_next(self, endpoint: str, status: int, detail: str = "Internal error") -> None:
        """Answer the next request to ``endpoint`` with ``status`` and a problem JSON."""
        self._queue(endpoint, _Canned(status, _json(_problem(status, "Error", detail)), {}))

    def respond_next(self, endpoint: str, status: int, body: bytes) -> None:
        """Answer the next request to ``endpoint`` with these exact bytes (e.g. a fixture file)."""
        self._queue(endpoint, _Canned(status, body, {}))

    def refuse_dms_to(self, user_id: str) -> None:
        """Make DMs to ``user_id`` fail as X does when the user does not accept them."""
        with self._lock:
            self.refused_dm_recipients.add(user_id)

    def served(self, endpoint: str) -> list[RecordedRequest]:
        """The recorded requests to one endpoint, oldest first."""
        return [r for r in list(self.requests) if _endpoint(r.method, r.path) == endpoint]

    def _queue(self, endpoint: str, canned: _Canned) -> None:
        with self._lock:
            self._canned.setdefault(endpoint, []).append(canned)

    def _store_dm(self, sender_id: str, peer_id: str, text: str, created_at: datetime | None = None) -> str:
        event_id = self.new_id()
        low, high = sorted((sender_id, peer_id), key=int)
        event = {
            "id": event_id,
            "event_type": "MessageCreate",
            "text": text,
            "sender_id": sender_id,
            "dm_conversation_id": f"{low}-{high}",
            "created_at": _iso(created_at or datetime.now(UTC)),
        }
        with self._lock:
            self.dm_events.append(event)
        return event_id

    # -- server ------------------------------------------------------------------------
    def start(self) -> FakeX:
        """Start serving on 127.0.0.1 (an OS-chosen port, see :attr:`url`)."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        """Stop serving and end the thread."""
        self._stopping.set()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/2/users/{id}/mentions", self._mentions)
        app.router.add_get("/2/dm_events", self._dm_events)
        app.router.add_post("/2/tweets", self._create_tweet)
        app.router.add_post("/2/dm_conversations/with/{participant_id}/messages", self._create_dm)
        self._runner, base = await serve_on_loopback(app)
        self.url = base

    async def _record(self, request: web.Request) -> RecordedRequest:
        body = await request.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        recorded = RecordedRequest(
            request.method, request.path, dict(request.query), dict(request.headers), parsed, self._auth(request)
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded

    def _reply(
        self, recorded: RecordedRequest, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> web.Response:
        recorded.status = status
        return web.json_response(body, status=status, headers=headers)

    def _canned_for(self, recorded: RecordedRequest) -> web.Response | None:
        with self._lock:
            queue = self._canned.get(_endpoint(recorded.method, recorded.path)) or []
            canned = queue.pop(0) if queue else None
        if canned is None:
            return None
        recorded.status = canned.status
        return web.Response(
            status=canned.status, body=canned.body, headers=canned.headers, content_type="application/json"
        )

    def _auth(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header == f"Bearer {self.credentials.bearer_token}":
            return "bearer"
        if header.startswith("OAuth ") and self._oauth_valid(request, header):
            return "oauth1"
        return None

    def _oauth_valid(self, request: web.Request, header: str) -> bool:
        """Check an OAuth 1.0a HMAC-SHA1 signature (RFC 5849 section 3.4) as X would, over the
        public API URL the client signed."""
        try:
            oauth = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(header)}
        except (ValueError, IndexError):
            return False
        creds = self.credentials
        if oauth.get("oauth_consumer_key") != creds.consumer_key or oauth.get("oauth_token") != creds.access_token:
            return False
        if oauth.get("oauth_signature_method") != "HMAC-SHA1" or "oauth_signature" not in oauth:
            return False
        query = request.raw_path.partition("?")[2]
        params = oauth_signature.collect_parameters(
            uri_query=query, headers={"Authorization": header}, exclude_oauth_signature=True
        )
        normalized = oauth_signature.normalize_parameters(params)
        for host in PUBLIC_HOSTS:
            base = oauth_signature.signature_base_string(
                request.method, oauth_signature.base_string_uri(host + request.path), normalized
            )
            key = f"{oauth_utils.escape(creds.consumer_secret)}&{oauth_utils.escape(creds.access_token_secret)}"
            expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
            if hmac.compare_digest(expected, oauth["oauth_signature"]):
                return True
        return False

    def _unauthorized(self, recorded: RecordedRequest, *, user_context: bool) -> web.Response | None:
        if recorded.auth is None:
            return self._reply(recorded, 401, _problem(401, "Unauthorized", "Unauthorized"))
        if user_context and recorded.auth != "oauth1":
            return self._reply(
                recorded,
                403,
                _problem(
                    403,
                    "Unsupported Authentication",
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
                    "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                    "https://api.twitter.com/2/problems/unsupported-authentication",
                ),
            )
        return None

    # -- endpoints -----------------------------------------------------------------------
    async def _mentions(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        refusal = self._canned_for(recorded) or self._unauthorized(recorded, user_context=False)
        if refusal is not None:
            return refusal
        query = recorded.query
        try:
            page_size = int(query.get("max_results", "10"))
        except ValueError:
            page_size = -1
        if not 5 <= page_size <= 100:
            return self._reply(
                recorded,
                400,
                _problem(
                    400,
                    "Invalid Request",
                    "One or more parameters to your request was invalid.",
                    "https://api.twitter.com/2/problems/invalid-request",
                ),
            )
        with self._lock:
            tweets = [dict(t) for t in self.mentions] if request.match_info["id"] == self.credentials.user_id else []
            users = dict(self.users)
        since_id = None if self.ignore_since_id else query.get("since_id")
        if since_id:
            tweets = [t for t in tweets if int(t["id"]) > int(since_id)]
        elif query.get("start_time"):
            tweets = [t for t in tweets if t["created_at"] >= query["start_time"].replace("Z", ".000Z")]
        tweets.sort(key=lambda t: int(t["id"]), reverse=True)
        fields = set(filter(None, query.get("tweet.fields", "").split(",")))
        expansions = set(filter(None, query.get("expansions", "").split(",")))
        if "author_id" in expansions:
            fields.add("author_id")
        wanted = {"id", "text", "edit_history_tweet_ids"} | fields
        shaped = [{k: v for k, v in t.items() if k in wanted} for t in tweets]
        body = self._page(shaped, page_size, query.get("pagination_token"))
        if "data" in body and "author_id" in expansions:
            authors = {t["author_id"] for t in tweets if t["id"] in {s["id"] for s in body["data"]}}
            body["includes"] = {"users": [users[a] for a in sorted(authors) if a in users]}
        return self._reply(recorded, 200, body)

    async def _dm_events(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        refusal = self._canned_for(recorded) or self._unauthorized(recorded, user_context=True)
        if refusal is not None:
            return refusal
        query = recorded.query
        with self._lock:
            events = [dict(e) for e in self.dm_events]
            users = dict(self.users)
        types = set(filter(None, query.get("event_types", "").split(",")))
        if types:
            events = [e for e in events if e["event_type"] in types]
        events.sort(key=lambda e: int(e["id"]), reverse=True)
        fields = {"id", "event_type", "text"} | set(filter(None, query.get("dm_event.fields", "").split(",")))
        shaped = [{k: v for k, v in e.items() if k in fields} for e in events]
        body = self._page(shaped, int(query.get("max_results", "100")), query.get("pagination_token"), with_ids=False)
        if "data" in body and "sender_id" in query.get("expansions", "").split(","):
            senders = {e["sender_id"] for e in events if e["id"] in {s["id"] for s in body["data"]}}
            body["includes"] = {"users": [users[s] for s in sorted(senders) if s in users]}
        return self._reply(recorded, 200, body)

    @staticmethod
    def _page(items: list[dict[str, Any]], size: int, token: str | None, *, with_ids: bool = True) -> dict[str, Any]:
        start = int(token[1:]) if token and token[1:].isdigit() else 0
        chunk = items[start : start + size]
        if not chunk:
            return {"meta": {"result_count": 0}}
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if with_ids:
            meta.update(newest_id=chunk[0]["id"], oldest_id=chunk[-1]["id"])
        if start + size < len(items):
            meta["next_token"] = f"p{start + size}"
        return {"data": chunk, "meta": meta}

    async def _create_tweet(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        refusal = self._canned_for(recorded) or self._unauthorized(recorded, user_context=True)
        if refusal is not None:
            return refusal
        payload = recorded.json if isinstance(recorded.json, dict) else {}
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 280:
            return self._reply(
                recorded,
                400,
                _problem(
                    400,
                    "Invalid Request",
                    "One or more parameters to your request was invalid.",
                    "https://api.twitter.com/2/problems/invalid-request",
                ),
            )
        with self._lock:
            duplicate = any(p["text"] == text for p in self.posts)
        if duplicate:
            return self._reply(
                recorded,
                403,
                _problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."),
            )
        tweet_id = self.new_id()
        reply = payload.get("reply") if isinstance(payload.get("reply"), dict) else {}
        with self._lock:
            self.posts.append({"id": tweet_id, "text": text, "in_reply_to_tweet_id": reply.get("in_reply_to_tweet_id")})
        return self._reply(recorded, 201, {"data": {"id": tweet_id, "text": text}})

    async def _create_dm(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        refusal = self._canned_for(recorded) or self._unauthorized(recorded, user_context=True)
        if refusal is not None:
            return refusal
        participant = request.match_info["participant_id"]
        payload = recorded.json if isinstance(recorded.json, dict) else {}
        text = payload.get("text")
        if not participant.isdigit() or not isinstance(text, str) or not text:
            return self._reply(
                recorded,
                400,
                _problem(
                    400,
                    "Invalid Request",
                    "One or more parameters to your request was invalid.",
                    "https://api.twitter.com/2/problems/invalid-request",
                ),
            )
        if participant in self.refused_dm_recipients:
            return self._reply(recorded, 403, _problem(403, "Forbidden", "You cannot send messages to this user."))
        event_id = self._store_dm(self.credentials.user_id, participant, text)
        low, high = sorted((participant, self.credentials.user_id), key=int)
        with self._lock:
            self.dms_sent.append({"participant_id": participant, "text": text, "dm_event_id": event_id})
            hang = self.hang_after_dm > 0
            self.hang_after_dm -= 1 if hang else 0
        while hang and not self._stopping.is_set():
            await asyncio.sleep(0.05)
        return self._reply(recorded, 201, {"data": {"dm_conversation_id": f"{low}-{high}", "dm_event_id": event_id}})


def _endpoint(method: str, path: str) -> str:
    if path.startswith("/2/users/") and path.endswith("/mentions"):
        return "mentions"
    if path == "/2/dm_events":
        return "dm_events"
    if method == "POST" and path == "/2/tweets":
        return "tweets"
    if method == "POST" and path.startswith("/2/dm_conversations/"):
        return "dm_send"
    return path
