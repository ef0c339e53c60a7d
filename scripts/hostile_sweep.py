"""A quick hostile-input sweep of every route the app's router lists (issue 12, part "hostile").

Starts the whole system in this process on loopback (SQLite, in-process queue, every webhook
channel switched on with the test contracts' settings), then sends raw HTTP requests: bad bytes
(non-UTF-8, a UTF-8-encoded surrogate, over-long values) in every header we or a provider read,
and for each POST/PUT route every odd Content-Type and Content-Encoding. It prints, per route,
how many requests were tried and how many were answered 5xx (or not answered at all), and exits
non-zero when any were.

Run from the repository root: ``.venv/bin/python scripts/hostile_sweep.py``.
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import Settings  # noqa: E402
from gateway.embedded import start_system  # noqa: E402
from tests.support.webhook_contract import load_contracts  # noqa: E402

BAD_VALUES: tuple[bytes, ...] = (
    b"\xff\xfe",
    b"Bearer \xff\xfe\xfd",
    b"Bearer \xed\xa0\x80",  # a lone surrogate, encoded as UTF-8 would
    b"\xc3\x28abc",
    b"x" * 7000,
    b"Bearer " + "é".encode(),
)
HEADERS: tuple[bytes, ...] = (
    b"Authorization",
    b"Cookie",
    b"Content-Type",
    b"Content-Encoding",
    b"Accept-Language",
    b"Origin",
    b"Referer",
    b"Sec-Fetch-Site",
    b"X-Signature",
    b"X-Timestamp",
    b"X-Twilio-Signature",
    b"X-Hub-Signature-256",
    b"X-Telegram-Bot-Api-Secret-Token",
    b"X-Kannel-From",
    b"X-Forwarded-For",
    b"If-None-Match",
)
CONTENT_TYPES: tuple[bytes | None, ...] = (
    None,
    b"text/plain",
    b"multipart/form-data",
    b"multipart/form-data; boundary=zz",
    b"multipart/form-data; boundary=\xff",
    b"application/json",
    b"application/json; charset=\xff",
    b"application/x-www-form-urlencoded",
    b"application/x-www-form-urlencoded; charset=utf-16",
    b"image/png",
)
BODIES: tuple[bytes, ...] = (
    b"",
    b"\xff\xfe\x00garbage",
    b"--zz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--zz--",
    b"a=%FF&b",
)
QUERIES: tuple[bytes, ...] = (
    b"?lang=%FF",
    b"?tiket=%00%ED%A0%80",
    b"?token=%FF&text=%FF%FE&from=%00&id=%ED%A0%80",
    b"?page=99999999999999999999",
    b"?lang=\xff",
    b"/%FF",
    b"?" + b"a=1&" * 3000,
)
ENCODINGS: tuple[bytes, ...] = (b"gzip", b"deflate", b"br", b"zstd", b"identity, gzip", b"x-unknown")


def fill(path: str) -> str:
    """A concrete URL path for a route pattern (``{ticket}`` -> a well-formed ticket)."""
    return re.sub(r"\{[^}]+\}", "BGR-2345678", path)


def send(port: int, request: bytes, timeout: float = 15.0) -> int:
    """Send raw bytes; return the status code, or 0 when nothing came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            return 0
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(match.group(1)) if match else 0


def request_bytes(method: str, path: str | bytes, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    """One HTTP/1.1 request that closes its connection (``path`` as bytes may hold any byte)."""
    target = path if isinstance(path, bytes) else path.encode()
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def sweep_route(port: int, method: str, path: str) -> tuple[int, list[str]]:
    """Every hostile request for one route; returns (tried, descriptions of 5xx/no answers)."""
    tried, bad = 0, []
    url = fill(path) + ("?token=kannel-secret" if "kannel" in path else "")
    for name in HEADERS:
        for value in BAD_VALUES:
            status = send(port, request_bytes(method, url, [(name, value)], b"x=1" if method != "GET" else b""))
            tried += 1
            if status == 0 or status >= 500:
                bad.append(f"{status} header {name.decode()}={value[:20]!r}")
    for query in QUERIES:
        target = fill(path).encode() + query
        status = send(port, request_bytes(method, target, [], b"x=1" if method != "GET" else b""))
        tried += 1
        if status == 0 or status >= 500:
            bad.append(f"{status} query {query[:30]!r}")
    if method in ("POST", "PUT"):
        for ctype in CONTENT_TYPES:
            for body in BODIES:
                for encoding in (None, *ENCODINGS):
                    headers = [(b"Content-Type", ctype)] if ctype else []
                    if encoding:
                        headers.append((b"Content-Encoding", encoding))
                    status = send(port, request_bytes(method, url, headers, body))
                    tried += 1
                    if status == 0 or status >= 500:
                        bad.append(f"{status} type={ctype!r} enc={encoding!r} body={body[:12]!r}")
    return tried, bad


def settings_for(data_dir: Path) -> Settings:
    """Every webhook channel on (the contracts' settings), /ops/status on."""
    values: dict[str, object] = {}
    for contract in load_contracts().values():
        values.update(contract.settings)
    values.update(data_dir=data_dir, host="127.0.0.1", port=0, ops_token="ops-sweep-token")
    values.update(rate_limits_enabled=False)  # part-abuse: every request of the sweep is one client's
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        system = await start_system(settings_for(Path(tmp)), with_workers=False, with_pollers=False)
        try:
            port = int(system.urls[0].rsplit(":", 1)[1])
            routes = sorted(
                {
                    (route.method, route.resource.canonical)
                    for route in system.runner.app.router.routes()
                    if route.method in ("GET", "POST", "PUT")
                    and route.resource is not None
                    and "static" not in route.resource.canonical
                }
            )
            totals: Counter[str] = Counter()
            failures = 0
            for method, path in routes:
                tried, bad = await asyncio.to_thread(sweep_route, port, method, path)
                totals[f"{method} {path}"] = tried
                failures += len(bad)
                print(f"{method:5} {path:45} {tried:4} tried, {len(bad):3} 5xx/no answer")
                for line in bad[:5]:
                    print("      ", line)
            print(f"hostile sweep: {sum(totals.values())} requests on {len(routes)} routes, {failures} 5xx/no answer")
            return 1 if failures else 0
        finally:
            await system.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
