"""HTTP/1.1 requests written byte for byte, for hostile-input tests.

HTTP clients refuse to send what an attacker sends (bytes that are not UTF-8 in a header value, a
query with raw control bytes), so these tests write the request themselves. Header values and
targets are ``str``; a byte that is not UTF-8 is written as its ``surrogateescape`` character
(``"\\udcff"`` is the byte 0xFF), which is also how aiohttp hands such bytes to our code.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from dataclasses import dataclass


def bad_bytes(text: str) -> str:
    """``text`` behind two bytes that are not UTF-8 (0xFF 0xFE), as a surrogate-escaped string."""
    return "\udcff\udcfe" + text


def _encode(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def request_bytes(method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes = b"") -> bytes:
    """One request that closes its connection; Content-Length is set from ``body`` for every method but GET."""
    lines = [_encode(f"{method} {target} HTTP/1.1"), b"Host: 127.0.0.1", b"Connection: close"]
    lines += [_encode(name) + b": " + _encode(value) for name, value in headers if name.lower() != "content-length"]
    if method != "GET" or body:
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@dataclass(frozen=True)
class RawAnswer:
    """What came back: ``status`` 0 when the server closed or timed out without a status line."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as text (bytes that are not UTF-8 replaced)."""
        return self.body.decode("utf-8", errors="replace")


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out


def parse_answer(data: bytes) -> RawAnswer:
    """Status, headers and (de-chunked) body of a complete HTTP/1.1 answer."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return RawAnswer(0, {}, data)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return RawAnswer(int(parts[1]), headers, body)


async def exchange(host: str, port: int, request: bytes, timeout: float = 15.0) -> RawAnswer:
    """Send ``request`` and read the answer until the server closes the connection."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        try:
            data = await asyncio.wait_for(reader.read(-1), timeout)
        except (TimeoutError, ConnectionResetError):
            return RawAnswer(0, {}, b"")
    finally:
        writer.close()
    return parse_answer(data)


def exchange_sync(port: int, request: bytes, timeout: float = 15.0, host: str = "127.0.0.1") -> RawAnswer:
    """:func:`exchange` for synchronous tests (a server running in another thread)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            return RawAnswer(0, {}, b"")
    return parse_answer(b"".join(chunks))
