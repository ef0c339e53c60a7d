"""Counts every queue message each actor handles: processed, failed (an attempt raised), dead.

A Dramatiq middleware beside :class:`workers.dead_letters.DeadLetterRecorder`, placed before
``Retries`` so its "after" hook runs once Retries has decided whether a failed message is
retried or given up on (``message.failed``). The counts go to ``runtime.activity`` (see
:mod:`workers.activity`): the health page's processed/failed per minute, and Prometheus.
"""

from __future__ import annotations

from typing import Any

from dramatiq.broker import Broker, MessageProxy
from dramatiq.middleware import Middleware

from workers.activity import Activity


class ActorActivityCounter(Middleware):
    """Count each processed message per actor on an :class:`~workers.activity.Activity`."""

    def __init__(self, activity: Activity) -> None:
        self.activity = activity

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,  # whatever the actor returned: dramatiq types it Any
        exception: BaseException | None = None,
    ) -> None:
        """``processed`` on success; ``failed`` for an attempt that raised, and ``dead`` too once retries are spent."""
        if exception is None:
            self.activity.actor(message.actor_name, "processed")
            return
        self.activity.actor(message.actor_name, "failed")
        if message.failed:
            self.activity.actor(message.actor_name, "dead")
