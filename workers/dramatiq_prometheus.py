"""Dramatiq's own Prometheus metrics for a worker process (opt-in: ``DRAMATIQ_PROMETHEUS_PORT``).

Dramatiq 2.x ships :class:`dramatiq.middleware.prometheus.Prometheus` but no longer adds it by
default. It counts messages, errors, retries, dead letters and durations per actor, writes them
in prometheus-client's multiprocess files and serves them over HTTP on a port of its own. Its
HTTP server is one of the middleware's ``forks``, which only the ``dramatiq`` command starts;
``intake worker`` runs its workers in-process, so this module starts that server in a daemon
thread and emits the middleware's ``process_boot`` itself.

The middleware reads its host, port and directory from module globals (set from the
``dramatiq_prom_*`` variables when it is first imported); they are set here from our settings
instead, so the port is one more setting like the others.
"""

from __future__ import annotations

import os
import tempfile
import threading

import dramatiq
import structlog

from config.settings import Settings

log = structlog.get_logger(__name__)


def _multiprocess_directory() -> str:
    """The prometheus-client multiprocess directory, switching this process to multiprocess mode if needed.

    Dramatiq's middleware writes its values to files there and its server reads them back, so the
    process must be in multiprocess mode. prometheus-client decides the mode when it is imported;
    no metric exists yet in a worker process when this runs (before the workers and the app are
    built), so the choice is made again here.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="intake-prometheus-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from prometheus_client import values

    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # prometheus-client: untyped
    return directory


def export_dramatiq_metrics(broker: dramatiq.Broker, settings: Settings) -> threading.Thread | None:
    """Add Dramatiq's Prometheus middleware to ``broker`` and serve it, when DRAMATIQ_PROMETHEUS_PORT is set.

    Returns the server's thread (None when switched off). Call once per process, before the
    workers start; a port already taken is logged and the workers run on without the exporter.
    """
    port = settings.dramatiq_prometheus_port
    if port is None:
        return None
    # Imported only when switched on: importing it creates its default directory under /tmp.
    from dramatiq.middleware import prometheus as dramatiq_prometheus

    directory = _multiprocess_directory()
    dramatiq_prometheus.DB_PATH = directory
    dramatiq_prometheus.HTTP_HOST = settings.dramatiq_prometheus_host
    dramatiq_prometheus.HTTP_PORT = port
    middleware = dramatiq_prometheus.Prometheus()
    broker.add_middleware(middleware)
    # Creates its metrics (the dramatiq command would emit process_boot); dramatiq leaves this hook untyped.
    middleware.after_process_boot(broker)  # type: ignore[no-untyped-call]
    (serve,) = middleware.forks

    def run() -> None:
        try:
            serve()
        except OSError as exc:  # the port is taken: the workers matter more than their metrics
            log.error("dramatiq_prometheus_failed", port=port, error=f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=run, name="dramatiq-prometheus", daemon=True)
    thread.start()
    log.info("dramatiq_prometheus_serving", host=settings.dramatiq_prometheus_host, port=port)
    return thread
