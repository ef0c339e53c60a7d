"""Hostile requests an attacker tried (issue 12): each is refused with a 4xx and a reason, never a 5xx
or a connection held open; over raw sockets so the bytes are exactly the attacker's."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.embedded import EmbeddedSystem, start_system
from tests.conftest import base_settings
from tests.support.webhook_contract import load_contracts

OPS_TOKEN = "ops-token-for-limits-tests"
READ_TIMEOUT = 1.0


def _settings(tmp_path: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {}
    for contract in load_contracts().values():
        values.update(contract.settings)  # every webhook on, with the contracts' secrets
    values.update(ops_token=OPS_TOKEN, request_read_timeout_seconds=READ_TIMEOUT)
    values.update(overrides)
    return base_settings(tmp_path, **values)


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[EmbeddedSystem]:
    """The gateway (no workers: nothing here may be accepted) with every webhook switched on."""
    running = await start_system(_settings(tmp_path), with_workers=False, with_pollers=False)
    yield running
    await running.stop()


def _port(system: EmbeddedSystem) -> int:
    return int(system.urls[0].rsplit(":", 1)[1])


def _exchange(port: int, data: bytes, *, wait: float = 15.0) -> tuple[int, bytes, bool]:
    """Send raw bytes; return (status, whole answer, whether the server closed the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        answer, closed = b"", False
        try:
            while chunk := sock.recv(65536):
                answer += chunk
            closed = True
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return (int(match.group(1)) if match else 0), answer, closed


async def exchange(port: int, data: bytes, *, wait: float = 15.0) -> tuple[int, bytes, bool]:
    return await asyncio.to_thread(_exchange, port, data, wait=wait)


def request(method: str, path: str, headers: list[tuple[bytes, bytes]] = (), body: bytes = b"") -> bytes:  # type: ignore[assignment]
    lines = [
        f"{method} {path} HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        b"Connection: close",
        *(n + b": " + v for n, v in headers),
    ]
    if method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.mark.parametrize("token", [b"\xff\xfe", b"\xed\xa0\x80", "é".encode()])
async def test_bad_bytes_in_a_bearer_token_are_401(system: EmbeddedSystem, token: bytes) -> None:
    """A bearer token with bytes that are not ASCII is a wrong token (401) on /ops/status and the app API."""
    for method, path in (("GET", "/ops/status"), ("GET", "/api/v1/devices/me"), ("PUT", "/api/v1/devices/me")):
        status, answer, _ = await exchange(
            _port(system), request(method, path, [(b"Authorization", b"Bearer " + token)])
        )
        assert status == 401, (path, answer[:300])


@pytest.mark.parametrize(
    ("path", "header"),
    [("/channels/telegram", b"X-Telegram-Bot-Api-Secret-Token"), ("/channels/whatsapp", b"X-Hub-Signature-256")],
)
async def test_bad_bytes_in_a_webhook_secret_are_401(system: EmbeddedSystem, path: str, header: bytes) -> None:
    """A provider secret header with bytes that are not UTF-8 is a wrong secret: 401, nothing stored."""
    headers = [(header, b"sha256=\xff\xfe"), (b"Content-Type", b"application/json")]
    status, answer, _ = await exchange(_port(system), request("POST", path, headers, b"{}"))
    assert status == 401, answer[:300]


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/channels/sms/kannel?token=x", b"application/x-www-form-urlencoded"),
        ("/channels/telegram", b"application/json"),
        ("/api/v1/devices", b"application/json"),
        ("/lapor", b"multipart/form-data; boundary=zz"),
    ],
)
@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
async def test_a_body_that_does_not_match_its_content_encoding_is_400(
    system: EmbeddedSystem, path: str, ctype: bytes, encoding: bytes
) -> None:
    """`Content-Encoding: gzip` on bytes that are not gzip is the sender's fault: 400 saying so (a webhook
    answers it before looking at any credential)."""
    headers = [(b"Content-Type", ctype), (b"Content-Encoding", encoding)]
    status, answer, _ = await exchange(_port(system), request("POST", path, headers, b"\xff\xfe not compressed"))
    assert status == 400, answer[:300]
    assert b"Content-Encoding" in answer


async def test_a_web_form_of_60000_empty_parts_is_refused(system: EmbeddedSystem) -> None:
    """A multipart body of 60,000 empty parts (3.8 MiB) is a 413 after MAX_FORM_FIELDS parts, not a busy server."""
    part = b"--zz\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n"
    body = part * 60_000 + b"--zz--\r\n"
    headers = [(b"Content-Type", b"multipart/form-data; boundary=zz")]
    status, answer, _ = await exchange(_port(system), request("POST", "/lapor", headers, body))
    assert status == 413, answer[:300]
    status, _, _ = await exchange(_port(system), request("GET", "/healthz"))
    assert status == 200


async def test_a_chunked_upload_over_the_size_limit_is_413(system: EmbeddedSystem) -> None:
    """A chunked body (no Content-Length) of many photo parts stops at the form's overall size limit: 413."""
    photo = b"--zz\r\nContent-Disposition: form-data; name=foto; filename=a.png\r\n\r\n" + b"\x89PNG" + b"x" * 500_000
    body = (photo + b"\r\n") * 16 + b"--zz--\r\n"  # 8 MB of photos, each under the 5 MiB photo limit
    chunks = b"".join(
        f"{len(body[i : i + 8192]):x}\r\n".encode() + body[i : i + 8192] + b"\r\n" for i in range(0, len(body), 8192)
    )
    head = (
        b"POST /lapor HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: multipart/form-data; boundary=zz\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    status, answer, _ = await exchange(_port(system), head + chunks + b"0\r\n\r\n")
    assert status == 413, answer[:300]


async def test_too_many_urlencoded_fields_are_refused(system: EmbeddedSystem) -> None:
    """A urlencoded form with more fields than MAX_FORM_FIELDS is a 413."""
    body = b"&".join(b"a=" for _ in range(5000))
    headers = [(b"Content-Type", b"application/x-www-form-urlencoded")]
    status, answer, _ = await exchange(_port(system), request("POST", "/lapor", headers, body))
    assert status == 413, answer[:300]


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/channels/telegram", "application/json"),
        ("/channels/sms/kannel?token=wrong", "application/x-www-form-urlencoded"),
        ("/lapor", "multipart/form-data; boundary=zz"),
        ("/api/v1/devices", "application/json"),
    ],
)
async def test_a_client_that_stops_sending_its_body_is_cut_off(system: EmbeddedSystem, path: str, ctype: str) -> None:
    """Headers and `Content-Length: 1000` but 10 bytes of body: answered 408 and disconnected, even with a
    wrong token — the handler is freed instead of waiting for the rest forever."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\nContent-Length: 1000\r\n\r\n".encode()
    status, answer, closed = await exchange(_port(system), head + b"0123456789", wait=READ_TIMEOUT * 20)
    assert status == 408, answer[:300]
    assert b"timeout" in answer.lower()
    assert closed


async def test_a_client_that_never_finishes_its_headers_is_cut_off(system: EmbeddedSystem) -> None:
    """Half a request line and a header, then silence: the server closes the connection."""
    _, answer, closed = await exchange(
        _port(system), b"POST /channels/telegram HTTP/1.1\r\nHost: 127.", wait=READ_TIMEOUT * 20
    )
    assert closed, answer


async def test_an_oversized_header_is_a_4xx(system: EmbeddedSystem) -> None:
    """A header longer than MAX_HEADER_BYTES is refused by the parser with a 4xx, not served."""
    status, _, _ = await exchange(_port(system), request("GET", "/healthz", [(b"X-Big", b"x" * 20_000)]))
    assert 400 <= status < 500


@pytest.mark.parametrize("encoding", [b"br", b"zstd", b"x-unknown"])
async def test_an_encoding_the_server_cannot_decode_is_400_and_logs_no_error(
    system: EmbeddedSystem, encoding: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A body in an encoding we cannot (or need not) decode is the client's mistake: 400, no ERROR traceback."""
    with caplog.at_level(logging.INFO):
        headers = [(b"Content-Type", b"application/json"), (b"Content-Encoding", encoding)]
        status, answer, _ = await exchange(_port(system), request("POST", "/channels/telegram", headers, b"{}"))
    assert 400 <= status < 500, answer[:300]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
