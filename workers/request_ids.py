"""One request id on every log line about one complaint, from the webhook through the queue to the reply.

``grep <request id>`` over the logs of all processes shows a complaint's whole path: the HTTP
request that brought it (the id is also its ``X-Request-Id`` answer header), the accept, each
worker stage and the reply. The id is random and carries no personal data.

- An HTTP request gets a fresh id (:func:`bind_request`, from the gateway's middleware). A poller
  or the SMTP server has no request: the envelope's own id (= its inbox id) is its request id.
- The id is kept in structlog's contextvars (``request_id``), which ``config/logging.py`` merges
  into every line, the standard library's (aiohttp, Dramatiq) included.
- A queue message carries a batch of ids, so it carries their request ids too: the message option
  ``request_ids``, a list in the order of the message's ids, written on enqueue by
  :class:`RequestIdMiddleware` from the *trail* (item id → request id) of the code that sends.
- A worker binds the list (``request_ids``) for the whole message, and each item's own id
  (``request_id``) while a stage works on that item (:func:`item_scope`); work an item causes
  (the case it opens, the reply it queues) joins the trail with the item's request id
  (:func:`follow`), so the next message carries it on.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar, Token
from typing import Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

OPTION = "request_ids"
"""The Dramatiq message option: request ids, one per id in the message's first argument."""

_AS_LETTERS = str.maketrans("0123456789abcdef", "ghijklmnopqrstuv")
_request_id: ContextVar[str | None] = ContextVar("intake_request_id", default=None)
_trail: ContextVar[dict[str, str] | None] = ContextVar("intake_request_trail", default=None)


def new_request_id() -> str:
    """A fresh request id: 64 random bits as 16 letters (hex digits spelled ``g``-``v``).

    Letters only: random hex is sometimes 16 decimal digits in a row, which the log redaction
    would mask as a NIK. Not secret (it is answered to the caller), so the fast ``random`` will do:
    this runs on every HTTP request.
    """
    return format(random.getrandbits(64), "016x").translate(_AS_LETTERS)


def current() -> str | None:
    """The request id bound in this context (an HTTP request, or the item a worker is on)."""
    return _request_id.get()


class _Bound:
    """Tokens to undo one :func:`bind_request` (cheaper than a context manager on the hot path)."""

    __slots__ = ("own", "structlog_tokens")

    def __init__(self, own: Token[str | None], structlog_tokens: Mapping[str, Token[Any]]) -> None:
        self.own = own
        self.structlog_tokens = structlog_tokens

    def reset(self) -> None:
        """Put back what was bound before."""
        structlog.contextvars.reset_contextvars(**self.structlog_tokens)
        _request_id.reset(self.own)


def bind_request(request_id: str) -> _Bound:
    """Bind ``request_id`` for this context's log lines and enqueues; call ``.reset()`` when done."""
    return _Bound(_request_id.set(request_id), structlog.contextvars.bind_contextvars(request_id=request_id))


@contextlib.contextmanager
def carrying(trail: Mapping[str, str]) -> Iterator[None]:
    """Messages sent inside this block carry ``trail``'s request ids for their ids (item id → request id)."""
    token = _trail.set(dict(trail))
    try:
        yield
    finally:
        _trail.reset(token)


@contextlib.contextmanager
def item_scope(item_id: str) -> Iterator[str | None]:
    """While a stage works on ``item_id``: its own request id on every line (the batch's list hidden)."""
    request_id = (_trail.get() or {}).get(item_id)
    if request_id is None:
        yield None
        return
    own = _request_id.set(request_id)
    # Ellipsis is how structlog marks a contextvar unbound: the item's lines carry its one id,
    # not the whole batch's list (a batch of 100 would repeat 100 ids on every line).
    tokens = structlog.contextvars.bind_contextvars(request_id=request_id, request_ids=...)
    try:
        yield request_id
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
        _request_id.reset(own)


def follow(request_id: str | None, ids: Iterable[str]) -> None:
    """Work caused by an item (``ids``, any actor) carries the item's request id on the queue."""
    trail = _trail.get()
    if request_id is None or trail is None:
        return
    for item_id in ids:
        trail.setdefault(item_id, request_id)


def _ids_of(message: dramatiq.Message[Any] | MessageProxy) -> list[str] | None:
    args = message.args
    if len(args) == 1 and isinstance(args[0], list) and all(isinstance(i, str) for i in args[0]):
        return args[0]
    return None


class RequestIdMiddleware(Middleware):
    """Puts the request ids on each message sent, and binds them while a worker processes it."""

    def before_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message[Any], delay: int | None) -> None:
        """Write ``options["request_ids"]`` from the sender's trail or bound request id (a retry keeps its own)."""
        if OPTION in message.options:
            return
        ids = _ids_of(message)
        if ids is None:
            return
        trail = _trail.get() or {}
        fallback = _request_id.get()
        request_ids = [trail.get(item_id) or fallback for item_id in ids]
        if any(request_ids):
            message.options[OPTION] = request_ids

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        """Bind the message's request ids (``request_ids``) and make them the trail of its items."""
        ids = _ids_of(message)
        request_ids = message.options.get(OPTION)
        if ids is None or not isinstance(request_ids, list) or len(request_ids) != len(ids):
            _trail.set({})
            return
        _trail.set({i: r for i, r in zip(ids, request_ids, strict=True) if isinstance(r, str)})
        distinct = list(dict.fromkeys(r for r in request_ids if isinstance(r, str)))
        if distinct:
            structlog.contextvars.bind_contextvars(request_ids=distinct)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        """Unbind: the worker thread's next message starts clean."""
        _clear()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        """Unbind after a skipped message too."""
        _clear()


def _clear() -> None:
    _trail.set(None)
    _request_id.set(None)
    structlog.contextvars.unbind_contextvars("request_ids", "request_id")
