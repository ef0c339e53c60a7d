"""Typed application keys (aiohttp ``web.AppKey``), one module so every part agrees on them."""

from __future__ import annotations

from aiohttp import web

from channels.registry import Adapters
from config.settings import Settings
from gateway.accept import GroupCommitAcceptor
from workers.runtime import Runtime

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
ACCEPTOR = web.AppKey("acceptor", GroupCommitAcceptor)
ADAPTERS = web.AppKey("adapters", Adapters)
