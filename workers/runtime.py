"""What every stage needs at run time, built once per process and passed explicitly.

No module-level singletons: the embedded server and the tests can build several runtimes
(SQLite + in-process broker, PostgreSQL + Redis) in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dramatiq
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from complaints.db import make_engine, read_session_factory, session_factory, upgrade
from config.loader import load_city_config
from config.model import CityConfig
from config.settings import Settings
from workers.broker import make_broker


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
    outbound: Any = None
    """workers.outbound.OutboundSender, created by processes that send replies."""

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


def build_runtime(settings: Settings, *, migrate: bool = True, config: CityConfig | None = None) -> Runtime:
    """Load the city config, create engine, broker and actors for ``settings``; migrate the schema if asked.

    The config is read from CONFIG_DIR unless ``config`` is given; an invalid one raises
    :class:`config.problems.ConfigError` before anything else starts.
    """
    from workers.actors import declare_actors
    from workers.dead_letters import DeadLetterRecorder

    if config is None:
        config = load_city_config(settings.config_dir, home_region=settings.region_code)
    engine = make_engine(settings.resolved_database_url)
    if migrate:
        upgrade(engine)
    sf = session_factory(engine)
    read_sf = read_session_factory(engine)
    runtime = Runtime(settings=settings, config=config, engine=engine, sf=sf, read_sf=read_sf, broker=None)  # type: ignore[arg-type]
    runtime.broker = make_broker(settings, [DeadLetterRecorder(runtime)])
    runtime.actors = declare_actors(runtime)
    return runtime
