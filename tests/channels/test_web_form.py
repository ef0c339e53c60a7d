"""The web form adapter, sans-I/O: form fields + photo -> Intake, or field errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from channels.base import OutboundReply
from channels.storage import save_attachment
from channels.web_form import (
    FormErrors,
    UploadedPhoto,
    WebForm,
    sanitize_filename,
    sniff_image_type,
)
from config.settings import Settings
from tests.support.images import png

NIK = "3271014501900002"  # Bogor Selatan, woman born 5 Jan 1990
FIELDS = {
    "nik": " 3271014501900002 ",
    "nama": "Siti Aminah",
    "alamat": "Jl. Pajajaran No. 5, RT 02/RW 03, Baranangsiang",
    "telp": "0812-3456-7890",
    "email": "",
    "isi": "  Jalan berlubang besar di Jl. Pajajaran dekat Kebun Raya  ",
    "submission_id": "kX3v9Qm2LrT8pZa1bC4dEf",
}


@pytest.fixture
def form(tmp_path: Path) -> WebForm:
    return WebForm(Settings(data_dir=tmp_path, max_upload_bytes=1024))


def test_valid_submission_becomes_an_intake(form: WebForm) -> None:
    """A complete form gives a web intake keyed by its submission id, identity as typed (trimmed)."""
    intake = form.parse_submission(FIELDS, None, lang="en")
    assert intake.channel == "web" and intake.provider == "web"
    assert intake.external_id == "web:kX3v9Qm2LrT8pZa1bC4dEf"
    assert intake.text == "Jalan berlubang besar di Jl. Pajajaran dekat Kebun Raya"
    assert intake.identity.nik == NIK
    assert intake.identity.name == "Siti Aminah"
    assert intake.identity.phone == "0812-3456-7890"
    assert intake.identity.email is None
    assert intake.reply_route.channel == "web" and intake.reply_route.address == "0812-3456-7890"
    assert intake.language == "en" and intake.kind == "complaint"
    assert intake.attachments == ()


def test_protection_checkboxes_set_the_flags(form: WebForm) -> None:
    """Issue 14: the ticked "anonim" / "rahasia" boxes (value 1) reach the intake; unticked (absent) means neither."""
    ticked = form.parse_submission({**FIELDS, "rahasia": "1", "anonim": "1"}, None, lang="id")
    assert ticked.rahasia and ticked.anonim
    assert not form.parse_submission(FIELDS, None, lang="id").anonim


def test_identity_is_not_validated_by_the_adapter(form: WebForm) -> None:
    """A missing NIK still gives an intake: the worker returns it to the citizen (SOP step 3)."""
    intake = form.parse_submission({**FIELDS, "nik": "  "}, None, lang="id")
    assert intake.identity.nik is None


def test_email_is_the_reply_address_when_given(form: WebForm) -> None:
    """With an email the reply route points at it rather than the phone."""
    intake = form.parse_submission({**FIELDS, "email": "siti@example.id"}, None, lang="id")
    assert intake.reply_route.address == "siti@example.id"


def test_missing_submission_id_falls_back_to_fingerprint(form: WebForm) -> None:
    """Without a well-formed submission id the external id is left to the normalizer's fingerprint."""
    assert form.parse_submission({**FIELDS, "submission_id": "x"}, None, lang="id").external_id is None


@pytest.mark.parametrize("text", ["", "   \n  "])
def test_empty_text_is_an_error(form: WebForm, text: str) -> None:
    """An empty complaint text is refused on the isi field."""
    with pytest.raises(FormErrors) as exc:
        form.parse_submission({**FIELDS, "isi": text}, None, lang="id")
    assert exc.value.errors == {"isi": "isi_missing"}


def test_too_long_text_is_an_error(form: WebForm) -> None:
    """More than 5000 characters is refused on the isi field."""
    with pytest.raises(FormErrors) as exc:
        form.parse_submission({**FIELDS, "isi": "a" * 5001}, None, lang="id")
    assert exc.value.errors == {"isi": "isi_too_long"}


def test_photo_is_referenced_by_hash_with_sniffed_type(form: WebForm) -> None:
    """A PNG becomes an attachment with its sha256, size, real type and a safe filename."""
    data = png()
    photo = UploadedPhoto(data, filename="C:\\Users\\siti\\jalan <rusak>.png", declared_type="application/octet-stream")
    intake = form.parse_submission(FIELDS, photo, lang="id")
    (att,) = intake.attachments
    assert att.sha256 == hashlib.sha256(data).hexdigest()
    assert att.size == len(data)
    assert att.content_type == "image/png"
    assert att.filename == "jalan_rusak_.png"


def test_bad_magic_bytes_are_refused_whatever_the_declared_type(form: WebForm) -> None:
    """A file that claims to be image/jpeg but is not an image is refused on the foto field."""
    photo = UploadedPhoto(b"<?php system($_GET['c']); ?>", filename="x.jpg", declared_type="image/jpeg")
    with pytest.raises(FormErrors) as exc:
        form.parse_submission(FIELDS, photo, lang="id")
    assert exc.value.errors == {"foto": "foto_type"}


def test_oversized_photo_is_refused(form: WebForm) -> None:
    """A photo over max_upload_bytes is refused on the foto field."""
    photo = UploadedPhoto(png() + b"\0" * 2048, filename="big.png", declared_type="image/png")
    with pytest.raises(FormErrors) as exc:
        form.parse_submission(FIELDS, photo, lang="id")
    assert exc.value.errors == {"foto": "foto_too_large"}


def test_all_errors_are_reported_together(form: WebForm) -> None:
    """Empty text and a bad photo are both reported, so the citizen fixes them in one go."""
    with pytest.raises(FormErrors) as exc:
        form.parse_submission({**FIELDS, "isi": ""}, UploadedPhoto(b"GIF89a...."), lang="id")
    assert exc.value.errors == {"isi": "isi_missing", "foto": "foto_type"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00", "image/png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a", None),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
    ],
)
def test_sniff_image_type(data: bytes, expected: str | None) -> None:
    """Only JPEG, PNG and WebP magic bytes are recognised."""
    assert sniff_image_type(data) == expected


@pytest.mark.parametrize(("given", "expected"), [("../../etc/passwd", "passwd"), ("...", None), (None, None)])
def test_sanitize_filename(given: str | None, expected: str | None) -> None:
    """Path parts and unsafe characters never reach the stored filename."""
    assert sanitize_filename(given) == expected


def test_save_attachment_stores_by_hash(tmp_path: Path) -> None:
    """Bytes land under <root>/<sha[:2]>/<sha> and a second save keeps the first copy."""
    data = png()
    sha = hashlib.sha256(data).hexdigest()
    path = save_attachment(tmp_path, sha, data)
    assert path == tmp_path / sha[:2] / sha and path.read_bytes() == data
    assert save_attachment(tmp_path, sha, data) == path
    assert [p.name for p in path.parent.iterdir()] == [sha]


@pytest.mark.asyncio
async def test_send_has_no_push(form: WebForm) -> None:
    """Replies on the web channel are read on the tracking page: send delivers nothing, no id."""
    result = await form.send(OutboundReply(id="r1", channel="web", provider="web", address="-", text="hi"))
    assert result.provider_message_id is None
    await form.close()


def test_adapter_has_no_webhook(form: WebForm) -> None:
    """The web form mounts no webhook route: the citizen pages handle it."""
    assert form.path is None and form.methods == () and form.name == "web" and form.channel == "web"
