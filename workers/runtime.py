"""What every stage needs at run time, built once per process and passed explicitly.

No module-level singletons: the embedded server and the tests can build several runtimes
(SQLite + in-process broker, PostgreSQL + Redis) in one process. The runtime is plain data
that the stages receive; it imports none of them. :func:`workers.setup.build_runtime` builds
it and declares the actors on it, so the import graph runs setup → actors → stages → runtime
without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dramatiq
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.model import CityConfig
from config.settings import Settings
from workers.activity import Activity

if TYPE_CHECKING:
    from workers.outbound import OutboundSender
    from workers.sender_counter import SenderCounter


@dataclass
class Runtime:
    """Settings, city config, database, broker and the declared actors of one process."""

    settings: Settings
    config: CityConfig
    """The city's OPDs, routing rules, SOP, reply texts and regions, loaded once from CONFIG_DIR."""
    engine: Engine
    sf: sessionmaker[Session]
    """Sessions that write."""
    read_sf: sessionmaker[Session]
    """Read-only sessions (pages, API, health): never block writers."""
    broker: dramatiq.Broker
    actors: dict[str, dramatiq.Actor[Any, Any]] = field(default_factory=dict)
    outbound: OutboundSender | None = None
    """Created by processes that send replies (gateway.embedded)."""
    activity: Activity = field(default_factory=Activity)
    """This process's per-minute counters (inbound, actors, outbound); the monitor thread stores them."""
    sender_counter: SenderCounter | None = None
    """part-abuse: counts messages per sender against SENDER_RATE_LIMIT; None counts nothing."""

    def send(self, actor_name: str, ids: list[str]) -> None:
        """Enqueue one message carrying a batch of ids (blocking: call from a thread)."""
        if ids:
            self.actors[actor_name].send(ids)

    def close(self) -> None:
        """Release connections held by this runtime."""
        if self.outbound is not None:
            self.outbound.close()
        self.broker.close()
        self.engine.dispose()
