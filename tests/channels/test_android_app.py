"""The Android app adapter: API payloads -> Intake (sans-I/O), replies -> FCM HTTP v1 pushes.

Pushes go to ``tests/support/fake_fcm.py``, which speaks FCM v1 and Google's OAuth2 token
endpoint; the error answers are the documented payloads in ``tests/channels/app/fixtures``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from channels.android_app import AndroidApp, AppDevice, FieldErrors, push_message
from channels.base import OutboundReply, SendError, SendResult
from channels.web_form import UploadedPhoto
from complaints.models import Device
from config.settings import ConfigurationError, Settings
from normalizer.envelope import utcnow
from tests.support.city import shipped_city
from tests.support.fake_fcm import FCM_SCOPE, TOKEN_AUDIENCE, FakeFcm
from tests.support.images import png
from tests.support.system import free_port, running_system
from workers.push_tokens import make_push_token_killer, make_push_token_lookup
from workers.setup import build_runtime

FIXTURES = Path(__file__).parent / "app" / "fixtures"
PROJECT = "kota-bogor-lapor"
DEVICE = "0123456789abcdef0123456789abcdef"
PUSH_TOKEN = "dXNlci1wdXNoLXRva2Vu:APA91bH-test-registration-token"
NIK = "3271014501900002"
FIELDS = {
    "text": "  Jalan berlubang di Jl. Pajajaran  ",
    "nik": NIK,
    "name": "Siti Aminah",
    "address": "Jl. Pajajaran No. 5, Baranangsiang",
    "phone": "0812-3456-7890",
}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def reply(text: str = "Pengaduan Anda sudah diteruskan ke Dinas PUPR.", **kw: Any) -> OutboundReply:
    values: dict[str, Any] = {
        "id": "r1",
        "channel": "app",
        "provider": "app",
        "address": DEVICE,
        "text": text,
        "ticket": "BGR-7KQ2XMP",
        "kind": "ack",
    }
    values.update(kw)
    return OutboundReply(**values)


class Tokens:
    """An in-memory push-token store standing in for the devices table."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {DEVICE: PUSH_TOKEN}
        self.killed: list[tuple[str, str]] = []

    async def lookup(self, device_id: str) -> str | None:
        return self.tokens.get(device_id)

    async def kill(self, device_id: str, token: str) -> None:
        self.killed.append((device_id, token))
        if self.tokens.get(device_id) == token:
            del self.tokens[device_id]


def fcm_settings(tmp_path: Path, fcm: FakeFcm, **overrides: Any) -> Settings:
    credentials = fcm.write_service_account(tmp_path / "service-account.json")
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "fcm_project_id": PROJECT,
        "fcm_credentials_file": str(credentials),
        "fcm_api_base": fcm.url,
        "send_timeout_seconds": 5,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest_asyncio.fixture
async def fcm() -> AsyncIterator[FakeFcm]:
    async with FakeFcm(PROJECT) as fake:
        yield fake


@pytest_asyncio.fixture
async def pusher(tmp_path: Path, fcm: FakeFcm) -> AsyncIterator[tuple[AndroidApp, Tokens]]:
    adapter = AndroidApp(fcm_settings(tmp_path, fcm))
    tokens = Tokens()
    adapter.push_token_lookup, adapter.push_token_killer = tokens.lookup, tokens.kill
    yield adapter, tokens
    await adapter.close()


# --------------------------------------------------------------------------- pushes


async def test_reply_is_pushed_in_the_documented_shape(pusher: tuple[AndroidApp, Tokens], fcm: FakeFcm) -> None:
    """A reply becomes one FCM v1 message to the device's token with the ticket in title and data."""
    adapter, _ = pusher
    result = await adapter.send(reply())
    assert result.provider_message_id and result.provider_message_id.startswith(f"projects/{PROJECT}/messages/")
    message = fcm.sent[0]["message"]
    documented = json.loads(fixture("send_request.json"))["message"]
    assert set(documented) <= set(message) and set(documented["notification"]) == set(message["notification"])
    assert message["token"] == PUSH_TOKEN
    assert message["notification"] == {
        "title": "Pengaduan BGR-7KQ2XMP",
        "body": "Pengaduan Anda sudah diteruskan ke Dinas PUPR.",
    }
    assert message["data"] == {"ticket": "BGR-7KQ2XMP", "kind": "ack", "reply_id": "r1"}
    assert message["android"] == {"priority": "high"}
    request = fcm.requests[0]
    assert request.path == f"/v1/projects/{PROJECT}/messages:send"
    assert request.headers["Authorization"].startswith("Bearer ya29.fake-")


async def test_access_token_comes_from_a_signed_service_account_grant_and_is_reused(
    pusher: tuple[AndroidApp, Tokens], fcm: FakeFcm
) -> None:
    """One JWT-bearer grant (signature, audience and firebase.messaging scope checked) serves many pushes."""
    adapter, _ = pusher
    await asyncio.gather(*(adapter.send(reply(id=f"r{i}")) for i in range(5)))
    assert len(fcm.sent) == 5 and len(fcm.token_grants) == 1
    claims = fcm.token_grants[0]
    assert claims["aud"] == TOKEN_AUDIENCE and claims["iss"].endswith(".iam.gserviceaccount.com")
    assert FCM_SCOPE in claims["scope"].split()


async def test_revoked_access_token_is_refreshed_once(pusher: tuple[AndroidApp, Tokens], fcm: FakeFcm) -> None:
    """A 401 from FCM makes the adapter mint a new access token and send again, once."""
    adapter, _ = pusher
    await adapter.send(reply())
    fcm.revoke_access_tokens()
    await adapter.send(reply(id="r2"))
    assert len(fcm.sent) == 2 and len(fcm.token_grants) == 2


async def test_long_replies_are_previewed_in_the_notification(pusher: tuple[AndroidApp, Tokens], fcm: FakeFcm) -> None:
    """A long answer is cut at a word boundary in the notification; the app reads the rest via the API."""
    adapter, _ = pusher
    await adapter.send(reply("Jawaban OPD: " + "perbaikan jalan dijadwalkan minggu depan. " * 30))
    body = fcm.sent[0]["message"]["notification"]["body"]
    assert len(body) <= 200 and body.endswith("…") and not body[:-1].endswith(" ")


async def test_documented_send_response_gives_the_message_name(pusher: tuple[AndroidApp, Tokens], fcm: FakeFcm) -> None:
    """The documented 200 answer's ``name`` becomes the provider message id."""
    adapter, _ = pusher
    fcm.respond_next(200, fixture("send_response.json"))
    result = await adapter.send(reply())
    assert result.provider_message_id == "projects/myproject-b5ae1/messages/0:1500415314455276%31bd1c9631bd1c96"


@pytest.mark.parametrize(
    ("name", "status", "retryable", "dead"),
    [
        ("error_unregistered.json", 404, False, True),
        ("error_invalid_token.json", 400, False, False),
        ("error_invalid_data_value.json", 400, False, False),
        ("error_sender_id_mismatch.json", 403, False, False),
        ("error_quota_exceeded.json", 429, True, False),
        ("error_unavailable.json", 503, True, False),
        ("error_internal.json", 500, True, False),
    ],
)
async def test_documented_fcm_errors_are_classified(
    pusher: tuple[AndroidApp, Tokens], fcm: FakeFcm, name: str, status: int, retryable: bool, dead: bool
) -> None:
    """Each documented error says whether a retry can help; only UNREGISTERED marks the token dead."""
    adapter, tokens = pusher
    fcm.respond_next(status, fixture(name))
    with pytest.raises(SendError) as caught:
        await adapter.send(reply())
    assert caught.value.retryable is retryable
    assert str(status) in str(caught.value)
    assert tokens.killed == ([(DEVICE, PUSH_TOKEN)] if dead else [])


async def test_unregistered_token_is_marked_dead_and_not_used_again(
    pusher: tuple[AndroidApp, Tokens], fcm: FakeFcm
) -> None:
    """After UNREGISTERED the token is dead: the next reply fails at once without calling FCM."""
    adapter, tokens = pusher
    fcm.unregister(PUSH_TOKEN)
    with pytest.raises(SendError, match="UNREGISTERED") as caught:
        await adapter.send(reply())
    assert not caught.value.retryable and tokens.killed == [(DEVICE, PUSH_TOKEN)]
    calls = len(fcm.requests)
    with pytest.raises(SendError, match="no live push token") as again:
        await adapter.send(reply(id="r2"))
    assert not again.value.retryable and len(fcm.requests) == calls


async def test_throttling_and_outage_are_retryable(pusher: tuple[AndroidApp, Tokens], fcm: FakeFcm) -> None:
    """429 QUOTA_EXCEEDED and 503 UNAVAILABLE ask for a retry; the next attempt goes through."""
    adapter, _ = pusher
    fcm.fail_next(429, "QUOTA_EXCEEDED", "quota", headers={"Retry-After": "30"})
    fcm.fail_next(503, "UNAVAILABLE", "down")
    for _ in range(2):
        with pytest.raises(SendError) as caught:
            await adapter.send(reply())
        assert caught.value.retryable
    assert isinstance(await adapter.send(reply()), SendResult) and len(fcm.sent) == 1


async def test_unreachable_fcm_is_retryable(tmp_path: Path, fcm: FakeFcm) -> None:
    """FCM's API not answering at all is a retryable send error."""
    adapter = AndroidApp(fcm_settings(tmp_path, fcm, fcm_api_base=f"http://127.0.0.1:{free_port()}"))
    tokens = Tokens()
    adapter.push_token_lookup = tokens.lookup
    try:
        with pytest.raises(SendError) as caught:
            await adapter.send(reply())
        assert caught.value.retryable
    finally:
        await adapter.close()


async def test_refused_service_account_is_permanent(pusher: tuple[AndroidApp, Tokens], fcm: FakeFcm) -> None:
    """The token endpoint refusing the grant (invalid_grant) fails the push for good, naming why."""
    adapter, _ = pusher
    fcm.token_fail_next(400, "invalid_grant", "Invalid JWT Signature.")
    with pytest.raises(SendError, match="access token refused") as caught:
        await adapter.send(reply())
    assert not caught.value.retryable and fcm.requests == []


async def test_without_fcm_settings_nothing_is_pushed_and_that_is_fine(tmp_path: Path) -> None:
    """A city without Firebase: send() succeeds without a message id (the app reads replies via the API)."""
    adapter = AndroidApp(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    assert await adapter.send(reply()) == SendResult(provider_message_id=None)


async def test_unbound_token_lookup_is_a_permanent_error(tmp_path: Path, fcm: FakeFcm) -> None:
    """With FCM configured but no store bound, send() fails permanently, saying what is missing."""
    adapter = AndroidApp(fcm_settings(tmp_path, fcm))
    with pytest.raises(SendError, match="bind_push_tokens") as caught:
        await adapter.send(reply())
    assert not caught.value.retryable


def test_unusable_credentials_file_stops_start_up(tmp_path: Path) -> None:
    """A missing or broken service-account file is a configuration error naming the setting."""
    broken = tmp_path / "sa.json"
    broken.write_text("{}")
    for path in (tmp_path / "missing.json", broken):
        with pytest.raises(ConfigurationError, match="FCM_CREDENTIALS_FILE"):
            AndroidApp(
                Settings(
                    _env_file=None,
                    data_dir=tmp_path,
                    fcm_project_id=PROJECT,  # type: ignore[call-arg]
                    fcm_credentials_file=str(path),
                )
            )


async def test_push_tokens_are_read_from_the_devices_table_and_kills_dead_ones(tmp_path: Path, fcm: FakeFcm) -> None:
    """The token comes from devices.push_token; UNREGISTERED sets push_token_dead."""
    settings = fcm_settings(tmp_path, fcm)
    runtime = build_runtime(settings)
    adapter = AndroidApp(settings)
    try:
        now = utcnow()
        with runtime.sf.begin() as session:
            session.add(
                Device(
                    id=DEVICE,
                    token_hash="h" * 64,
                    push_token=PUSH_TOKEN,
                    push_token_dead=False,
                    platform="android",
                    language="id",
                    created_at=now,
                    last_seen_at=now,
                )
            )
        adapter.bind_push_tokens(make_push_token_lookup(runtime.read_sf), make_push_token_killer(runtime.sf))
        await adapter.send(reply())
        assert fcm.sent[0]["message"]["token"] == PUSH_TOKEN
        fcm.unregister(PUSH_TOKEN)
        with pytest.raises(SendError):
            await adapter.send(reply(id="r2"))
        with runtime.read_sf() as session:
            assert session.scalars(select(Device.push_token_dead)).one() is True
        with pytest.raises(SendError, match="no live push token"):
            await adapter.send(reply(id="r3"))
    finally:
        await adapter.close()
        runtime.close()


def test_push_message_data_values_are_strings() -> None:
    """FCM v1 requires string data values: a reply without ticket or kind still sends strings."""
    message = push_message(reply(ticket=None, kind=None), "tok")["message"]
    assert message["notification"]["title"] == "Pengaduan"
    assert all(isinstance(v, str) for v in message["data"].values())


# --------------------------------------------------------------------------- intakes (sans-I/O)


REGIONS = shipped_city().regions


@pytest.fixture
def app_adapter(tmp_path: Path) -> AndroidApp:
    return AndroidApp(Settings(_env_file=None, data_dir=tmp_path, max_upload_bytes=1024))  # type: ignore[call-arg]


def test_complaint_becomes_an_app_intake(app_adapter: AndroidApp) -> None:
    """A valid body gives an app intake replying to the device, keyed by device + client_id."""
    device = AppDevice(id=DEVICE, language="en")
    image = png()
    intake = app_adapter.parse_complaint(
        device,
        {**FIELDS, "client_id": "abcdefgh", "location": {"lat": -6.6, "lon": 106.8}},
        [UploadedPhoto(image, "a.png")],
        regions=REGIONS,
    )
    assert intake.channel == intake.provider == "app" and intake.kind == "complaint"
    assert intake.external_id == f"app:{DEVICE}:abcdefgh" and intake.sender == DEVICE
    assert intake.reply_route.channel == "app" and intake.reply_route.address == DEVICE
    assert intake.text == "Jalan berlubang di Jl. Pajajaran" and intake.language == "en"
    assert intake.identity.nik == NIK and intake.identity.email is None
    assert intake.location == (-6.6, 106.8)
    assert [a.content_type for a in intake.attachments] == ["image/png"]


def test_complaint_carries_the_protection_flags(app_adapter: AndroidApp) -> None:
    """Issue 14: ``rahasia`` / ``anonim`` (JSON booleans) reach the intake; absent means neither."""
    both = app_adapter.parse_complaint(
        AppDevice(DEVICE), {**FIELDS, "rahasia": True, "anonim": True}, [], regions=REGIONS
    )
    assert both.rahasia and both.anonim
    plain = app_adapter.parse_complaint(AppDevice(DEVICE), FIELDS, [], regions=REGIONS)
    assert not plain.rahasia and not plain.anonim


def test_complaint_without_client_id_is_left_to_the_fingerprint(app_adapter: AndroidApp) -> None:
    """Without client_id the normalizer's content fingerprint deduplicates (external id None)."""
    assert app_adapter.parse_complaint(AppDevice(DEVICE), FIELDS, [], regions=REGIONS).external_id is None


@pytest.mark.parametrize(
    ("change", "photos", "errors"),
    [
        ({"nik": "3271014501900000"}, [], {"nik": "format"}),
        ({"nik": "3271016213900002"}, [], {"nik": "birthdate"}),
        ({"name": None, "phone": "abc"}, [], {"name": "missing", "phone": "invalid"}),
        ({"email": "x@"}, [], {"email": "invalid"}),
        ({"text": "\x00\x01 "}, [], {"text": "missing"}),
        ({"client_id": "short"}, [], {"client_id": "format"}),
        ({"rahasia": "yes", "anonim": 1}, [], {"rahasia": "type", "anonim": "type"}),
        ({"location": {"lat": 1e400, "lon": 0}}, [], {"location": "range"}),
        ({}, [UploadedPhoto(b"GIF89a...")], {"photo": "image_type"}),
        ({}, [UploadedPhoto(png() + b"\0" * 2048)], {"photo": "too_large"}),
        ({}, [UploadedPhoto(png())] * 4, {"photo": "too_many"}),
    ],
)
def test_bad_complaints_name_each_field(
    app_adapter: AndroidApp, change: dict[str, Any], photos: list[UploadedPhoto], errors: dict[str, str]
) -> None:
    """Identity (SOP step 3 rules), text, client_id, location and photo problems are field codes."""
    body = {k: v for k, v in {**FIELDS, **change}.items() if v is not None}
    with pytest.raises(FieldErrors) as caught:
        app_adapter.parse_complaint(AppDevice(DEVICE), body, photos, regions=REGIONS)
    assert caught.value.errors == errors


def test_message_intake_names_the_case(app_adapter: AndroidApp) -> None:
    """A follow-up message names its case in the typed thread and carries its own idempotency key."""
    intake = app_adapter.parse_message(
        AppDevice(DEVICE), "BGR-7KQ2XMP", {"text": "Tambahan foto", "client_id": "msg-12345"}
    )
    assert intake.thread.case_ticket == "BGR-7KQ2XMP" and intake.external_id == f"app:{DEVICE}:msg:msg-12345"
    assert intake.raw is None
    assert intake.reply_route.address == DEVICE and intake.identity.nik is None


# --------------------------------------------------------------------------- end to end


async def test_reply_reaches_the_phone_by_push_end_to_end(tmp_path: Path, fcm: FakeFcm) -> None:
    """Register with a push token, complain through the API: the workers' acknowledgement arrives by FCM.

    The outbound sender binds the push-token store (workers/push_tokens.py).
    """
    import aiohttp

    settings = fcm_settings(tmp_path, fcm, port=free_port(), send_timeout_seconds=5)
    with running_system(settings) as system:
        async with aiohttp.ClientSession(system.url) as http:
            resp = await http.post("/api/v1/devices", json={"platform": "android", "push_token": PUSH_TOKEN})
            token = (await resp.json())["device_token"]
            resp = await http.post("/api/v1/complaints", json=FIELDS, headers={"Authorization": f"Bearer {token}"})
            ticket = (await resp.json())["ticket"]
            for _ in range(150):
                if fcm.sent:
                    break
                await asyncio.sleep(0.1)
            assert fcm.sent, "no push arrived"
            message = fcm.sent[0]["message"]
            assert message["token"] == PUSH_TOKEN and message["data"]["ticket"] == ticket
            replies: list[dict[str, Any]] = []
            for _ in range(50):  # the worker records the send right after FCM answers
                resp = await http.get(f"/api/v1/complaints/{ticket}/mine", headers={"Authorization": f"Bearer {token}"})
                replies = (await resp.json())["replies"]
                if replies and replies[0]["sent_at"]:
                    break
                await asyncio.sleep(0.1)
            assert replies[0]["sent_at"] and replies[0]["text"]
