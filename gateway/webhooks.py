"""Mounts every enabled channel adapter's webhook: verify → parse → normalise → accept → answer.

A request that fails in an unexpected way (a bug in an adapter or the normaliser, not a bad
request) is kept (``gateway/unreadable.py``), its traceback logged without personal data, and
answered 500: the provider retries it instead of dropping it, and operators can find it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy.exc import DataError, IntegrityError

from channels.base import ChannelError, WebhookAdapter
from gateway.http import raw_request, read_body
from gateway.intake_counting import count_intake_route
from gateway.keys import ACCEPTOR, RUNTIME, SETTINGS
from gateway.limits import body_error_reason, unreadable_body_answer
from gateway.unreadable import keep_unreadable_request, traceback_text
from normalizer.normalize import InvalidIntake, build_envelope

log = structlog.get_logger(__name__)


def webhook_handler(adapter: WebhookAdapter) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Build the aiohttp handler for one adapter."""

    async def handle(request: web.Request) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        try:
            body = await read_body(request, settings.max_body_bytes)
        except (HttpProcessingError, web.RequestPayloadError) as exc:
            # part-hostile: a body that does not decode (Content-Encoding: gzip that is not gzip) is
            # the sender's fault, answered before any credential is looked at; nothing is kept.
            reason = body_error_reason(exc)
            log.warning("webhook_rejected", provider=adapter.name, status=400, reason=reason)
            return await unreadable_body_answer(request, f"BadRequest: {reason}")
        raw = raw_request(request, body, settings.public_base_url)
        try:
            # Signature first: nothing from an unverified request is parsed or stored.
            adapter.verify(raw)
        except ChannelError as exc:
            log.warning("webhook_rejected", provider=adapter.name, status=exc.status, reason=str(exc))
            return web.Response(status=exc.status, text=f"{type(exc).__name__}: {exc}\n")
        except Exception as exc:  # noqa: BLE001 - our bug; an unverified body is never kept (anyone could fill the disk)
            log.error(
                "webhook_verify_failed", provider=adapter.name, error=type(exc).__name__, traceback=traceback_text(exc)
            )
            return web.Response(status=500, text="the request could not be checked; retry later\n")
        try:
            result = adapter.parse(raw)
            envelopes = [build_envelope(intake) for intake in result.intakes]
        except ChannelError as exc:
            log.warning("webhook_rejected", provider=adapter.name, status=exc.status, reason=str(exc))
            return web.Response(status=exc.status, text=f"{type(exc).__name__}: {exc}\n")
        except InvalidIntake as exc:
            log.warning("webhook_rejected", provider=adapter.name, status=400, reason=str(exc))
            return web.Response(status=400, text=f"BadRequest: {exc}\n")
        except Exception as exc:  # noqa: BLE001 - our bug, not the provider's: keep it, let the provider retry
            sha = await keep_unreadable_request(
                request.app[RUNTIME],
                channel=adapter.channel,
                provider=adapter.name,
                request=raw,
                reason=f"could not be read: {type(exc).__name__}",
            )
            log.error(
                "webhook_unreadable",
                provider=adapter.name,
                error=type(exc).__name__,
                raw_sha256=sha,
                traceback=traceback_text(exc),
            )
            return web.Response(status=500, text="the message could not be read; it was kept, retry later\n")
        acceptor = request.app[ACCEPTOR]
        try:
            outcomes = await acceptor.accept(envelopes)
            if result.delivery_updates:
                await acceptor.apply_delivery_updates(result.delivery_updates)
        except (DataError, IntegrityError) as exc:
            # The database refuses this very message: a retry would fail the same way, so
            # answer 400 — but keep the body first, so the message is not lost.
            sha = await keep_unreadable_request(
                request.app[RUNTIME],
                channel=adapter.channel,
                provider=adapter.name,
                request=raw,
                reason=f"refused by the database: {type(exc).__name__}",
            )
            log.error("webhook_store_refused", provider=adapter.name, error=type(exc).__name__, raw_sha256=sha)
            if sha is None:
                # Not even kept: only the provider still has it, so it must retry.
                return web.Response(status=500, text="the message could not be stored; retry later\n")
            return web.Response(status=400, text="BadRequest: the message could not be stored as sent\n")
        except Exception as exc:  # noqa: BLE001
            # Not stored: answer 503 so the provider retries instead of believing us.
            log.error("webhook_store_failed", provider=adapter.name, error=type(exc).__name__)
            return web.Response(status=503, text="temporarily unable to store the message, retry\n")
        if result.ignored:
            log.info("webhook_ignored", provider=adapter.name, reason=result.ignored)
        for outcome in outcomes:
            log.info(
                "accepted",
                provider=adapter.name,
                inbox=outcome.inbox_id,
                ticket=outcome.ticket,
                duplicate=outcome.duplicate,
            )
        status, content_type, payload = adapter.answer(raw, [o.ticket for o in outcomes])
        return web.Response(status=status, body=payload, content_type=content_type.split(";")[0])

    return handle


def setup_webhooks(app: web.Application, webhooks: Mapping[str, WebhookAdapter]) -> None:
    """Add a route per webhook adapter whose webhook is switched on (the registry's ``webhooks``).

    Each route's answers are counted as intake outcomes of the adapter's channel (:mod:`gateway.intake_counting`).
    """
    for adapter in webhooks.values():
        if not adapter.path:
            continue
        handler = webhook_handler(adapter)
        for method in adapter.methods:
            route = app.router.add_route(method, adapter.path, handler)
            count_intake_route(app, route, adapter.channel)
