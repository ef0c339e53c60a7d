"""The aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from channels.registry import build_adapters
from complaints.replies import reply_renderer
from config.settings import Settings
from gateway.accept import GroupCommitAcceptor
from gateway.app_api import setup_app_api
from gateway.console import setup_console
from gateway.health import setup_health
from gateway.intake_counting import count_intake_outcomes
from gateway.keys import ACCEPTOR, ADAPTERS, RUNTIME, SETTINGS
from gateway.limits import setup_limits  # part-hostile
from gateway.metrics import setup_metrics
from gateway.ops import setup_ops
from gateway.pages.statistik import add_statistik_routes
from gateway.pages.views import setup_pages
from gateway.rate_limits import setup_address_limits
from gateway.request_id import request_id_middleware
from gateway.webhooks import setup_webhooks
from workers.runtime import Runtime


def create_app(settings: Settings, runtime: Runtime) -> web.Application:
    """Build the web application: webhooks, citizen pages, staff console, public API, health.

    ``runtime`` is owned by the caller (it may also run workers); the app only starts and
    stops its group-commit acceptor.
    """
    # Uploads (photos) are bounded by their own setting; aiohttp's default would be 1 MiB.
    app = web.Application(
        client_max_size=max(settings.max_body_bytes, settings.max_upload_bytes) + 64 * 1024,
        client_max_fields=settings.max_form_fields,  # part-hostile: request.post() fields
    )
    adapters = build_adapters(settings, texts=reply_renderer(runtime.config.replies))
    app[SETTINGS] = settings
    app[RUNTIME] = runtime
    app[ADAPTERS] = adapters
    app[ACCEPTOR] = GroupCommitAcceptor(runtime)
    # part-monitor: every request's log lines (and what it enqueues) carry one request id.
    app.middlewares.append(request_id_middleware)
    app.cleanup_ctx.append(_acceptor_ctx)
    setup_address_limits(app)  # part-abuse: per-address limits on look-ups and registrations
    setup_webhooks(app, adapters.webhooks)
    setup_health(app)
    setup_app_api(app)
    setup_ops(app)  # GET /ops/status first: an exact route, outside the console's middleware
    setup_console(app)
    setup_pages(app)
    add_statistik_routes(app)  # part-reports: the public statistics page
    # part-instrument: intake outcomes of every HTTP channel, and GET /metrics (Prometheus).
    app.middlewares.append(count_intake_outcomes(runtime.activity))
    setup_metrics(app)
    setup_limits(app)  # part-hostile: last, so it is the innermost middleware (gateway/limits.py)
    return app


async def _acceptor_ctx(app: web.Application) -> AsyncIterator[None]:
    acceptor = app[ACCEPTOR]
    acceptor.start()
    yield
    await acceptor.stop()
