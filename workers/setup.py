"""Builds a process's :class:`~workers.runtime.Runtime`: database, broker, dead-letter recorder, actors.

Kept apart from ``workers/runtime.py`` so the runtime (which every stage receives) imports no
stage, and the actors and the dead-letter recorder can take the runtime without a cycle.
"""

from __future__ import annotations

from complaints import sla
from complaints.db import make_engine, read_session_factory, session_factory, upgrade
from config.loader import load_city_config
from config.model import CityConfig
from config.settings import Settings
from workers.activity import Activity
from workers.actor_counting import ActorActivityCounter
from workers.actors import declare_actors
from workers.broker import make_broker
from workers.budget import attempt_budget
from workers.dead_letters import DeadLetterRecorder
from workers.runtime import Runtime
from workers.sender_counter import SenderCounter


def build_runtime(settings: Settings, *, migrate: bool = True, config: CityConfig | None = None) -> Runtime:
    """Load the city config, create engine, broker and actors for ``settings``; migrate the schema if asked.

    The config is read from CONFIG_DIR unless ``config`` is given; an invalid one raises
    :class:`config.problems.ConfigError` before anything else starts.
    """
    if config is None:
        config = load_city_config(settings.config_dir, home_region=settings.region_code)
    engine = make_engine(settings.resolved_database_url)
    if migrate:
        upgrade(engine)
    sf = session_factory(engine)
    recorder = DeadLetterRecorder(sf, config.sop, attempt_budget(settings), sla.calendar_of(config.calendar))
    # part-instrument: the actor counter feeds the runtime's activity recorder (the broker is built first).
    activity = Activity()
    counter = ActorActivityCounter(activity)
    runtime = Runtime(
        settings=settings,
        config=config,
        engine=engine,
        sf=sf,
        read_sf=read_session_factory(engine),
        broker=make_broker(settings, [recorder, counter]),
        activity=activity,
        sender_counter=SenderCounter(settings),  # part-abuse
    )
    runtime.actors = declare_actors(runtime)
    return runtime
