"""Checks on the repository itself: what is committed stays small and reviewable."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 1024 * 1024
# Data a city ships on purpose (the national region list) may be larger than code.
LARGE_FILES_ALLOWED_UNDER = ("config/data/",)


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    return [name for name in out.decode().split("\0") if name]


def test_no_committed_file_over_one_megabyte_outside_config_data() -> None:
    """A binary or dump committed by mistake (a 10 MB wheel once was) fails the build, naming the file."""
    too_big = [
        f"{name} ({(ROOT / name).stat().st_size:,} bytes)"
        for name in _tracked_files()
        if (ROOT / name).is_file()
        and not name.startswith(LARGE_FILES_ALLOWED_UNDER)
        and (ROOT / name).stat().st_size > MAX_BYTES
    ]
    assert not too_big, "files over 1 MiB committed outside config/data/: " + ", ".join(too_big)
