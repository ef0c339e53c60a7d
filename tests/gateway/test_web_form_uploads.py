"""A rejected web-form post leaves no photo in the attachment store, and held photos do not pile up (issue 12)."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest

from channels.storage import held_uploads_dir, hold_upload
from tests.gateway import test_pages
from tests.gateway.test_pages import Site
from tests.support.images import png
from workers.sweeper import sweep_once

site = test_pages.site  # the citizen site fixture (SQLite, no workers)
pytestmark = pytest.mark.asyncio


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_a_rejected_post_leaves_no_photo_in_the_attachment_store(site: Site) -> None:
    """An identity error keeps the photo aside for the corrected post only; the accepted post moves it in."""
    image = png()
    sha = hashlib.sha256(image).hexdigest()
    sid = await site.new_form()
    # Given a post rejected for its NIK, with a good photo
    resp = await site.submit(sid, nik="123", photo=("lubang.png", image, "image/png"))
    html = await resp.text()
    assert resp.status == 422
    # Then nothing is in the attachment store; the photo waits among the held uploads
    assert files_under(site.settings.attachments_dir) == []
    held = held_uploads_dir(site.settings.data_dir)
    assert [p.name for p in files_under(held)] == [sha]
    # When the citizen corrects the NIK and sends again without picking the photo again
    ref = re.search(r'name="foto_ref" value="([0-9a-f]{64})"', html)
    assert ref and ref.group(1) == sha
    resp = await site.submit(sid, foto_ref=sha, foto_nama="lubang.png")
    assert resp.status == 303
    # Then the photo is an attachment of the stored complaint and no longer held
    assert [p.name for p in files_under(site.settings.attachments_dir)] == [sha]
    assert files_under(held) == []


async def test_a_post_refused_before_it_is_read_keeps_nothing(site: Site) -> None:
    """A forged post (no token) with a photo is refused and writes no file anywhere."""
    await site.new_form()
    site.csrf_token = ""
    resp = await site.submit("b" * 22, photo=("lubang.png", png(), "image/png"))
    assert resp.status == 403
    assert files_under(site.settings.data_dir / "attachments") == []
    assert files_under(held_uploads_dir(site.settings.data_dir)) == []


async def test_the_sweeper_removes_held_photos_older_than_a_day(site: Site) -> None:
    """A held photo nobody came back for is deleted after UPLOAD_ORPHAN_HOURS; a recent one stays."""
    data_dir = site.settings.data_dir
    old = hold_upload(data_dir, "a" * 64, b"old photo")
    recent = hold_upload(data_dir, "b" * 64, b"recent photo")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    sweep_once(site.runtime)
    assert not old.exists()
    assert recent.exists()
