"""Content-addressed file storage for what citizens send (photos, mail attachments, raw mail).

Files live under ``root/<sha256[:2]>/<sha256>``; the same bytes are stored once. Writes are
blocking: call them from a thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path


def attachment_path(root: Path, sha256: str) -> Path:
    """Where the bytes of an attachment live: ``root/<sha256[:2]>/<sha256>``."""
    return root / sha256[:2] / sha256


def save_attachment(root: Path, sha256: str, data: bytes) -> Path:
    """Write ``data`` under its hash (atomically; an existing copy is kept). Blocking: use a thread."""
    path = attachment_path(root, sha256)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def store_bytes(root: Path, data: bytes) -> str:
    """Store ``data`` and return its SHA-256 (hex)."""
    sha256 = hashlib.sha256(data).hexdigest()
    save_attachment(root, sha256, data)
    return sha256


# part-hostile: photos of rejected web-form posts are held apart from the attachments of stored
# complaints, so a rejected post leaves nothing in the attachment store and the clean-up below
# can delete what nobody came back for without asking the database what is referenced.
HELD_UPLOADS = "held-uploads"


def held_uploads_dir(data_dir: Path) -> Path:
    """Where photos of rejected web-form posts wait for the citizen's corrected post."""
    return data_dir / HELD_UPLOADS


def remove_stale_held_uploads(data_dir: Path, older_than_seconds: float, now: float | None = None) -> int:
    """Delete held photos (and interrupted temporary files) older than ``older_than_seconds``.

    Returns how many files were removed. Blocking: call it from a thread or the sweeper.
    """
    root = held_uploads_dir(data_dir)
    if not root.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - older_than_seconds
    removed = 0
    for path in root.glob("*/*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # taken by a corrected post (or another sweeper) meanwhile
    return removed


def hold_upload(data_dir: Path, sha256: str, data: bytes) -> Path:
    """Keep a rejected post's photo until the corrected post (or the clean-up) takes it. Blocking."""
    path = save_attachment(held_uploads_dir(data_dir), sha256, data)
    path.touch()  # the clean-up counts from the latest rejection, not the first
    return path


def release_held_upload(data_dir: Path, sha256: str) -> None:
    """Forget a held photo once its complaint is stored (its bytes are in the attachments now)."""
    attachment_path(held_uploads_dir(data_dir), sha256).unlink(missing_ok=True)
