"""Citizen pages: the complaint form, the receipt and public tracking, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from complaints.models import InboxMessage
from config.settings import Settings
from gateway.app import create_app
from gateway.pages.strings import STRINGS
from normalizer.normalize import InvalidIntake
from tests.support.images import png
from workers.runtime import Runtime
from workers.setup import build_runtime

NIK = "3271014501900002"  # Kota Bogor, Bogor Selatan; woman born 5 Jan 1990
NAME = "Siti Aminah Kusumawardani"
ADDRESS = "Jl. Pajajaran No. 5, RT 02/RW 03, Baranangsiang"
PHONE = "0812-3456-7890"
TEXT = "Jalan berlubang besar di Jl. Pajajaran dekat Kebun Raya, bahaya untuk motor"
SCRIPT = "<script>alert(1)</script>"
MAX_UPLOAD = 32 * 1024


class Site:
    """A test client plus the runtime behind it."""

    def __init__(self, client: TestClient, runtime: Runtime, settings: Settings) -> None:
        self.client = client
        self.runtime = runtime
        self.settings = settings
        self.csrf_token = ""

    async def new_form(self, lang: str | None = None) -> str:
        """Open the form as a browser would and return its submission id."""
        resp = await self.client.get("/lapor" + (f"?lang={lang}" if lang else ""))
        assert resp.status == 200
        page = await resp.text()
        match = re.search(r'name="submission_id" value="([^"]+)"', page)
        assert match
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        self.csrf_token = token.group(1)
        return match.group(1)

    async def submit(self, submission_id: str, *, photo: tuple[str, bytes, str] | None = None, **fields: str) -> Any:
        """POST the form as multipart/form-data without following the redirect."""
        values = {
            "lang": "id",
            "submission_id": submission_id,
            "csrf_token": self.csrf_token,
            "nik": NIK,
            "nama": NAME,
            "alamat": ADDRESS,
            "telp": PHONE,
            "email": "",
            "isi": TEXT,
        }
        values.update(fields)
        data = FormData(default_to_multipart=True)
        for key, value in values.items():
            data.add_field(key, value)
        if photo is not None:
            filename, content, ctype = photo
            data.add_field("foto", content, filename=filename, content_type=ctype)
        else:
            data.add_field("foto", b"", filename="", content_type="application/octet-stream")
        return await self.client.post("/lapor", data=data, allow_redirects=False)

    def inbox_count(self) -> int:
        with self.runtime.read_sf() as session:
            return int(session.scalar(select(func.count()).select_from(InboxMessage)) or 0)


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """The gateway on SQLite under tmp_path with the in-process broker (no workers)."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "var",
        redis_url=None,
        database_url=None,  # type: ignore[call-arg]
        max_upload_bytes=MAX_UPLOAD,
    )
    runtime = build_runtime(settings)
    try:
        async with TestClient(TestServer(create_app(settings, runtime))) as client:
            yield Site(client, runtime, settings)
    finally:
        runtime.close()


async def accepted_ticket(site: Site, **fields: Any) -> str:
    """Submit a valid complaint and return the ticket from the redirect."""
    resp = await site.submit(await site.new_form(), **fields)
    assert resp.status == 303, await resp.text()
    match = re.fullmatch(r"/lapor/terima/(BGR-[0-9A-Z]{7})", resp.headers["Location"])
    assert match
    return match.group(1)


def test_strings_have_the_same_keys_in_both_languages() -> None:
    """Every UI string exists in Indonesian and English."""
    assert set(STRINGS["id"]) == set(STRINGS["en"])


@pytest.mark.asyncio
async def test_home_redirects_to_the_form(site: Site) -> None:
    """Opening the site root lands on the complaint form."""
    resp = await site.client.get("/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/lapor"


@pytest.mark.asyncio
async def test_form_renders_in_indonesian_by_default(site: Site) -> None:
    """The form is in Indonesian, names every field and marks the SOP's required ones."""
    resp = await site.client.get("/lapor")
    html = await resp.text()
    assert resp.status == 200 and '<html lang="id">' in html
    for label in ("NIK", "Nama lengkap", "Alamat", "No. Telp / HP", "Email", "Isi pengaduan", "Foto"):
        assert label in html
    assert html.count("(wajib)") == 5  # NIK, nama, alamat, telp, isi
    assert html.count("(opsional)") == 2  # email, foto
    assert 'enctype="multipart/form-data"' in html and 'name="submission_id"' in html
    assert 'href="/lapor?lang=en"' in html


@pytest.mark.asyncio
async def test_form_renders_in_english_and_remembers_it(site: Site) -> None:
    """?lang=en shows the English form and a cookie keeps English on the next page."""
    resp = await site.client.get("/lapor?lang=en")
    html = await resp.text()
    assert '<html lang="en">' in html and "Your complaint" in html and "(required)" in html
    resp = await site.client.get("/lacak")
    assert "Track a complaint" in await resp.text()


@pytest.mark.asyncio
async def test_each_form_render_has_a_new_submission_id(site: Site) -> None:
    """Two opened forms are two different submissions."""
    assert await site.new_form() != await site.new_form()


@pytest.mark.asyncio
async def test_missing_nik_shows_field_error_and_keeps_values(site: Site) -> None:
    """Without NIK the form comes back (422) saying so, with everything else still filled in."""
    sid = await site.new_form()
    resp = await site.submit(sid, nik="")
    html = await resp.text()
    assert resp.status == 422
    assert "NIK wajib diisi." in html
    assert f'value="{NAME}"' in html and ADDRESS in html and f'value="{PHONE}"' in html and TEXT in html
    assert f'value="{sid}"' in html  # the same submission continues
    assert site.inbox_count() == 0


@pytest.mark.asyncio
async def test_invalid_identity_fields_are_reported_in_english(site: Site) -> None:
    """A bad NIK region, a name with digits and a bad phone each get their own message."""
    resp = await site.submit(
        await site.new_form(), lang="en", nik="9999014501900002", nama="1234", telp="12", email="not-an-email"
    )
    html = await resp.text()
    assert resp.status == 422
    for key in ("nik_region", "nama_invalid", "telp_invalid", "email_invalid"):
        assert STRINGS["en"][key] in html


@pytest.mark.asyncio
async def test_empty_complaint_text_is_refused(site: Site) -> None:
    """An empty complaint text is a field error, nothing is stored."""
    resp = await site.submit(await site.new_form(), isi="   ")
    assert resp.status == 422 and "Isi pengaduan wajib diisi." in await resp.text()
    assert site.inbox_count() == 0


@pytest.mark.asyncio
async def test_valid_submission_redirects_to_the_ticket(site: Site) -> None:
    """A valid complaint answers 303 to a receipt showing the ticket and a tracking link."""
    ticket = await accepted_ticket(site)
    resp = await site.client.get(f"/lapor/terima/{ticket}")
    html = await resp.text()
    assert resp.status == 200
    assert "Pengaduan diterima. Nomor tiket:" in html and ticket in html
    assert f'href="/lacak/{ticket}"' in html
    assert site.inbox_count() == 1


@pytest.mark.asyncio
async def test_double_submit_gives_one_complaint(site: Site) -> None:
    """Submitting the same form twice (double click, refresh) gives the same ticket and one row."""
    sid = await site.new_form()
    first = await site.submit(sid)
    second = await site.submit(sid)
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert site.inbox_count() == 1


@pytest.mark.asyncio
async def test_photo_is_stored_by_hash(site: Site) -> None:
    """An attached PNG is stored under attachments/<sha[:2]>/<sha> and referenced in the envelope."""
    import hashlib

    image = png()
    await accepted_ticket(site, photo=("lubang.png", image, "image/png"))
    sha = hashlib.sha256(image).hexdigest()
    assert (site.settings.attachments_dir / sha[:2] / sha).read_bytes() == image
    with site.runtime.read_sf() as session:
        envelope = session.scalars(select(InboxMessage.envelope)).one()
    assert envelope["attachments"] == [
        {"sha256": sha, "size": len(image), "content_type": "image/png", "filename": "lubang.png"}
    ]


@pytest.mark.asyncio
async def test_photo_with_wrong_magic_bytes_is_refused(site: Site) -> None:
    """A text file named .jpg is refused with a message about the photo type."""
    resp = await site.submit(await site.new_form(), photo=("x.jpg", b"not an image at all", "image/jpeg"))
    assert resp.status == 422 and STRINGS["id"]["foto_type"] in await resp.text()


@pytest.mark.asyncio
async def test_valid_photo_survives_an_identity_error(site: Site) -> None:
    """When only the NIK is wrong, the photo need not be chosen again: resubmitting keeps it."""
    image = png()
    sid = await site.new_form()
    resp = await site.submit(sid, nik="", photo=("lubang.png", image, "image/png"))
    html = await resp.text()
    assert resp.status == 422 and "lubang.png" in html
    ref = re.search(r'name="foto_ref" value="([0-9a-f]{64})"', html)
    assert ref
    resp = await site.submit(sid, foto_ref=ref.group(1), foto_nama="lubang.png")
    assert resp.status == 303
    with site.runtime.read_sf() as session:
        envelope = session.scalars(select(InboxMessage.envelope)).one()
    assert envelope["attachments"][0]["sha256"] == ref.group(1)


@pytest.mark.asyncio
async def test_oversized_photo_is_refused_with_413(site: Site) -> None:
    """A photo over the upload limit gets a friendly 413 page naming the limit; nothing is stored."""
    big = png() + b"\0" * (MAX_UPLOAD + 1)
    resp = await site.submit(await site.new_form(), photo=("big.png", big, "image/png"))
    html = await resp.text()
    assert resp.status == 413
    assert "Kiriman terlalu besar" in html and "Ukuran foto melebihi batas" in html
    assert site.inbox_count() == 0


@pytest.mark.asyncio
async def test_oversized_text_fields_are_refused_with_413(site: Site) -> None:
    """Text fields beyond max_body_bytes get the 413 page too."""
    resp = await site.submit(await site.new_form(), alamat="x" * (site.settings.max_body_bytes + 1))
    assert resp.status == 413 and "Isian formulir terlalu panjang" in await resp.text()


@pytest.mark.asyncio
async def test_tracking_page_shows_status_but_no_personal_data(site: Site) -> None:
    """The public page shows the ticket and status, never the NIK, name, address, phone or text."""
    ticket = await accepted_ticket(site, email="siti.aminah@example.id")
    resp = await site.client.get(f"/lacak/{ticket}")
    html = await resp.text()
    assert resp.status == 200
    assert ticket in html and "Diterima" in html
    for private in (NIK, NAME, "Siti", ADDRESS, "Pajajaran", PHONE, "3456", "siti.aminah", "berlubang"):
        assert private not in html


@pytest.mark.asyncio
async def test_script_in_what_the_citizen_typed_is_escaped_everywhere(site: Site) -> None:
    """<script> typed into the form never comes back unescaped on any page."""
    resp = await site.submit(await site.new_form(), nik="", nama=SCRIPT, isi=f"Tolong {SCRIPT} cek")
    html = await resp.text()
    assert resp.status == 422
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    ticket = await accepted_ticket(site, isi=f"Sampah menumpuk {SCRIPT}", alamat=SCRIPT)
    for path in (f"/lapor/terima/{ticket}", f"/lacak/{ticket}", f"/lacak?tiket={SCRIPT}"):
        resp = await site.client.get(path)
        assert SCRIPT not in await resp.text(), path


@pytest.mark.asyncio
async def test_tracking_form_normalises_the_ticket(site: Site) -> None:
    """A ticket typed in lower case without the dash finds its page."""
    ticket = await accepted_ticket(site)
    typed = ticket.replace("-", " ").lower()
    resp = await site.client.get("/lacak", params={"tiket": typed}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/lacak/{ticket}"


@pytest.mark.asyncio
async def test_tracking_form_says_when_it_is_not_a_ticket(site: Site) -> None:
    """Something that cannot be a ticket is answered on the form itself."""
    resp = await site.client.get("/lacak", params={"tiket": "hello"})
    assert resp.status == 422 and STRINGS["id"]["tiket_invalid"] in await resp.text()


@pytest.mark.asyncio
@pytest.mark.parametrize("lang", ["id", "en"])
async def test_unknown_ticket_is_a_friendly_404(site: Site, lang: str) -> None:
    """A well-formed ticket nobody has gets the 404 page in the chosen language."""
    resp = await site.client.get(f"/lacak/BGR-2345678?lang={lang}")
    html = await resp.text()
    assert resp.status == 404 and STRINGS[lang]["error_404_title"] in html
    resp = await site.client.get(f"/lapor/terima/BGR-2345678?lang={lang}")
    assert resp.status == 404


@pytest.mark.asyncio
async def test_unknown_page_is_a_friendly_404(site: Site) -> None:
    """A mistyped page address gets the HTML 404 page, not a bare error."""
    resp = await site.client.get("/lapr")
    assert resp.status == 404 and "Halaman tidak ditemukan" in await resp.text()


async def test_intake_the_normaliser_refuses_comes_back_with_the_field_to_fix(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When build_envelope refuses the reply address, the form returns (422) naming the phone, input kept."""

    def refuse(intake: Any) -> Any:
        raise InvalidIntake("reply address is empty or longer than 320 characters")

    monkeypatch.setattr("gateway.pages.views.build_envelope", refuse)
    resp = await site.submit(await site.new_form())
    html = await resp.text()
    assert resp.status == 422
    assert STRINGS["id"]["telp_invalid"] in html
    assert f'value="{NAME}"' in html and ADDRESS in html and TEXT in html
    assert site.inbox_count() == 0


async def test_a_bug_while_normalising_keeps_the_citizens_input(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error in build_envelope shows the form again with everything typed, not a bare 500 page."""

    def broken(intake: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr("gateway.pages.views.build_envelope", broken)
    resp = await site.submit(await site.new_form())
    html = await resp.text()
    assert resp.status == 500
    assert "Isian Anda tetap ada" in html
    assert f'value="{NAME}"' in html and ADDRESS in html and f'value="{PHONE}"' in html and TEXT in html
    assert site.inbox_count() == 0
