"""The grammars of the identity reader: labels, tokens, and how far each kind of value runs.

:class:`TextReader` holds one message, the labels found in it and the values taken so far;
its ``read_*`` methods each read one kind of value from a position and return its span (or
None when what stands there is not that kind of value). :mod:`normalizer.identity_text`
decides which to call where.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from normalizer.identity_lexicon import (
    ABBREVIATIONS,
    ADDRESS_WORDS,
    AREA_MARKERS,
    BARE_PLACES,
    HONORIFICS,
    LABELS,
    NAME_TITLES,
    NOT_NAME_WORDS,
    NOT_NAMES,
    NOT_SELF_NAMES,
    PLACE_NAMES,
    SELF_WORDS,
    STOP_WORDS,
    STREET_MARKERS,
    THIRD_PARTY,
)

__all__ = ["EMAIL_RE", "IDENTITY_FIELDS", "FieldRead", "Label", "TextReader", "Token"]

IDENTITY_FIELDS = ("nik", "name", "address", "phone", "email")


@dataclass(frozen=True, slots=True)
class FieldRead:
    """One value as written (not yet cleaned) and where it stands: ``text[start:end]``."""

    value: str
    start: int
    end: int
    labelled: bool = False  # behind a label or in the LAPOR# form: the writer said what it is
    label: str | None = None
    """The label as written before the value ("almt", "No. KTP", "LAPOR#"), for a console to show
    where the value came from; None for a value read without one of its own."""


# --------------------------------------------------------------------------- patterns

_LABEL_RE = re.compile(
    r"(?<![\w@.'’/\-])(?:"
    + "|".join(f"(?P<{kind}>{'|'.join(alts)})" for kind, alts in LABELS.items())
    + r")(?![^\W\d_])(?P<sep>[ \t]*(?:[:=/\-–.,][ \t]*)?)",
    re.IGNORECASE,
)
_FILLER_RE = re.compile(r"(?:(?:saya|sy|aku|ku|my|is)\b[ \t]*(?:[:=][ \t]*)?)*", re.IGNORECASE)
_TOKEN_RE = re.compile(r"(?:[^\s,;()\[\]|#!?/]|(?<=\w)/(?=\w))+|[,;()\[\]|#!?/]")
EMAIL_RE = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")
_WORD_RE = re.compile(r"[^\W\d_]+(?:[.'’\-][^\W\d_]+)*\.?")
_DIGITS = re.compile(r"\d+")
_DIGIT_GROUP = re.compile(r"[ .\-]?(\d+)")
_PHONE_GROUP = re.compile(r"[ \t]?[.\-]?[ \t]?(\+?\(?\d+\)?)")
_EXPLICIT = frozenset(":=")
_THIRD_PARTY_RE = re.compile(r"(?<![^\W_])(?:" + "|".join(THIRD_PARTY) + r")(?![^\W_])", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?\n](?=\s|$)|\n")
# What may stand right before a label for it to start a field: nothing (line start), a
# separator, or a word that names the writer ("saya nama ..." is rare, "sy nik ..." is not).
_CLAUSE_BREAK = frozenset(",.;:()[]/-|–")
# Words after which a label still starts a field: "saya melapor atas nama Hj. Nurlela".
_INTRODUCERS = SELF_WORDS | {"melapor", "lapor", "mengadu", "dengan", "and", "dan"}
_NIK_AT_END = re.compile(r"\d(?:[ .\-]?\d){15}\Z")


@dataclass(frozen=True, slots=True)
class Label:
    """A label found in the text: its kind (a field, "text", "identity" or "self") and where its value starts."""

    kind: str
    start: int
    value_start: int
    explicit: bool  # followed by ":" or "=": whatever follows is the value


@dataclass(frozen=True, slots=True)
class Token:
    """A word, number or punctuation mark of one line, with its place in the text."""

    text: str
    start: int
    end: int

    @property
    def core(self) -> str:
        return self.text.rstrip(".").lower()

    @property
    def ends_sentence(self) -> bool:
        """A dot after a word that is not an abbreviation ("Bogor." but not "Jl.")."""
        return self.text.endswith(".") and len(self.text) > 1 and self.core not in ABBREVIATIONS

    @property
    def has_digit(self) -> bool:
        return any(ch.isdigit() for ch in self.text)


class TextReader:
    """One message being read; holds the text, the labels found in it and what was taken."""

    def __init__(self, text: str, is_nik: Callable[[str], bool], is_phone: Callable[[str], bool]) -> None:
        self.text = text
        self.is_nik = is_nik
        self.is_phone = is_phone
        self.uniform_case = text == text.lower() or text == text.upper()
        self.labels = [self._label(m) for m in _LABEL_RE.finditer(text)]
        self.label_starts = {label.start for label in self.labels if label.kind != "self"}
        self.fields: dict[str, FieldRead] = {}
        self.spans: list[tuple[int, int]] = []  # label + value, removed from the complaint
        self.kept_spans: list[tuple[int, int]] = []  # read without a label: stays in the complaint

    def _label(self, match: re.Match[str]) -> Label:
        kind = next(k for k in LABELS if match.group(k) is not None)
        explicit = bool(_EXPLICIT & set(match.group("sep")))
        value_start = match.end()
        if kind in IDENTITY_FIELDS:
            value_start = _FILLER_RE.match(self.text, value_start).end()  # type: ignore[union-attr]
        return Label(kind, match.start(), value_start, explicit)

    # -- tokens --------------------------------------------------------------------------
    def tokens(self, pos: int) -> list[Token]:
        """The tokens from ``pos`` to the end of its line."""
        end = self.text.find("\n", pos)
        end = len(self.text) if end < 0 else end
        return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(self.text, pos, end)]

    def is_label(self, token: Token) -> bool:
        return token.start in self.label_starts

    def taken(self, pos: int) -> bool:
        return any(start <= pos < end for start, end in self.spans + self.kept_spans)

    def take(self, name: str, start: int, end: int, label_start: int | None = None, *, labelled: bool = False) -> None:
        """Record a value; only a labelled one (the writer said what it is) leaves the complaint text."""
        value = self.text[start:end].strip(" \t,;.")
        end = start + len(self.text[start:end].rstrip(" \t,;."))
        start = end - len(value)
        labelled = labelled or label_start is not None
        if value and name not in self.fields:
            self.fields[name] = FieldRead(value, start, end, labelled, self._label_text(label_start))
            spans = self.spans if labelled else self.kept_spans
            spans.append((start if label_start is None else label_start, end))

    def _label_text(self, label_start: int | None) -> str | None:
        """The label word(s) starting at ``label_start``, without the separator after them."""
        match = _LABEL_RE.match(self.text, label_start) if label_start is not None else None
        if match is None:
            return None
        return self.text[match.start() : match.end() - len(match.group("sep"))].strip()[:40] or None

    # -- whose value -----------------------------------------------------------------------
    def starts_clause(self, label: Label) -> bool:
        """Does ``label`` start a field, rather than stand in a sentence ("papan nama hilang")?

        True at a line start, after a separator, right after a value read (or a NIK, read
        later), after "saya" or "melapor", and for labels that name the writer themselves
        ("wa sy ...", "I live at ...").
        """
        written = re.findall(r"[^\W\d_]+", self.text[label.start : label.value_start].lower())
        if written and (written[0] in SELF_WORDS or written[-1] in SELF_WORDS):
            return True
        line_start = self.text.rfind("\n", 0, label.start) + 1
        before = self.text[line_start : label.start].rstrip(" \t")
        if not before or before[-1] in _CLAUSE_BREAK:
            return True
        if any(end == line_start + len(before) for _, end in self.spans + self.kept_spans):
            return True
        if (nik := _NIK_AT_END.search(before)) and self.is_nik(nik.group()):
            return True
        return before.split()[-1].lower() in _INTRODUCERS

    def third_party_before(self, pos: int) -> bool:
        """True when the sentence before ``pos`` names someone else or another document.

        "NIK ibu saya 3271...", "Pak RT nomor HP 0812...", "Nomor KK 3271...": the number that
        follows is theirs, not the writer's.
        """
        ends = [m.end() for m in _SENTENCE_END.finditer(self.text, 0, pos)]
        start = ends[-1] if ends else 0
        return _THIRD_PARTY_RE.search(self.text, start, pos) is not None

    def self_reference_before(self, pos: int) -> bool:
        """True when the sentence before ``pos`` has the writer speaking of themself ("saya ...")."""
        ends = [m.end() for m in _SENTENCE_END.finditer(self.text, 0, pos)]
        start = ends[-1] if ends else 0
        words = re.findall(r"[^\W\d_]+", self.text[start:pos].lower())
        return any(word in SELF_WORDS for word in words)

    # -- values --------------------------------------------------------------------------
    def read_nik(self, pos: int, *, labelled: bool) -> tuple[int, int] | None:
        """Digits in groups ("3271 0115 0890 0001", "3271.01-..."), 16 at most."""
        pos = self.skip_blanks(pos)
        first = _DIGITS.match(self.text, pos)
        if first is None:
            return None
        digits, end = len(first.group()), first.end()
        while digits < 16 and (group := _DIGIT_GROUP.match(self.text, end)) is not None:
            if digits + len(group.group(1)) > 16:
                break
            digits, end = digits + len(group.group(1)), group.end()
        if end < len(self.text) and self.text[end].isalpha():
            # "32710115089O0001": a letter typed for a digit; keep it so the check says "format".
            end = pos + len(self.text[pos:].split(None, 1)[0].rstrip(",;."))
            return (pos, end) if labelled else None
        return (pos, end) if digits >= 10 else None

    def read_phone(self, pos: int, *, explicit: bool) -> tuple[int, int] | None:
        """Digit groups that make a valid number; the longest valid prefix wins."""
        pos = self.skip_blanks(pos)
        end, best, first, digits = pos, None, None, 0
        while digits < 15:
            group = _PHONE_GROUP.match(self.text, end)
            if group is None or (end == pos and group.start(1) != pos):
                break
            digits += sum(ch.isdigit() for ch in group.group(1))
            end = group.end()
            first = first or end
            if self.is_phone(self.text[pos:end]):
                best = end
        if best is not None:
            return pos, best
        return (pos, first) if explicit and first else None

    def read_email(self, pos: int) -> tuple[int, int] | None:
        match = EMAIL_RE.match(self.text, self.skip_blanks(pos))
        return (match.start(), match.end()) if match else None

    def read_name(
        self, pos: int, *, weak: bool, explicit: bool = False, whole_line: bool = False
    ) -> tuple[int, int] | None:
        """Words that can be a name; stops at a label, digit, punctuation or ordinary word.

        Without ":"/"=" after the label, a name that is not capitalised in mixed-case text must
        end at a boundary (a label, number, punctuation, street word or line end): "nama budi
        alamat ..." is a name, "Nama program bantuan itu apa?" is not.
        """
        start = end = None
        count = capitalised = 0
        ran_into_words = False
        for token in self.tokens(pos):
            core = token.core
            if self.is_label(token) or token.has_digit or not _WORD_RE.fullmatch(token.text):
                break
            if start is None and core in HONORIFICS:
                continue
            if core in STREET_MARKERS or core in AREA_MARKERS:
                break
            upper = token.text[0].isupper()
            if (
                core in STOP_WORDS
                or core in NOT_NAMES
                or (not self.uniform_case and not upper and (weak or capitalised))
            ):
                ran_into_words = True
                break
            start = token.start if start is None else start
            end = token.end
            count += 1
            capitalised += upper
            if token.ends_sentence and core not in NAME_TITLES:
                end -= 1
                break
            if count >= 5:
                ran_into_words = True  # a run of five words and more is a sentence, not a name
                break
        if start is None or end is None:
            return None
        if ran_into_words and not explicit and (self.uniform_case or not capitalised):
            return None
        first = self.text[start:end].split()[0].rstrip(".").lower()
        if not explicit and first in NOT_NAME_WORDS:
            return None  # "Atas nama keadilan", "Hormat saya,\nTTD"
        if weak and first in NOT_SELF_NAMES:
            return None  # "Saya Kecewa dengan ...", "Saya Mahasiswa IPB"
        words = [w for w in re.split(r"\s+", self.text[start:end]) if w.rstrip(".").lower() not in NAME_TITLES]
        if not words or sum(ch.isalpha() for ch in "".join(words)) < 2:
            return None
        if whole_line and self.text[end:].split("\n", 1)[0].strip(" .,"):
            return None
        return start, end

    def read_address(self, pos: int, *, kind: str, explicit: bool) -> tuple[int, int] | None:
        """An address: street or area words, a house number, then area words or place names."""
        tokens = self.tokens(pos)
        if not tokens or not self._address_start(tokens[0], kind=kind, explicit=explicit):
            return None
        start, end, mode, seen_number = tokens[0].start, tokens[0].start, "free", False
        for index, token in enumerate(tokens):
            if self.is_label(token) and index:
                break
            if token.text == ",":
                if self._address_goes_on(tokens[index + 1 :], explicit=explicit):
                    continue
                break
            if token.text in ";()[]|#!?/":
                break
            core = token.core
            if token.has_digit:
                seen_number = seen_number or index > 0
                mode = "free"
            elif core in STREET_MARKERS:
                # After the house number a street word starts the complaint ("... 8 jalan
                # licin"), unless it is written as an abbreviation ("... 7 Gg. Mawar").
                if seen_number and not token.text.endswith("."):
                    break
                mode = "street"
            elif core in AREA_MARKERS:
                mode = "area"
            elif core in ADDRESS_WORDS or core in PLACE_NAMES:
                pass
            elif core in STOP_WORDS:
                break
            elif seen_number:
                if not (explicit and token.text[0].isupper() and not self.uniform_case):
                    break
            elif mode != "street" and not (self.uniform_case or token.text[0].isupper()):
                break
            end = token.end
            if token.ends_sentence:
                end -= 1
                break
            if index >= 20:
                break
        if end <= start:
            return None
        if not explicit and not self._address_shaped(start, end):
            return None  # "tinggal di Bogor", "warga Kota Bogor": a city is nobody's address
        return start, end

    def _address_shaped(self, start: int, end: int) -> bool:
        """A house number, a street or area word, or a kelurahan/kecamatan name: not a bare city."""
        for token in self.tokens(start):
            if token.start >= end:
                break
            core = token.core
            if token.has_digit or core in STREET_MARKERS:
                return True
            if (core in AREA_MARKERS or core in PLACE_NAMES) and core not in BARE_PLACES:
                return True
        return False

    def _address_start(self, token: Token, *, kind: str, explicit: bool) -> bool:
        core = token.core
        if token.has_digit or core in STREET_MARKERS or core in AREA_MARKERS or core in PLACE_NAMES:
            return not self.is_label(token)
        if explicit:
            return True
        # "tinggal di Cimahpar" names a place; "Alamat RSUD Kota Bogor di mana?" asks for one.
        return kind == "phrase" and token.text[0].isupper() and core not in STOP_WORDS and not self.is_label(token)

    def _address_goes_on(self, rest: list[Token], *, explicit: bool) -> bool:
        """After a comma: does the next part still belong to the address?"""
        segment = []
        for token in rest:
            if token.text in ",;":
                break
            segment.append(token)
            if token.ends_sentence:
                break
        if not segment or self.is_label(segment[0]):
            return False
        first = segment[0]
        if first.has_digit or first.core in AREA_MARKERS:
            return True
        if first.core in STREET_MARKERS:
            # "..., Gg. Mawar 2" goes on; "..., jalan kampung rusak" is the complaint.
            return first.text.endswith(".") or first.text[0].isupper() or self.uniform_case
        # "..., Bogor Tengah" goes on; "..., TANAH LONGSOR" is the complaint.
        if all(t.has_digit or t.core in ADDRESS_WORDS or t.core in PLACE_NAMES for t in segment):
            return True
        return (
            explicit
            and not self.uniform_case
            and len(segment) <= 4
            and all(t.text[0].isupper() and t.core not in STOP_WORDS for t in segment)
        )

    def skip_blanks(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in " \t":
            pos += 1
        return pos

    def warga_allowed(self, label: Label) -> bool:
        """The word "warga" names the reporter's address only after "saya", a comma, a NIK or a bracket."""
        before = self.text[: label.start].rstrip(" \t")  # on the same line: not "Terima kasih,\nWarga ..."
        if any(end == len(before) for _, end in self.spans):
            return True  # right after the name or NIK just read: "sy Reza warga Bantarjati"
        return bool(re.search(r"(?:\bsaya|\bsy|\baku|[,\d)])\Z", before, re.IGNORECASE))
