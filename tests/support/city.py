"""The shipped city config for tests, loaded once per test session, and copies of it to break."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path

from complaints.replies import reply_renderer
from config.loader import SHIPPED_CONFIG_DIR, load_city_config, shipped_files
from config.model import CityConfig


@functools.cache
def shipped_city() -> CityConfig:
    """The config shipped in config/ (Kota Bogor), as every runtime loads it by default."""
    return load_city_config(SHIPPED_CONFIG_DIR)


def copy_config(target: Path) -> Path:
    """A full copy of the shipped config files in ``target`` (what `intake config init` makes)."""
    for name in shipped_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHIPPED_CONFIG_DIR / name, target / name)
    return target


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` in ``path`` by ``new``; return the 1-based line where it was."""
    text = path.read_text(encoding="utf-8")
    index = text.index(old)
    path.write_text(text[:index] + new + text[index + len(old) :], encoding="utf-8")
    return text.count("\n", 0, index) + 1


def shipped_texts() -> Callable[..., str]:
    """The shipped reply templates as the renderer adapters are given (``texts=``)."""
    return reply_renderer(shipped_city().replies)
