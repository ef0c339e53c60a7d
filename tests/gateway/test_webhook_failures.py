"""A webhook that fails unexpectedly keeps the request, logs where it failed (no personal data) and answers 5xx."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import structlog
from sqlalchemy import select

from channels.base import RawRequest
from channels.sms.kannel import KannelSms
from channels.storage import attachment_path
from complaints.models import InboxMessage
from config.logging import configure_logging
from gateway.embedded import start_system
from gateway.unreadable import request_record
from tests.conftest import base_settings
from tests.support.system import free_port

NIK = "3271014505900002"
TOKEN = "kannel-secret-token"


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Our redacting logging set-up, writing into a buffer; pytest's handlers put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("INFO", "console")
    out = io.StringIO()
    for handler in root.handlers:
        handler.stream = out  # type: ignore[attr-defined]
    yield out
    root.handlers[:], level = saved
    root.setLevel(level)
    structlog.reset_defaults()


async def test_unexpected_parse_failure_is_kept_logged_and_answered_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_text: io.StringIO
) -> None:
    """A bug in parse answers 500 (the provider retries), keeps the request once, logs a traceback without PII."""

    # Like a real bug's message, it quotes what the citizen sent (not visible in the source line).
    message = f"cannot read NIK {NIK} of Siti Aminah, Jl. Pajajaran 5"

    def broken_parse(self: KannelSms, request: RawRequest) -> object:
        raise RuntimeError(message)

    monkeypatch.setattr(KannelSms, "parse", broken_parse)
    port = free_port()
    settings = base_settings(
        tmp_path,
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        kannel_sendsms_url="http://127.0.0.1:9/cgi-bin/sendsms",
        kannel_username="u",
        kannel_password="p",
        kannel_inbound_token=TOKEN,
    )
    system = await start_system(settings, with_workers=False, with_pollers=False)
    text = f"LAPOR#{NIK}#Siti Aminah#Jl. Pajajaran 5#PJU mati"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(2):  # the provider's retry finds the same kept request
                async with http.get(
                    f"{system.urls[0]}/channels/sms/kannel",
                    params={"token": TOKEN, "from": "+6281234567890", "text": text},
                ) as response:
                    assert response.status == 500
        with system.runtime.read_sf() as session:
            [row] = session.scalars(select(InboxMessage)).all()
        assert (row.state, row.kind, row.provider) == ("unreadable", "unreadable", "kannel")
        record = json.loads(attachment_path(settings.data_dir / "webhooks", row.envelope["raw_sha256"]).read_bytes())
        assert record["method"] == "GET" and "LAPOR%23" in record["query_string"]
        assert TOKEN not in record["query_string"] and "token=REMOVED" in record["query_string"]
        assert base64.b64decode(record["body_base64"]) == b""
    finally:
        await system.stop()
    logged = log_text.getvalue()
    assert "webhook_unreadable" in logged and "broken_parse" in logged and "RuntimeError" in logged
    for personal in (NIK, "Siti", "Pajajaran", "6281234567890"):
        assert personal not in logged


def test_the_kept_record_blanks_credentials_only() -> None:
    """Credential-like query values are removed; the rest of the query stays byte for byte."""
    raw = RawRequest(
        method="POST",
        path="/channels/x",
        query={},
        headers={"Content-Type": "application/json", "X-Signature": "abc"},
        body=b'{"a": 1}',
        query_string="api_key=k1&text=%C0%AF&Signature=s&from=%2B62",
    )
    record = json.loads(request_record(raw))
    assert record["query_string"] == "api_key=REMOVED&text=%C0%AF&Signature=REMOVED&from=%2B62"
    assert record["content_type"] == "application/json" and "abc" not in json.dumps(record)


async def test_unexpected_verify_failure_answers_500_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in verify answers 500 so the provider retries, but an unverified body is never stored."""

    def broken_verify(self: KannelSms, request: RawRequest) -> None:
        raise RuntimeError("signature library broke")

    monkeypatch.setattr(KannelSms, "verify", broken_verify)
    port = free_port()
    settings = base_settings(
        tmp_path,
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        kannel_sendsms_url="http://127.0.0.1:9/cgi-bin/sendsms",
        kannel_username="u",
        kannel_password="p",
        kannel_inbound_token=TOKEN,
    )
    system = await start_system(settings, with_workers=False, with_pollers=False)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{system.urls[0]}/channels/sms/kannel",
                params={"token": TOKEN, "from": "+6281234567890", "text": "lampu mati"},
            ) as response:
                assert response.status == 500
        with system.runtime.read_sf() as session:
            assert session.scalars(select(InboxMessage)).all() == []
        assert not (tmp_path / "var" / "webhooks").exists()
    finally:
        await system.stop()
