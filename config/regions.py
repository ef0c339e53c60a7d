"""Indonesian region codes (Kemendagri kode wilayah) down to kecamatan level.

The table lives in ``config/data/wilayah.csv`` (``code,name`` rows such as ``32``,
``32.71``, ``32.71.01``); its source and licence are in ``config/data/README.md``.
It is data, not code, so a new Kepmendagri decree only means replacing the CSV.

A NIK's first six digits are the kecamatan where the number was issued, which is why
the NIK check asks :func:`is_known_district`.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "wilayah.csv"

# "32", "3271", "327101" or dotted "32.71", "32.71.01"; anything else is not a code.
_UNDOTTED = re.compile(r"\d{2}(?:\d{2}){0,2}")
_DOTTED = re.compile(r"\d{2}(?:\.\d{2}){0,2}")


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    """Load the CSV once (about 7,800 rows); lines starting with ``#`` are comments."""
    with DATA_FILE.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {row["code"].strip(): row["name"].strip() for row in rows}


def _dotted(code: str) -> str | None:
    """Return ``code`` in dotted form, or None when it is not a region code at all."""
    code = code.strip()
    if _DOTTED.fullmatch(code):
        return code
    if _UNDOTTED.fullmatch(code):
        return ".".join(code[i : i + 2] for i in range(0, len(code), 2))
    return None


def region_name(code: str) -> str | None:
    """Name of a province, regency/city or district, e.g. ``"32.71"`` -> ``"Kota Bogor"``.

    Accepts dotted (``"32.71.01"``) and undotted (``"327101"``) codes; returns None for
    an unknown or malformed code.
    """
    dotted = _dotted(code)
    return _table().get(dotted) if dotted else None


def is_known_district(code6: str) -> bool:
    """True when ``code6`` (``"327101"`` or ``"32.71.01"``) is a kecamatan in the list."""
    dotted = _dotted(code6)
    return dotted is not None and dotted.count(".") == 2 and dotted in _table()
