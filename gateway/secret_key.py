"""The key that signs and encrypts staff session cookies (``SECRET_KEY``).

Every web process must use the same key, or a session made by one is refused by another.
Embedded mode (``intake serve``) is one process with its own DATA_DIR, so when SECRET_KEY is
unset a key is generated once into ``DATA_DIR/secret_key`` (mode 0600) and read back at
every start. The distributed gateway may run as several processes on several machines: it
refuses to start without SECRET_KEY rather than give each process a key of its own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from config.settings import ConfigurationError, Settings

KEY_FILE = "secret_key"
MIN_SECRET_KEY_LENGTH = 32
HOW_TO_MAKE_ONE = "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def session_key(secret: str) -> bytes:
    """The 32 bytes aiohttp-session's EncryptedCookieStorage wants, derived from SECRET_KEY's text."""
    return hashlib.sha256(secret.encode()).digest()


def _check(secret: str, where: str) -> str:
    if len(secret) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(f"{where} is shorter than {MIN_SECRET_KEY_LENGTH} characters; {HOW_TO_MAKE_ONE}")
    return secret


def key_file_secret(data_dir: Path) -> str:
    """The secret kept in ``DATA_DIR/secret_key``, created (0600) on the first call.

    The key is written to a private temporary file and hard-linked into place, which fails if
    the file exists: two processes starting together end up reading one complete key.
    """
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    return _check(path.read_text().strip(), str(path))


def resolve_secret_key(settings: Settings, *, distributed: bool) -> bytes:
    """The session key: from SECRET_KEY, or (embedded only) from the key file in DATA_DIR."""
    if settings.secret_key:
        return session_key(_check(settings.secret_key, "SECRET_KEY"))
    if distributed:
        raise ConfigurationError(
            "SECRET_KEY is not set; every gateway process must share one to read the staff sessions; " + HOW_TO_MAKE_ONE
        )
    return session_key(key_file_secret(settings.data_dir))
