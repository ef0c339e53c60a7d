"""Accept-path benchmark: wrk (a separate process) drives the Kannel webhook.

Runs two servers one after the other under the same load and prints them side by side:
  baseline  parse + build envelope, no storage (bench/baseline_app.py)
  serve     `intake serve`: durable inbox row by group commit + queue + in-process workers
  web+pg    `intake gateway` on PostgreSQL + Redis: the accept path alone, as in production
Reports requests/s, p50/p99 latency, the server's peak memory (VmHWM) and, for the gateway,
how many complaints were stored. Usage: python bench/kannel_load.py [--seconds 10] [--connections 64]
Needs Debian's wrk (apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class Sendsms(threading.Thread):
    """A healthy Kannel sendsms stand-in (answers 202 at once), so replies do not fail."""

    def __init__(self) -> None:
        super().__init__(daemon=True)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                body = b"0: Accepted for delivery"
                self.send_response(202)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/sendsms"

    def run(self) -> None:
        self.server.serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def run_wrk(port: int, seconds: int, connections: int, run: str) -> dict[str, float]:
    env = {**os.environ, "KANNEL_INBOUND_TOKEN": "bench-token", "BENCH_RUN": run}
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(HERE / "kannel_mo.lua"),
            f"http://127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "requests": total,
        "non2xx": int(errors.group(1)) if errors else 0,
        "p50": pct("50"),
        "p99": pct("99"),
    }


def bench_server(
    name: str, argv: list[str], env: dict[str, str], port: int, args: argparse.Namespace
) -> dict[str, float]:
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/channels/sms/kannel?token=bench-token&from=1&text=warmup&id=warmup-{name}")
        run_wrk(port, 2, args.connections, f"warm-{name}")  # warm-up: caches, connections, JIT-free but fair
        result = run_wrk(port, args.seconds, args.connections, f"{name}-{time.time_ns()}")
        result["rss"] = peak_rss_mib(proc.pid)
        return result
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="also bench the web process on PostgreSQL + Redis ('' to skip)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench needs wrk: apt-get install -y wrk")
    data_dir = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    sendsms = Sendsms()
    sendsms.start()
    results: dict[str, dict[str, float]] = {}

    port = free_port()
    results["baseline"] = bench_server(
        "baseline", [sys.executable, str(HERE / "baseline_app.py"), str(port)], dict(os.environ), port, args
    )
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "KANNEL_SENDSMS_URL": sendsms.url,
        "KANNEL_USERNAME": "u",
        "KANNEL_PASSWORD": "p",
        "KANNEL_INBOUND_TOKEN": "bench-token",
        # Every bench SMS comes from a handful of numbers: the per-sender limits would group them.
        "RATE_LIMITS_ENABLED": "false",
    }
    results["serve"] = bench_server("serve", [sys.executable, "-m", "gateway.cli", "serve"], env, port, args)
    with sqlite3.connect(data_dir / "intake.sqlite3") as db:
        stored = db.execute("SELECT count(*) FROM inbox").fetchone()[0]
    shutil.rmtree(data_dir, ignore_errors=True)
    if args.pg_admin_url and args.redis_url:
        # The production shape: the Procfile's web process alone, PostgreSQL + Redis; the
        # queue fills up (no workers), which is exactly the accept path's own cost.
        import psycopg

        name = f"intake_bench_{os.getpid()}"
        with psycopg.connect(args.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base_url = args.pg_admin_url.rsplit("/", 1)[0]
        port = free_port()
        web_env = {
            **env,
            "PORT": str(port),
            "DATABASE_URL": f"{base_url}/{name}",
            "REDIS_URL": args.redis_url,
            "REDIS_NAMESPACE": f"intake-bench-{os.getpid()}",
        }
        try:
            results["web+pg"] = bench_server(
                "web", [sys.executable, "-m", "gateway.cli", "gateway"], web_env, port, args
            )
        finally:
            with psycopg.connect(args.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            import redis

            client = redis.Redis.from_url(args.redis_url)
            keys = list(client.scan_iter(f"intake-bench-{os.getpid()}*"))
            if keys:
                client.delete(*keys)

    base = results["baseline"]["rps"]
    print(f"\nKannel accept path, wrk -t2 -c{args.connections} -d{args.seconds}s on {os.cpu_count()} cores")
    print(f"{'server':<10}{'req/s':>10}{'vs base':>9}{'p50 ms':>9}{'p99 ms':>9}{'peak MiB':>10}{'non-2xx':>9}")
    for name, r in results.items():
        print(
            f"{name:<10}{r['rps']:>10.0f}{r['rps'] / base:>9.2f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
            f"{r['rss']:>10.1f}{r['non2xx']:>9}"
        )
    print(f"serve stored {stored} inbox rows (each request has its own id)")
    print("baseline: parse + envelope only; serve: embedded (SQLite, in-process queue, workers and replies in the")
    print("same process); web+pg: the Procfile's web process alone on PostgreSQL + Redis (no workers running)")


if __name__ == "__main__":
    main()
