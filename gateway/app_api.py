"""The Android app's JSON API under /api/v1 (being written: issue 4)."""

from __future__ import annotations

from aiohttp import web


def setup_app_api(app: web.Application) -> None:
    """Mount the app API routes (none yet)."""
