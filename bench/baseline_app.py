"""Baseline for the accept-path benchmark: the same Kannel handler minus storage and queue.

It verifies and parses the request and builds the envelope exactly like the real gateway, then
answers 200 — the ceiling the accept path is compared against ("parse + build envelope").
"""

from __future__ import annotations

import sys

from aiohttp import web

from channels.sms.kannel import KannelSms
from config.settings import Settings
from gateway.http import raw_request
from normalizer.normalize import build_envelope


def main() -> None:
    """Serve the baseline on the port given as the first argument."""
    settings = Settings(
        _env_file=None,
        kannel_sendsms_url="http://127.0.0.1:9/",
        kannel_username="u",
        kannel_password="p",
        kannel_inbound_token="bench-token",
    )
    adapter = KannelSms(settings)

    async def handle(request: web.Request) -> web.Response:
        raw = raw_request(request, await request.read(), settings.public_base_url)
        adapter.verify(raw)
        for intake in adapter.parse(raw).intakes:
            build_envelope(intake)
        return web.Response(status=200, body=b"")

    app = web.Application()
    app.router.add_get("/channels/sms/kannel", handle)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
