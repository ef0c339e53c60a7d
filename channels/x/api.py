"""The tweepy client the X channel talks through, and what its failures mean.

tweepy's ``Client`` is synchronous, sets no time-out, and hard-codes the API host
(``https://api.twitter.com``; X's own docs use ``https://api.x.com``). :class:`ApiHostAdapter`,
mounted on ``client.session``, gives every request a time-out and, when X_API_BASE is not the
public service (tests, a city's relay), sends it to X_API_BASE instead. The OAuth 1.0a signature
is computed by requests-oauthlib before the adapter sees the request, so it still covers the
public host's URL, which is what X checks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter

from channels.base import SendError
from channels.http_send import classify_status

# The hosts tweepy has used for the API (4.x sends to api.twitter.com; X documents api.x.com).
TWEEPY_HOSTS = ("https://api.twitter.com/", "https://api.x.com/")
PUBLIC_API_BASE = "https://api.x.com"

# The longest a rate-limit wait may last: X's windows are 15 minutes
# (https://docs.x.com/x-api/fundamentals/rate-limits); a reset further away is a clock problem.
MAX_RATE_LIMIT_WAIT = 15 * 60 + 60.0
# Without a usable x-rate-limit-reset header, try again after a minute.
DEFAULT_RATE_LIMIT_WAIT = 60.0


class ApiHostAdapter(HTTPAdapter):
    """A requests transport adapter that applies a default time-out and, if ``api_base`` is
    given, rewrites ``https://api.twitter.com/<path>`` to ``<api_base>/<path>``."""

    def __init__(self, api_base: str | None, timeout: float) -> None:
        super().__init__()
        self.api_base = api_base.rstrip("/") if api_base else None
        self.timeout = timeout

    def rewrite(self, url: str) -> str:
        """The URL the request really goes to."""
        if not self.api_base:
            return url
        parts = urlsplit(url)
        return self.api_base + parts.path + (f"?{parts.query}" if parts.query else "")

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request`` to the rewritten URL, with the default time-out if none was given."""
        if self.api_base and request.url:
            request.url = self.rewrite(request.url)
            # The session chose proxies for the public host; the new host may be a local one.
            if requests.utils.should_bypass_proxies(request.url, no_proxy=None):
                proxies = {}
        return super().send(
            request,
            stream=stream,
            timeout=timeout if timeout is not None else self.timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def build_client(
    *,
    bearer_token: str | None,
    consumer_key: str,
    consumer_secret: str,
    access_token: str,
    access_token_secret: str,
    api_base: str,
    timeout: float,
) -> tweepy.Client:
    """A tweepy v2 client that returns plain JSON (``return_type=dict``), so the poller and the
    webhook read the same shapes, and that never waits on a rate limit by itself (the poller
    decides, interruptibly)."""
    client = tweepy.Client(
        bearer_token=bearer_token,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        access_token=access_token,
        access_token_secret=access_token_secret,
        return_type=dict,
        wait_on_rate_limit=False,
    )
    rewrite_to = api_base if api_base.rstrip("/") != PUBLIC_API_BASE else None
    adapter = ApiHostAdapter(rewrite_to, timeout)
    for prefix in TWEEPY_HOSTS:
        client.session.mount(prefix, adapter)
    return client


def rate_limit_wait(headers: Mapping[str, str] | None, *, now: float | None = None) -> float:
    """Seconds to wait after a 429: until ``x-rate-limit-reset`` (epoch seconds) plus one,
    between 1 s and :data:`MAX_RATE_LIMIT_WAIT`
    (https://docs.x.com/x-api/fundamentals/rate-limits#rate-limit-headers)."""
    raw = (headers or {}).get("x-rate-limit-reset")
    try:
        reset = float(raw) if raw is not None else None
    except ValueError:
        reset = None
    if reset is None:
        return DEFAULT_RATE_LIMIT_WAIT
    wait = reset - (time.time() if now is None else now) + 1.0
    return min(max(wait, 1.0), MAX_RATE_LIMIT_WAIT)


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a tweepy error, if it has one."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def describe(exc: BaseException) -> str:
    """A short, secret-free description of an X failure for logs and the outbox."""
    if isinstance(exc, tweepy.HTTPException):
        messages = "; ".join(str(m) for m in exc.api_messages) or str(exc).split("\n", 1)[0]
        return f"{http_status(exc)} {messages}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def send_error(exc: BaseException, what: str) -> SendError:
    """Turn a failed X call into a :class:`SendError`: throttling (429), server trouble (5xx)
    and network errors can be retried; other refusals (400, 401, 403 "You cannot send messages
    to this user", 404) cannot."""
    if isinstance(exc, tweepy.HTTPException):
        status = http_status(exc)
        return SendError(f"X refused the {what}: {describe(exc)}", retryable=status is None or classify_status(status))
    return SendError(f"{what} failed: {describe(exc)}", retryable=True)


def is_duplicate_post(exc: BaseException) -> bool:
    """X refuses a post identical to one the account just made (403 "duplicate content"):
    for a reply we retry, that means the first attempt went out."""
    return isinstance(exc, tweepy.Forbidden) and any("duplicate" in str(m).lower() for m in exc.api_messages)
