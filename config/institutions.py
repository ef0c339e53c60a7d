"""National institutions for matters outside the city's authority (issue 14): institutions.yaml.

When the operator returns a case as "bukan wewenang Pemerintah Kota" the citizen is told, in plain
words, which institution can handle it: the one the operator picked, else the first whose keywords
appear in the complaint text. The file is optional (an empty list tells the citizen only that the
city cannot handle it); when present, `intake config check` checks it like every other file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from config.problems import LineDict, Problems, read_yaml

__all__ = ["INSTITUTIONS_FILE", "Institution", "InstitutionsConfig", "read_institutions"]

INSTITUTIONS_FILE = Path("institutions.yaml")
_CODE_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Institution:
    """A body outside the city that handles some matters: its name, keywords and public contact."""

    code: str
    name: str
    handles: tuple[str, ...]
    """Lower-case words or phrases of a complaint text that point to this institution."""
    contact: str
    """Where a citizen reaches it (a URL, a phone number, an address): public, never personal."""


@dataclass(frozen=True, slots=True)
class InstitutionsConfig:
    """The institutions in file order."""

    institutions: Mapping[str, Institution] = field(default_factory=dict)

    def get(self, code: str | None) -> Institution | None:
        """The institution with ``code``, or None."""
        return self.institutions.get(code or "")

    def match(self, text: str) -> Institution | None:
        """The first institution (in file order) one of whose keywords occurs in ``text`` as whole words."""
        padded = " " + " ".join(_WORD_RE.findall(text.lower())) + " "
        for institution in self.institutions.values():
            if any(f" {word} " in padded for word in institution.handles):
                return institution
        return None


def read_institutions(path: Path, problems: Problems) -> InstitutionsConfig | None:
    """Read and check institutions.yaml; an absent file is an empty list; None when any problem."""
    if not path.exists():
        return InstitutionsConfig()
    data = read_yaml(path, problems)
    if data is None:
        return None
    before = len(problems.items)
    raw = data.get("institutions")
    if not isinstance(raw, LineDict) or not raw:
        problems.add(path, data.line_of("institutions"), "'institutions' must map codes to name, handles, contact")
        return None
    found: dict[str, Institution] = {}
    for code, entry in raw.items():
        institution = _read_one(code, entry, path, raw.line_of(code), problems)
        if institution is not None:
            found[code] = institution
    if len(problems.items) > before:
        return None
    return InstitutionsConfig(MappingProxyType(found))


def _read_one(code: object, entry: object, path: Path, line: int, problems: Problems) -> Institution | None:
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        problems.add(path, line, f"institution code {code!r} must be lower-case letters, digits, _ and - (up to 40)")
        return None
    if not isinstance(entry, LineDict):
        problems.add(path, line, f"{code}: must have 'name', 'handles' and 'contact'")
        return None
    name, contact, handles = entry.get("name"), entry.get("contact"), entry.get("handles")
    if not isinstance(name, str) or not name.strip():
        problems.add(path, entry.line_of("name"), f"{code}: name must be text")
        return None
    if not isinstance(contact, str) or not contact.strip():
        problems.add(path, entry.line_of("contact"), f"{code}: contact must be text (a URL or phone number)")
        return None
    if not isinstance(handles, list) or not handles or not all(isinstance(w, str) and w.strip() for w in handles):
        problems.add(path, entry.line_of("handles"), f"{code}: handles must be a non-empty list of words")
        return None
    words = tuple(" ".join(_WORD_RE.findall(w.lower())) for w in handles)
    return Institution(code, name.strip(), words, contact.strip())
