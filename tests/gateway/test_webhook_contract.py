"""The shared bad-input table, run through the real gateway for every webhook adapter the registry builds.

The rows come from ``tests/channels/<name>/contract.py`` (see tests/support/webhook_contract.py);
this module holds no per-channel rows.
"""

from __future__ import annotations

import io
import logging
import time
import typing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine, inspect, text

from channels.registry import build_adapters
from config.logging import configure_logging
from config.settings import PROVIDER_VARIABLES, Settings
from gateway.app import create_app
from tests.conftest import base_settings
from tests.support.city import shipped_texts
from tests.support.fake_fcm import FakeFcm
from tests.support.raw_http import exchange, request_bytes
from tests.support.webhook_contract import (
    MAX_BODY_BYTES,
    PUBLIC_BASE_URL,
    Case,
    WebhookContract,
    WebhookRequest,
    cases,
    load_contracts,
)
from workers.runtime import Runtime
from workers.setup import build_runtime

CONTRACTS = load_contracts()
CASES = [case for contract in CONTRACTS.values() for case in cases(contract)]


def _filler(name: str) -> object:
    """A stand-in value for a provider setting no contract gives (switches the provider on, unused)."""
    kinds = typing.get_args(Settings.model_fields[name].annotation) or (Settings.model_fields[name].annotation,)
    return 2525 if int in kinds else f"contract-filler-{name}"


@pytest.fixture(scope="module")
def fcm_credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service-account file FCM's adapter can load (its key is never used: nothing is pushed)."""
    return FakeFcm("contract-fcm").write_service_account(tmp_path_factory.mktemp("fcm") / "service-account.json")


def all_providers_settings(tmp_path: Path, fcm_credentials: Path) -> Settings:
    """Settings with every provider of PROVIDER_VARIABLES switched on and every webhook enabled.

    Providers with a contract get its settings; the rest get stand-in values, so a new provider
    whose adapter serves a webhook is built here and, without a contract, fails the check below.
    """
    values: dict[str, object] = {}
    for required, _optional in PROVIDER_VARIABLES.values():
        values.update({var.lower(): _filler(var.lower()) for var in required})
    values["fcm_credentials_file"] = str(fcm_credentials)
    values.update({name: True for name in Settings.model_fields if name.endswith("_webhook_enabled")})
    for contract in CONTRACTS.values():
        values.update(contract.settings)
    return base_settings(tmp_path, public_base_url=PUBLIC_BASE_URL, max_body_bytes=MAX_BODY_BYTES, **values)


def test_every_webhook_adapter_has_a_contract(tmp_path: Path, fcm_credentials: Path) -> None:
    """Every webhook adapter the registry builds has tests/channels/<name>/contract.py; no contract is stale."""
    adapters = build_adapters(all_providers_settings(tmp_path, fcm_credentials), texts=shipped_texts())
    webhooks = set(adapters.webhooks)
    missing = sorted(webhooks - set(CONTRACTS))
    assert not missing, f"webhook adapters without tests/channels/<name>/contract.py: {missing}"
    assert sorted(set(CONTRACTS) - webhooks) == [], "contracts for adapters that serve no webhook"
    assert {"kannel", "twilio", "android_sms", "telegram", "x"} <= webhooks


def test_every_contract_makes_the_whole_table() -> None:
    """Each contract yields every kind of row: valid, bad signatures, replay, oversized, malformed, content type."""
    kinds = {"valid", "missing signature", "wrong signature", "oversized body", "wrong content type"}
    for name, contract in CONTRACTS.items():
        rows = {case.name for case in cases(contract)}
        assert kinds <= rows, name
        assert any(row.startswith("replay: ") for row in rows), f"{name}: say what a replay is"
        assert any(row.startswith("bad bytes in ") for row in rows), f"{name}: sign() must add a credential"
        assert any(row.startswith("malformed: ") for row in rows), name
        assert contract.secrets and all(contract.settings.get(s) for s in contract.secrets), name


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the production logging pipeline (config/logging.py) writes, at DEBUG, in a buffer."""
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("DEBUG", "json")
    # Loggers cached now would keep this pipeline after the test; production caches, tests must not.
    structlog.configure(cache_logger_on_first_use=False)
    stream = io.StringIO()
    typing.cast(logging.StreamHandler[Any], root.handlers[0]).setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)


@pytest_asyncio.fixture
async def gateway(
    tmp_path: Path, fcm_credentials: Path
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Runtime]]:
    """The gateway with every provider on, on a fresh SQLite store, without workers."""
    runtime = build_runtime(all_providers_settings(tmp_path, fcm_credentials))
    server = TestServer(create_app(runtime.settings, runtime))
    # As `intake serve` runs it (gateway/embedded.py): no access log, whose request lines would
    # hold query strings.
    await server.start_server(access_log=None)
    try:
        async with TestClient(server) as client:
            yield client, runtime
    finally:
        runtime.close()


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table the migrations made (whatever tables they are)."""
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.connect() as conn:
        return {table: int(conn.scalar(text(f'SELECT count(*) FROM "{table}"')) or 0) for table in tables}


async def send(client: TestClient[web.Request, web.Application], request: WebhookRequest) -> tuple[int, str]:
    """Send ``request`` byte for byte (target as written, header bytes that are not UTF-8 too); status and body."""
    server = client.server
    assert server.port is not None
    raw = request_bytes(request.method, request.target, request.headers.items(), request.body)
    answer = await exchange(server.host, server.port, raw)
    return answer.status, answer.text


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_webhook_contract(case: Case, gateway: tuple[Any, Runtime], captured_logs: io.StringIO) -> None:
    """One row of the shared table: the answer, nothing stored unless valid, no secret in answers or logs."""
    client, runtime = gateway
    contract: WebhookContract = CONTRACTS[case.adapter]
    now = time.time()
    before = row_counts(runtime.engine)
    answers = []
    for step in case.steps:
        status, body = await send(client, step.build(now))
        answers.append(body)
        assert status == step.status, f"{case.id}: {status} {body!r}"
        after = row_counts(runtime.engine)
        if step.stores:
            assert sum(after.values()) > sum(before.values()), f"{case.id}: the valid request stored nothing"
        else:
            assert after == before, f"{case.id}: a refused or repeated request changed {_changed(before, after)}"
        if status >= 400:
            assert body.strip(), f"{case.id}: the answer must say why"
        before = after
    logs = captured_logs.getvalue()
    if any(step.status in (400, 401, 415) for step in case.steps):
        # Proves the capture works: the refusal itself is logged, with the provider's name.
        assert "webhook_rejected" in logs and f'"provider": "{case.adapter}"' in logs, logs
    for name, secret in contract.secret_values().items():
        assert secret not in logs, f"{case.id}: {name} appears in the logs"
        assert all(secret not in answer for answer in answers), f"{case.id}: {name} appears in an answer"


def _changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {t: (before.get(t, 0), n) for t, n in after.items() if before.get(t, 0) != n}


# (Raw bytes that are not UTF-8 in a URL never reach us: aiohttp's parser answers 400 itself.)
@pytest.mark.parametrize("token", ["%FF%FE", "%ED%A0%80", "%00"], ids=["ff-fe", "surrogate", "nul"])
async def test_whatsapp_handshake_with_bad_bytes_in_the_verify_token_is_refused(
    token: str, gateway: tuple[Any, Runtime]
) -> None:
    """Meta's GET handshake with bad bytes in hub.verify_token: 403, no challenge echoed, nothing stored."""
    client, runtime = gateway
    before = row_counts(runtime.engine)
    target = f"/channels/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=4242"
    status, body = await send(client, WebhookRequest("GET", target, {}, b""))
    assert status == 403, body
    assert "4242" not in body
    assert row_counts(runtime.engine) == before
