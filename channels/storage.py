"""Content-addressed file storage for what citizens send (photos, mail attachments, raw mail).

Files live under ``root/<sha256[:2]>/<sha256>``; the same bytes are stored once. Writes are
blocking: call them from a thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
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
