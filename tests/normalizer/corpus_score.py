"""Score an identity parser against the hand-written corpus in ``tests/normalizer/corpus/``.

Shared by the accuracy test and ``bench/identity_accuracy.py`` so both count the same way:

- *accuracy* of a field: of the messages that give the field, the share read exactly right
  (a missing read and a wrong read both count as wrong);
- *precision*: of the values the parser returned, the share that are right (a value returned
  for a field the message does not give is wrong: it was invented);
- *no-identity precision*: of the messages that give no identity at all, the share from which
  nothing was read.

Values are compared after the clean-up a reader would not notice: NIK digits only, phone in
E.164, e-mail lower-cased, name and address case-folded with spaces collapsed and trailing
punctuation dropped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from normalizer.envelope import Identity
from normalizer.identity import normalize_phone

CORPUS_DIR = Path(__file__).parent / "corpus"
FIELDS = ("nik", "name", "address", "phone", "email")
PARTS = ("tune", "heldout")

Parser = Callable[[str], tuple[Identity, str]]


@dataclass(frozen=True, slots=True)
class Example:
    """One corpus message and what a careful reader takes from it."""

    part: str
    source: str
    style: str
    text: str
    expected: dict[str, str | None]
    complaint: str | None


def load_corpus(parts: Iterable[str] = PARTS) -> list[Example]:
    """All examples of the named parts, in file order."""
    examples = []
    for part in parts:
        for path in sorted((CORPUS_DIR / part).glob("*.yaml")):
            for index, entry in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))):
                expected = {f: (str(entry[f]) if entry.get(f) is not None else None) for f in FIELDS}
                examples.append(
                    Example(
                        part=part,
                        source=f"{part}/{path.name}#{index + 1}",
                        style=entry["style"],
                        text=entry["text"],
                        expected=expected,
                        complaint=entry.get("complaint"),
                    )
                )
    return examples


def comparable(field_name: str, value: str | None) -> str | None:
    """The form two values of ``field_name`` are compared in (None for empty)."""
    if value is None or not value.strip():
        return None
    if field_name == "nik":
        return re.sub(r"[\s.\-]", "", value)
    if field_name == "phone":
        return normalize_phone(value) or value.strip()
    if field_name == "email":
        return value.strip().lower()
    return re.sub(r"\s+", " ", value).strip(" .,;:").casefold()


@dataclass
class Tally:
    """Counts for one group of examples (a field, a style, a part)."""

    given: int = 0  # fields the messages give
    right: int = 0  # ... read exactly right
    returned: int = 0  # values the parser returned
    returned_right: int = 0

    @property
    def accuracy(self) -> float:
        """Share of the given fields read right (1.0 when none are given)."""
        return self.right / self.given if self.given else 1.0

    @property
    def precision(self) -> float:
        """Share of the returned values that are right (1.0 when none are returned)."""
        return self.returned_right / self.returned if self.returned else 1.0


@dataclass
class Score:
    """The result of running a parser over examples."""

    by_field: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_style: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    total: Tally = field(default_factory=Tally)
    no_identity: int = 0
    no_identity_clean: int = 0
    complaints: int = 0
    complaints_kept: int = 0
    mistakes: list[str] = field(default_factory=list)

    @property
    def no_identity_precision(self) -> float:
        """Share of the messages without identity from which nothing was read."""
        return self.no_identity_clean / self.no_identity if self.no_identity else 1.0


def score(parser: Parser, examples: Iterable[Example]) -> Score:
    """Run ``parser`` over ``examples`` and count right, wrong and invented values."""
    result = Score()
    for example in examples:
        identity, rest = parser(example.text)
        invented = False
        for name in FIELDS:
            want = comparable(name, example.expected[name])
            got = comparable(name, getattr(identity, name))
            tallies = (result.by_field[name], result.by_style[example.style], result.total)
            for tally in tallies:
                tally.given += want is not None
                tally.right += want is not None and got == want
                tally.returned += got is not None
                tally.returned_right += got is not None and got == want
            if got != want:
                invented |= want is None
                result.mistakes.append(f"{example.source} {name}: want {want!r}, got {got!r}")
        if all(v is None for v in example.expected.values()):
            result.no_identity += 1
            result.no_identity_clean += not invented
        if example.complaint:
            result.complaints += 1
            if example.complaint.casefold() in rest.casefold():
                result.complaints_kept += 1
            else:
                result.mistakes.append(f"{example.source} complaint: {example.complaint!r} not in {rest!r}")
    return result
