"""Per-address limits: ticket look-ups and device registration answer 429 with Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from pydantic import ValidationError

from config.settings import Settings
from gateway.app import create_app
from gateway.client_address import client_address, counted_as
from gateway.rate_limits import LOOKUP, AddressLimiter
from normalizer.envelope import Intake, ReplyRoute
from normalizer.normalize import build_envelope
from tests.conftest import base_settings
from workers.sender_counter import SenderCounter
from workers.setup import build_runtime

UNKNOWN_TICKET = "BGR-2222222"  # well-formed, never issued: a guesser's look-up
PROXY_HEADERS = "X-Forwarded-For"


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    """The web app over real HTTP on loopback (the test client's address is 127.0.0.1)."""
    runtime = build_runtime(settings)
    try:
        async with TestClient(TestServer(create_app(settings, runtime))) as client:
            yield client
    finally:
        runtime.close()


def limited_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "rate_limits_enabled": True,
        "lookup_rate_limit": "3/minute;50/hour",
        "device_registration_rate_limit": "2/minute",
    }
    values.update(overrides)
    return base_settings(tmp_path, **values)


@pytest.mark.asyncio
async def test_tracking_page_answers_429_with_retry_after_past_the_limit(tmp_path: Path) -> None:
    """The fourth look-up in a minute gets a 429 page in the citizen's language with Retry-After."""
    async with gateway(limited_settings(tmp_path)) as client:
        for _ in range(3):
            resp = await client.get(f"/lacak/{UNKNOWN_TICKET}")
            assert resp.status == 404
        resp = await client.get(f"/lacak/{UNKNOWN_TICKET}?lang=en")
        page = await resp.text()
        assert resp.status == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        assert "Too many look-ups from your internet address" in page and "try again in 1 min." in page


@pytest.mark.asyncio
async def test_status_api_shares_the_look_up_limit_and_answers_json(tmp_path: Path) -> None:
    """The public status API counts with the tracking page; its 429 is the API's JSON error shape."""
    async with gateway(limited_settings(tmp_path)) as client:
        for _ in range(2):
            assert (await client.get(f"/lacak/{UNKNOWN_TICKET}")).status == 404
        assert (await client.get(f"/api/v1/complaints/{UNKNOWN_TICKET}")).status == 404
        resp = await client.get(f"/api/v1/complaints/{UNKNOWN_TICKET}")
        assert resp.status == 429 and resp.headers["Retry-After"].isdigit()
        body = await resp.json()
        assert body["error"] == "too_many_requests" and "try again in" in body["detail"]


@pytest.mark.asyncio
async def test_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(tmp_path: Path) -> None:
    """A client that writes a new X-Forwarded-For each time is still counted by its own address."""
    async with gateway(limited_settings(tmp_path)) as client:
        statuses = [
            (await client.get(f"/lacak/{UNKNOWN_TICKET}", headers={PROXY_HEADERS: f"198.51.100.{i}"})).status
            for i in range(5)
        ]
        assert statuses == [404, 404, 404, 429, 429]


@pytest.mark.asyncio
async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(tmp_path: Path) -> None:
    """Through our proxy (TRUSTED_PROXIES), clients are told apart by X-Forwarded-For: one over its
    limit does not stop another, and what the client itself wrote left of the proxy's entry is ignored."""
    settings = limited_settings(tmp_path, trusted_proxies="127.0.0.0/8")
    async with gateway(settings) as client:

        def via_proxy(chain: str) -> Callable[[], Any]:
            return lambda: client.get(f"/lacak/{UNKNOWN_TICKET}", headers={PROXY_HEADERS: chain})

        heavy = [(await via_proxy(f"10.9.9.{i}, 203.0.113.7")()).status for i in range(4)]
        assert heavy == [404, 404, 404, 429]  # forged left-hand entries change nothing
        assert (await via_proxy("203.0.113.8")()).status == 404  # another citizen is served


@pytest.mark.asyncio
async def test_device_registration_is_limited_per_address(tmp_path: Path) -> None:
    """Registrations past DEVICE_REGISTRATION_RATE_LIMIT get 429 and register nothing."""
    async with gateway(limited_settings(tmp_path)) as client:
        for _ in range(2):
            resp = await client.post("/api/v1/devices", json={"platform": "android"})
            assert resp.status == 201, await resp.text()
        resp = await client.post("/api/v1/devices", json={"platform": "android"})
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
        assert (await resp.json())["error"] == "too_many_requests"


@pytest.mark.asyncio
async def test_limits_count_in_redis_across_gateway_processes(
    tmp_path: Path, pg_url: str, redis_namespace: Any
) -> None:
    """With REDIS_URL, two gateways count one address together (as the distributed web processes do)."""
    redis_url, namespace = redis_namespace
    common = {"database_url": pg_url, "redis_url": redis_url, "redis_namespace": namespace}
    async with (
        gateway(limited_settings(tmp_path / "a", **common)) as first,
        gateway(limited_settings(tmp_path / "b", **common)) as second,
    ):
        statuses = [(await c.get(f"/lacak/{UNKNOWN_TICKET}")).status for c in (first, second, first, second)]
        assert statuses == [404, 404, 404, 429]


@pytest.mark.asyncio
async def test_no_limit_when_rate_limits_are_disabled(tmp_path: Path) -> None:
    """RATE_LIMITS_ENABLED=false (load tests) lets every look-up through."""
    async with gateway(limited_settings(tmp_path, rate_limits_enabled=False)) as client:
        for _ in range(6):
            assert (await client.get(f"/lacak/{UNKNOWN_TICKET}")).status == 404


def test_bad_limit_or_proxy_settings_stop_start_up(tmp_path: Path) -> None:
    """A limit or proxy that cannot be read is a start-up error naming the value."""
    with pytest.raises(ValidationError, match="is not a rate limit"):
        base_settings(tmp_path, lookup_rate_limit="lots")
    with pytest.raises(ValidationError, match="is not an IP address or network"):
        base_settings(tmp_path, trusted_proxies="10.0.0.0/8, proxy.local")


@pytest.mark.asyncio
async def test_openapi_documents_429_where_the_limits_apply(tmp_path: Path) -> None:
    """The app API's document lists 429 with Retry-After on every limited operation, and only there."""
    async with gateway(limited_settings(tmp_path)) as client:
        doc = await (await client.get("/api/v1/openapi.json")).json()
    with_429 = {
        op["operationId"]
        for path in doc["paths"].values()
        for op in path.values()
        if "429" in op["responses"] and "Retry-After" in op["responses"]["429"]["headers"]
    }
    assert with_429 == {"registerDevice", "publicStatus", "listMyComplaints", "getMyComplaint", "rateAnswer"}


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        ("192.0.2.1", "203.0.113.5", "", "192.0.2.1"),  # no proxies configured: the header is ignored
        ("192.0.2.1", "203.0.113.5", "10.0.0.0/8", "192.0.2.1"),  # peer is not our proxy
        ("10.0.0.2", "203.0.113.5", "10.0.0.0/8", "203.0.113.5"),
        ("10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.3", "10.0.0.0/8", "203.0.113.5"),  # two proxies
        ("10.0.0.2", "not-an-ip, 10.0.0.3", "10.0.0.0/8", "10.0.0.3"),  # garbage stops the walk
        ("10.0.0.2", None, "10.0.0.0/8", "10.0.0.2"),
        ("::ffff:10.0.0.2", "2001:db8::7", "10.0.0.0/8", "2001:db8::7"),  # dual-stack socket
    ],
)
def test_client_address_reads_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded: str | None, proxies: str, expected: str, tmp_path: Path
) -> None:
    """The client address is the rightmost X-Forwarded-For entry that is not one of our proxies."""
    headers = {PROXY_HEADERS: forwarded} if forwarded else {}
    transport = mock.Mock()
    transport.get_extra_info.return_value = (peer, 40000)
    request = make_mocked_request("GET", "/lacak", headers=headers, transport=transport)
    networks = base_settings(tmp_path, trusted_proxies=proxies).trusted_proxy_networks
    assert client_address(request, networks) == expected


def test_an_ipv6_client_is_counted_by_its_64_network() -> None:
    """Addresses of one IPv6 /64 (one subscriber) share a counter; IPv4 and v4-mapped stay as they are."""
    assert counted_as("2001:db8:1:2::1") == counted_as("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert counted_as("2001:db8:1:3::1") != counted_as("2001:db8:1:2::1")
    assert counted_as("203.0.113.5") == "203.0.113.5" and counted_as("unknown") == "unknown"


@pytest.mark.asyncio
async def test_an_unreachable_counter_store_lets_requests_through(tmp_path: Path) -> None:
    """With Redis down the look-up limit counts nothing and refuses nobody, within the store's time-out."""
    dead = limited_settings(tmp_path, redis_url="redis://127.0.0.1:9/0", lookup_rate_limit="1/minute")
    limiter = AddressLimiter.from_settings(dead)
    started = asyncio.get_running_loop().time()
    assert [await limiter.retry_after(LOOKUP, "203.0.113.5") for _ in range(3)] == [None, None, None]
    assert asyncio.get_running_loop().time() - started < 5
    await limiter.close()
    counter = SenderCounter(limited_settings(tmp_path, redis_url="redis://127.0.0.1:9/0", sender_rate_limit="1/minute"))
    envelope = build_envelope(
        Intake(
            channel="sms",
            provider="kannel",
            external_id="x1",
            sender="+6281200000001",
            text="halo",
            reply_route=ReplyRoute(channel="sms", address="+6281200000001", provider="kannel"),
        )
    )
    assert [counter.over_limit(envelope) for _ in range(3)] == [False, False, False]
