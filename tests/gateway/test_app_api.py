"""The city app's JSON API (/api/v1) over real HTTP: devices, complaints, replies, follow-ups."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from complaints.models import Complaint, Device, InboxMessage, Reply
from config.settings import Settings
from gateway.app import create_app
from gateway.pages.strings import STRINGS
from tests.support.images import png
from workers.route import route_batch
from workers.runtime import Runtime
from workers.setup import build_runtime
from workers.verify import verify_batch

NIK = "3271014501900002"  # Kota Bogor, Bogor Selatan; woman born 5 Jan 1990
COMPLAINT = {
    "text": "Lampu PJU mati di Jl. Pajajaran dekat Kebun Raya sejak tiga hari",
    "nik": NIK,
    "name": "Siti Aminah",
    "address": "Jl. Pajajaran No. 5, RT 02/RW 03, Baranangsiang",
    "phone": "0812-3456-7890",
}
MAX_UPLOAD = 32 * 1024
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24


class Api:
    """A test client for the app API plus the runtime behind it."""

    def __init__(self, client: TestClient, runtime: Runtime, settings: Settings) -> None:
        self.client = client
        self.runtime = runtime
        self.settings = settings

    async def register(self, **body: Any) -> str:
        """Register a device and return its device token."""
        resp = await self.client.post("/api/v1/devices", json={"platform": "android", **body})
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["device_token"])

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def submit(self, token: str, **fields: Any) -> Any:
        """POST a JSON complaint (COMPLAINT overridden by ``fields``; None drops a field)."""
        body = {k: v for k, v in {**COMPLAINT, **fields}.items() if v is not None}
        return await self.client.post("/api/v1/complaints", json=body, headers=self.auth(token))

    async def submit_form(self, token: str, photos: list[tuple[str, bytes, str]], **fields: Any) -> Any:
        """POST the complaint as multipart/form-data with ``photos`` (name, bytes, declared type)."""
        data = FormData(default_to_multipart=True)
        for key, value in {**COMPLAINT, **fields}.items():
            data.add_field(key, value if isinstance(value, str) else json.dumps(value))
        for filename, content, ctype in photos:
            data.add_field("photo", content, filename=filename, content_type=ctype)
        return await self.client.post("/api/v1/complaints", data=data, headers=self.auth(token))

    async def ticket(self, token: str, **fields: Any) -> str:
        resp = await self.submit(token, **fields)
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["ticket"])

    def db(self, fn: Any) -> Any:
        with self.runtime.read_sf() as session:
            return fn(session)

    def count(self, model: Any) -> int:
        return int(self.db(lambda s: s.scalar(select(func.count()).select_from(model))) or 0)

    async def run_workers(self) -> None:
        """Given accepted messages, run the verify and routing stages as the workers would."""

        def drain() -> None:
            ids = self.db(lambda s: list(s.scalars(select(InboxMessage.id).where(InboxMessage.state == "accepted"))))
            result = verify_batch(self.runtime, ids)
            if result.follow_ups.get("route_to_opd"):
                route_batch(self.runtime, result.follow_ups["route_to_opd"])

        await asyncio.to_thread(drain)


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The gateway on SQLite under tmp_path with the in-process broker (workers run by hand)."""
    settings = Settings(_env_file=None, data_dir=tmp_path / "var", max_upload_bytes=MAX_UPLOAD)  # type: ignore[call-arg]
    runtime = build_runtime(settings)
    try:
        async with TestClient(TestServer(create_app(settings, runtime))) as client:
            yield Api(client, runtime, settings)
    finally:
        runtime.close()


# --------------------------------------------------------------------------- devices


async def test_register_returns_a_token_that_is_stored_only_hashed(api: Api) -> None:
    """Registering answers 201 with a device id and a long random token; only its SHA-256 is kept."""
    resp = await api.client.post(
        "/api/v1/devices", json={"platform": "android", "language": "en", "push_token": "fcm-token-1"}
    )
    body = await resp.json()
    assert resp.status == 201 and resp.headers["Cache-Control"] == "no-store"
    assert len(body["device_token"]) >= 43 and body["language"] == "en" and body["push_enabled"] is True
    device = api.db(lambda s: s.get(Device, body["device_id"]))
    assert device.token_hash == hashlib.sha256(body["device_token"].encode()).hexdigest()
    assert body["device_token"] not in (device.id, device.token_hash, device.push_token)


async def test_two_registrations_get_different_tokens(api: Api) -> None:
    """Every phone gets its own device token."""
    assert await api.register() != await api.register()


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        ({}, {"platform": "missing"}),
        ({"platform": "ios"}, {"platform": "not_allowed"}),
        ({"platform": "android", "language": "fr"}, {"language": "not_allowed"}),
        ({"platform": "android", "push_token": 12}, {"push_token": "type"}),
        ({"platform": "android", "push_token": "x" * 4097}, {"push_token": "too_long"}),
    ],
)
async def test_bad_registration_is_422_with_field_codes(api: Api, body: dict[str, Any], codes: dict[str, str]) -> None:
    """A registration with a bad field is refused field by field, and no device is created."""
    resp = await api.client.post("/api/v1/devices", json=body)
    data = await resp.json()
    assert resp.status == 422 and data["error"] == "validation" and data["codes"] == codes
    assert set(data["fields"]) == set(codes)
    assert api.count(Device) == 0


async def test_device_me_shows_and_updates_the_push_token_and_language(api: Api) -> None:
    """PUT /devices/me changes the push token and language; GET shows the result."""
    token = await api.register()
    resp = await api.client.get("/api/v1/devices/me", headers=api.auth(token))
    assert (await resp.json())["push_enabled"] is False
    resp = await api.client.put(
        "/api/v1/devices/me", json={"push_token": "fcm-2", "language": "en"}, headers=api.auth(token)
    )
    assert resp.status == 200 and await resp.json() == {
        "device_id": (await resp.json())["device_id"],
        "platform": "android",
        "language": "en",
        "push_enabled": True,
    }
    device = api.db(lambda s: s.scalars(select(Device)).one())
    assert device.push_token == "fcm-2" and device.language == "en"
    resp = await api.client.put("/api/v1/devices/me", json={"push_token": None}, headers=api.auth(token))
    assert (await resp.json())["push_enabled"] is False


async def test_a_new_push_token_revives_pushes_after_unregistered(api: Api) -> None:
    """A token FCM called dead stays dead when sent again; a fresh token is live."""
    token = await api.register(push_token="old")
    with api.runtime.sf.begin() as session:
        session.execute(Device.__table__.update().values(push_token_dead=True))
    resp = await api.client.put("/api/v1/devices/me", json={"push_token": "old"}, headers=api.auth(token))
    assert (await resp.json())["push_enabled"] is False
    resp = await api.client.put("/api/v1/devices/me", json={"push_token": "new"}, headers=api.auth(token))
    assert (await resp.json())["push_enabled"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-registered-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "unknown", "wrong-scheme", "empty"],
)
async def test_calls_without_a_known_device_token_are_401(api: Api, headers: dict[str, str]) -> None:
    """Every device route answers 401 JSON with a Bearer challenge, and nothing is stored."""
    for method, path in [
        ("GET", "/api/v1/devices/me"),
        ("PUT", "/api/v1/devices/me"),
        ("POST", "/api/v1/complaints"),
        ("GET", "/api/v1/complaints"),
        ("GET", "/api/v1/complaints/BGR-2345678/mine"),
        ("POST", "/api/v1/complaints/BGR-2345678/messages"),
    ]:
        resp = await api.client.request(method, path, json=COMPLAINT, headers=headers)
        body = await resp.json()
        assert resp.status == 401, (method, path)
        assert body["error"] == "unauthorized" and body["detail"]
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.count(InboxMessage) == 0


# --------------------------------------------------------------------------- submitting


async def test_json_complaint_is_accepted_with_a_ticket(api: Api) -> None:
    """A valid JSON complaint answers 201 with the ticket and its status URL; the envelope names the device."""
    token = await api.register(language="en")
    resp = await api.submit(token, location={"lat": -6.6, "lon": 106.8}, email="siti@example.id")
    body = await resp.json()
    assert resp.status == 201
    assert body["status_url"] == f"/api/v1/complaints/{body['ticket']}" == resp.headers["Location"]
    device_id = api.db(lambda s: s.scalars(select(Device.id)).one())
    envelope = api.db(lambda s: s.scalars(select(InboxMessage.envelope)).one())
    assert envelope["channel"] == envelope["provider"] == "app"
    assert envelope["sender"] == device_id and envelope["language"] == "en"
    assert envelope["reply_route"] == {"channel": "app", "address": device_id, "thread_ref": None, "provider": "app"}
    assert envelope["identity"] == {
        "nik": NIK,
        "name": "Siti Aminah",
        "address": COMPLAINT["address"],
        "phone": "0812-3456-7890",
        "email": "siti@example.id",
    }
    assert envelope["location"] == [-6.6, 106.8] and envelope["text"] == COMPLAINT["text"]


async def test_retry_with_the_same_client_id_gives_the_same_ticket(api: Api) -> None:
    """Resending with the same client_id answers 200 with the first ticket; one complaint is stored."""
    token = await api.register()
    first = await api.submit(token, client_id="6f1c2b0e9a7d4c3b")
    second = await api.submit(token, client_id="6f1c2b0e9a7d4c3b")
    assert first.status == 201 and second.status == 200
    assert (await first.json())["ticket"] == (await second.json())["ticket"]
    assert api.count(InboxMessage) == 1
    external_id = api.db(lambda s: s.scalars(select(InboxMessage.external_id)).one())
    assert external_id.startswith("app:") and external_id.endswith(":6f1c2b0e9a7d4c3b")


async def test_same_client_id_on_two_devices_is_two_complaints(api: Api) -> None:
    """An idempotency key belongs to one device: another phone with the same key is a new complaint."""
    one, two = await api.register(), await api.register()
    a = await api.submit(one, client_id="same-key-123")
    b = await api.submit(two, client_id="same-key-123")
    assert a.status == b.status == 201 and (await a.json())["ticket"] != (await b.json())["ticket"]


async def test_identity_problems_are_422_with_messages_in_the_device_language(api: Api) -> None:
    """Each bad field gets the web form's message (Indonesian by default) and a code; nothing is stored."""
    token = await api.register()
    resp = await api.submit(
        token,
        nik="9999014501900002",
        name="1234",
        phone="12",
        address=None,
        email="not-an-email",
        location={"lat": 95, "lon": 0},
        client_id="bad:id",
    )
    body = await resp.json()
    assert resp.status == 422 and body["error"] == "validation"
    assert body["codes"] == {
        "nik": "region",
        "name": "invalid",
        "address": "missing",
        "phone": "invalid",
        "email": "invalid",
        "location": "range",
        "client_id": "format",
    }
    ids = STRINGS["id"]
    assert body["fields"]["nik"] == ids["nik_region"] and body["fields"]["name"] == ids["nama_invalid"]
    assert body["fields"]["address"] == ids["alamat_missing"] and body["fields"]["phone"] == ids["telp_invalid"]
    assert api.count(InboxMessage) == 0


async def test_field_messages_follow_the_device_language(api: Api) -> None:
    """A device registered in English gets English field messages."""
    token = await api.register(language="en")
    resp = await api.submit(token, nik=None, text="   ")
    body = await resp.json()
    assert body["fields"] == {"nik": STRINGS["en"]["nik_missing"], "text": STRINGS["en"]["isi_missing"]}


@pytest.mark.parametrize(
    ("fields", "codes"),
    [
        ({"text": 42}, {"text": "type"}),
        ({"text": "x" * 5001}, {"text": "too_long"}),
        ({"name": "N" * 201}, {"name": "too_long"}),
        ({"location": {"lat": "-6.6", "lon": 106.8}}, {"location": "type"}),
        ({"location": {"lat": -6.6}}, {"location": "missing"}),
        ({"location": [1, 2]}, {"location": "type"}),
        ({"location": {"lat": True, "lon": 1}}, {"location": "type"}),
    ],
)
async def test_wrong_types_and_lengths_are_422(api: Api, fields: dict[str, Any], codes: dict[str, str]) -> None:
    """Values of the wrong JSON type or over their documented length are field errors."""
    token = await api.register()
    resp = await api.submit(token, **fields)
    assert resp.status == 422 and (await resp.json())["codes"] == codes


async def test_multipart_complaint_with_photos_stores_them_by_hash(api: Api) -> None:
    """A form with two photos (PNG, WebP) is accepted; each is stored under its SHA-256 and referenced."""
    token = await api.register()
    image = png(4, 4)
    resp = await api.submit_form(
        token,
        [("lampu.png", image, "image/png"), ("dekat.webp", WEBP, "image/webp")],
        location={"lat": -6.6, "lon": 106.8},
        client_id="form-retry-01",
    )
    assert resp.status == 201, await resp.text()
    envelope = api.db(lambda s: s.scalars(select(InboxMessage.envelope)).one())
    shas = [hashlib.sha256(image).hexdigest(), hashlib.sha256(WEBP).hexdigest()]
    assert [a["sha256"] for a in envelope["attachments"]] == shas
    assert [a["content_type"] for a in envelope["attachments"]] == ["image/png", "image/webp"]
    assert envelope["location"] == [-6.6, 106.8]
    for sha, content in zip(shas, (image, WEBP), strict=True):
        assert (api.settings.attachments_dir / sha[:2] / sha).read_bytes() == content


async def test_photo_that_is_not_an_image_is_422(api: Api) -> None:
    """A file whose bytes are not JPEG/PNG/WebP is refused whatever type it claims."""
    token = await api.register()
    resp = await api.submit_form(token, [("x.jpg", b"definitely not a jpeg", "image/jpeg")])
    body = await resp.json()
    assert resp.status == 422 and body["codes"] == {"photo": "image_type"}
    assert body["fields"]["photo"] == STRINGS["id"]["foto_type"]


async def test_more_than_three_photos_is_422(api: Api) -> None:
    """A fourth photo is refused with a message naming the limit."""
    token = await api.register(language="en")
    resp = await api.submit_form(token, [(f"{i}.png", png(), "image/png") for i in range(4)])
    body = await resp.json()
    assert resp.status == 422 and body["codes"] == {"photo": "too_many"} and "3" in body["fields"]["photo"]
    assert api.count(InboxMessage) == 0


async def test_form_parts_are_exactly_the_documented_fields(api: Api) -> None:
    """A form part the API does not know, or a location that is not an object, is a field error."""
    token = await api.register()
    resp = await api.submit_form(token, [], nama="Siti", location="null")
    assert resp.status == 422 and (await resp.json())["codes"] == {"nama": "not_allowed"}
    resp = await api.submit_form(token, [], location="null")
    assert resp.status == 422 and (await resp.json())["codes"] == {"location": "type"}


async def test_oversized_photo_is_413(api: Api) -> None:
    """A photo over MAX_UPLOAD_BYTES is refused with 413 as soon as it passes the limit."""
    token = await api.register()
    resp = await api.submit_form(token, [("big.png", png() + b"\0" * MAX_UPLOAD, "image/png")])
    assert resp.status == 413 and (await resp.json())["error"] == "too_large"
    assert api.count(InboxMessage) == 0


async def test_oversized_json_is_413(api: Api) -> None:
    """A JSON body over MAX_BODY_BYTES is refused with 413."""
    token = await api.register()
    resp = await api.submit(token, address="x" * (api.settings.max_body_bytes + 1))
    assert resp.status == 413 and (await resp.json())["error"] == "too_large"


async def test_other_content_types_are_415(api: Api) -> None:
    """A complaint as text/plain or urlencoded form is refused with 415."""
    token = await api.register()
    for ctype in ("text/plain", "application/x-www-form-urlencoded"):
        resp = await api.client.post(
            "/api/v1/complaints", data=b"text=hi", headers={**api.auth(token), "Content-Type": ctype}
        )
        assert resp.status == 415 and (await resp.json())["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"text": NaN}', b"\xff\xfe", b'{"text": "\\ud800"}', b"[" * 100_000]
)
async def test_malformed_json_is_400(api: Api, body: bytes) -> None:
    """Broken JSON, a non-object, NaN, bad UTF-8, a lone surrogate or absurd nesting is a 400."""
    token = await api.register()
    resp = await api.client.post(
        "/api/v1/complaints", data=body, headers={**api.auth(token), "Content-Type": "application/json"}
    )
    status = 413 if len(body) > api.settings.max_body_bytes else 400
    assert resp.status == status and (await resp.json())["error"] in ("bad_request", "too_large")


# --------------------------------------------------------------------------- reading


async def test_list_shows_only_this_devices_complaints(api: Api) -> None:
    """GET /complaints lists the device's own complaints, newest first, before and after verification."""
    mine, other = await api.register(), await api.register()
    first = await api.ticket(mine, text="Sampah menumpuk di pasar Bogor")
    second = await api.ticket(mine)
    await api.ticket(other)
    resp = await api.client.get("/api/v1/complaints", headers=api.auth(mine))
    listed = (await resp.json())["complaints"]
    assert resp.status == 200 and {c["ticket"] for c in listed} == {first, second}
    assert all(c["status"] == "diterima" and c["opd"] is None for c in listed)
    await api.run_workers()
    resp = await api.client.get("/api/v1/complaints", headers=api.auth(mine))
    listed = (await resp.json())["complaints"]
    assert [c["ticket"] for c in listed] == [second, first]
    assert all(c["status"] != "dikembalikan_ke_pelapor" and c["status_label"] for c in listed)


async def test_mine_shows_public_history_and_the_replies_sent_to_the_device(api: Api) -> None:
    """After the workers answer, /mine has the case's history and the reply text, without identity."""
    token = await api.register()
    ticket = await api.ticket(token)
    await api.run_workers()
    resp = await api.client.get(f"/api/v1/complaints/{ticket}/mine", headers=api.auth(token))
    body = await resp.json()
    assert resp.status == 200 and body["ticket"] == ticket and resp.headers["Cache-Control"] == "no-store"
    assert [h["action"] for h in body["history"]][:2] == ["received", "verified"]
    replies = api.db(lambda s: list(s.scalars(select(Reply))))
    assert replies and [r["text"] for r in body["replies"]] == [r.text for r in replies]
    assert body["replies"][0]["kind"] == "ack" and body["replies"][0]["sent_at"] is None
    assert NIK not in json.dumps(body) and "Siti" not in json.dumps(body)


async def test_mine_works_before_the_case_is_opened(api: Api) -> None:
    """Right after submitting, /mine answers "diterima" with no replies instead of 404."""
    token = await api.register()
    ticket = await api.ticket(token)
    resp = await api.client.get(f"/api/v1/complaints/{ticket.lower().replace('-', '')}/mine", headers=api.auth(token))
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "diterima" and body["replies"] == []


async def test_another_devices_ticket_is_404(api: Api) -> None:
    """A ticket from another phone is not found, before and after verification, and for messages too."""
    owner, stranger = await api.register(), await api.register()
    ticket = await api.ticket(owner)
    for _ in range(2):
        resp = await api.client.get(f"/api/v1/complaints/{ticket}/mine", headers=api.auth(stranger))
        assert resp.status == 404 and (await resp.json())["error"] == "not_found"
        resp = await api.client.post(
            f"/api/v1/complaints/{ticket}/messages", json={"text": "hi"}, headers=api.auth(stranger)
        )
        assert resp.status == 404
        await api.run_workers()
    resp = await api.client.get(f"/api/v1/complaints/{ticket}")
    assert resp.status == 200  # the public status stays public


async def test_unknown_and_malformed_tickets_are_404(api: Api) -> None:
    """A ticket nobody has, or something that is not a ticket, is 404 JSON."""
    token = await api.register()
    for ticket in ("BGR-2345678", "hello", "BGR-0000000"):
        resp = await api.client.get(f"/api/v1/complaints/{ticket}/mine", headers=api.auth(token))
        assert resp.status == 404 and (await resp.json())["error"] == "not_found"


# --------------------------------------------------------------------------- follow-up messages


async def test_message_is_added_to_the_case(api: Api) -> None:
    """A message on the device's complaint answers 202 and ends up in that case, not a new one.

    Needs workers/followup.find_case to honour the envelope's thread.case_ticket (see the app API notes).
    """
    token = await api.register()
    ticket = await api.ticket(token)
    await api.run_workers()
    resp = await api.client.post(
        f"/api/v1/complaints/{ticket}/messages",
        json={"text": "Sekarang lampu kedua juga mati", "client_id": "msg-0000001"},
        headers=api.auth(token),
    )
    assert resp.status == 202 and await resp.json() == {"ticket": ticket, "status_url": f"/api/v1/complaints/{ticket}"}
    again = await api.client.post(
        f"/api/v1/complaints/{ticket}/messages",
        json={"text": "Sekarang lampu kedua juga mati", "client_id": "msg-0000001"},
        headers=api.auth(token),
    )
    assert again.status == 202
    assert api.count(InboxMessage) == 2  # the complaint and one message: the retry was a duplicate
    await api.run_workers()
    cases = api.db(lambda s: list(s.scalars(select(Complaint))))
    assert len(cases) == 1 and "Sekarang lampu kedua juga mati" in cases[0].text
    resp = await api.client.get(f"/api/v1/complaints/{ticket}/mine", headers=api.auth(token))
    assert "citizen_follow_up" in [h["action"] for h in (await resp.json())["history"]]


async def test_message_before_the_case_is_opened_is_409(api: Api) -> None:
    """A message sent while the complaint is still being registered asks the app to retry shortly."""
    token = await api.register()
    ticket = await api.ticket(token)
    resp = await api.client.post(
        f"/api/v1/complaints/{ticket}/messages", json={"text": "tambahan"}, headers=api.auth(token)
    )
    assert resp.status == 409 and resp.headers["Retry-After"] == "2"
    assert (await resp.json())["error"] == "not_ready"


async def test_bad_message_is_422_and_wrong_type_415(api: Api) -> None:
    """An empty message is a field error; a non-JSON body is 415."""
    token = await api.register()
    ticket = await api.ticket(token)
    await api.run_workers()
    resp = await api.client.post(f"/api/v1/complaints/{ticket}/messages", json={"text": " "}, headers=api.auth(token))
    assert resp.status == 422 and (await resp.json())["codes"] == {"text": "missing"}
    resp = await api.client.post(
        f"/api/v1/complaints/{ticket}/messages", data=b"hi", headers={**api.auth(token), "Content-Type": "text/plain"}
    )
    assert resp.status == 415


# --------------------------------------------------------------------------- the API as a whole


async def test_unknown_paths_and_methods_answer_json(api: Api) -> None:
    """aiohttp's own 404 and 405 under /api/v1/ come back as the API's JSON errors."""
    resp = await api.client.get("/api/v1/nothing-here")
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    resp = await api.client.delete("/api/v1/devices")
    assert resp.status == 405 and (await resp.json())["error"] == "method_not_allowed"
    assert "POST" in resp.headers["Allow"]
    resp = await api.client.get("/lapr")
    assert "text/html" in resp.headers["Content-Type"]  # the citizen pages keep their HTML 404


async def test_openapi_document_is_served_and_lists_every_route(api: Api) -> None:
    """GET /api/v1/openapi.json is an OpenAPI 3 document describing each app route."""
    resp = await api.client.get("/api/v1/openapi.json")
    doc = await resp.json()
    assert resp.status == 200 and doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/api/v1/devices",
        "/api/v1/devices/me",
        "/api/v1/complaints",
        "/api/v1/complaints/{ticket}",
        "/api/v1/complaints/{ticket}/mine",
        "/api/v1/complaints/{ticket}/messages",
        "/api/v1/complaints/{ticket}/rating",
        "/api/v1/openapi.json",
    }
    submit = doc["paths"]["/api/v1/complaints"]["post"]
    assert set(submit["responses"]) == {"200", "201", "400", "401", "413", "415", "422", "503"}
    assert set(submit["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
