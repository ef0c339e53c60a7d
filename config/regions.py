"""Indonesian region codes (Kemendagri kode wilayah) down to kecamatan level.

The table is ``data/wilayah.csv`` in the config directory (``code,name`` rows such as ``32``,
``32.71``, ``32.71.01``); the shipped copy's source and licence are in ``config/data/README.md``.
It is data, not code, so a new Kepmendagri decree only means replacing the CSV.

A NIK's first six digits are the kecamatan where the number was issued, which is why
the NIK check asks :meth:`Regions.is_known_district`. The table is loaded once, with the rest
of the city's config, and handed to whoever checks a NIK.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from config.problems import Problems

REGIONS_FILE = Path("data") / "wilayah.csv"

# "32", "3271", "327101" or dotted "32.71", "32.71.01"; anything else is not a code.
_UNDOTTED = re.compile(r"\d{2}(?:\d{2}){0,2}")
_DOTTED = re.compile(r"\d{2}(?:\.\d{2}){0,2}")


def dotted(code: str) -> str | None:
    """Return ``code`` in dotted form, or None when it is not a region code at all."""
    code = code.strip()
    if _DOTTED.fullmatch(code):
        return code
    if _UNDOTTED.fullmatch(code):
        return ".".join(code[i : i + 2] for i in range(0, len(code), 2))
    return None


@dataclass(frozen=True, slots=True, eq=False)
class Regions:
    """The region list: dotted code -> name, provinces, regencies/cities and districts."""

    names: Mapping[str, str]

    def __len__(self) -> int:
        return len(self.names)

    def name(self, code: str) -> str | None:
        """Name of a province, regency/city or district, e.g. ``"32.71"`` -> ``"Kota Bogor"``.

        Accepts dotted (``"32.71.01"``) and undotted (``"327101"``) codes; returns None for
        an unknown or malformed code.
        """
        code = dotted(code) or ""
        return self.names.get(code)

    def is_known_district(self, code6: str) -> bool:
        """True when ``code6`` (``"327101"`` or ``"32.71.01"``) is a kecamatan in the list."""
        code = dotted(code6)
        return code is not None and code.count(".") == 2 and code in self.names

    def is_regency(self, code: str) -> bool:
        """True when ``code`` (``"32.71"``) is a regency or city in the list."""
        code = dotted(code) or ""
        return code.count(".") == 1 and code in self.names


def load_regions(path: Path, problems: Problems) -> Regions:
    """Read the region CSV; bad rows are recorded in ``problems`` with their line."""
    names: dict[str, str] = {}
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError:
        problems.add(path, 0, "file is missing")
        return Regions(MappingProxyType(names))
    with handle:
        # Lines starting with "#" are comments; line numbers count them, as an editor does.
        lines = [(number, line) for number, line in enumerate(handle, start=1) if not line.startswith("#")]
    if not lines or lines[0][1].strip() != "code,name":
        problems.add(path, lines[0][0] if lines else 1, "the first row must be the header 'code,name'")
        return Regions(MappingProxyType(names))
    for number, line in lines[1:]:
        row = next(csv.reader([line]), [])
        if not row:
            continue
        if len(row) != 2 or not row[1].strip():
            problems.add(path, number, "a row is 'code,name'")
            continue
        code, name = row[0].strip(), row[1].strip()
        if not _DOTTED.fullmatch(code):
            problems.add(path, number, f"{code!r} is not a dotted region code such as 32.71.01")
        elif code in names:
            problems.add(path, number, f"region {code} is listed twice")
        else:
            names[code] = name
    if not names:
        problems.add(path, 0, "no regions listed")
    return Regions(MappingProxyType(names))
