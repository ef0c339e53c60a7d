"""The chaos run's own services and processes on loopback (scripts/chaos.py).

A PostgreSQL cluster and a Redis server of the run's own, on free ports, so stopping them for the
faults never touches the shared 5432 / 6379 ones other tests use; and the Procfile's processes
(``intake gateway``, ``worker``, ``poller``) started, SIGKILLed and restarted by name.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"chaos: PostgreSQL's {name} not found; apt-get install -y postgresql")
    return path


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its commands as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PgCluster:
    """A throw-away PostgreSQL cluster (initdb) on ``port``, stopped and started for the faults."""

    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/chaos"

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        initdb = [_pg_bin("initdb"), "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres", "--no-sync"]
        subprocess.run(_as_postgres(initdb), check=True, stdout=subprocess.DEVNULL)
        self.start()
        createdb = [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "chaos"]
        subprocess.run(createdb, check=True)

    def _ctl(self, *args: str) -> None:
        ctl = [_pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "pg.log"), "-w", *args]
        subprocess.run(_as_postgres(ctl), check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._ctl("-o", options, "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


@dataclass
class RedisServer:
    """A Redis server of the run's own, without persistence: a restart loses the queue."""

    root: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "redis.log").open("ab")
        self.proc = subprocess.Popen(argv, cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout != b"PONG\n":
            if time.monotonic() > deadline:
                raise SystemExit("chaos: redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@dataclass
class Processes:
    """The intake processes, each by a name (``gateway``, ``worker-1``, ``poller-2`` ...)."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *argv: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", *argv],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name].argv = argv  # type: ignore[attr-defined]

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash or the OOM killer would: no clean-up of any kind."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def restart(self, name: str) -> None:
        self.start(name, *self.procs[name].argv)  # type: ignore[attr-defined]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_until(condition: object, timeout: float, step: float = 0.1) -> float | None:
    """Seconds until ``condition()`` holds, or None after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(step)
    return None
