"""Read a reporter's identity from free text, as citizens actually write it.

A rule-based reader over a label lexicon (:mod:`normalizer.identity_lexicon`): it finds labels
("NIK", "no ktp", "nama", "sy", "almt", "tinggal di", "wa", "surel", ...) in any case, with or
without ``: = . - /`` after them, then reads each value by its own grammar, so a value ends
where its kind of text ends: a NIK after 16 digits, a name at the first word that cannot be a
name, an address at the next label, at a sentence end or where the complaint starts (a
lower-case word after the house number). A 16-digit number that is a valid NIK is taken
wherever it stands; an e-mail signature gives the name, phone and address under the closing.

The reader is pure: it does not validate a NIK or a phone itself but asks the predicates the
caller passes (:func:`normalizer.identity.parse_identity_text` passes the real checks), and it
returns where in the text each value was read (``start``/``end``) so a console can show it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from normalizer.identity_lexicon import (
    ABBREVIATIONS,
    ADDRESS_WORDS,
    AREA_MARKERS,
    CLOSINGS,
    HONORIFICS,
    LABELS,
    NAME_TITLES,
    NOT_NAMES,
    PLACE_NAMES,
    STOP_WORDS,
    STREET_MARKERS,
)

__all__ = ["FieldRead", "IdentityReading", "read_identity_text", "read_lapor"]

IDENTITY_FIELDS = ("nik", "name", "address", "phone", "email")


@dataclass(frozen=True, slots=True)
class FieldRead:
    """One value as written (not yet cleaned) and where it stands: ``text[start:end]``."""

    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class IdentityReading:
    """What was read: identity fields by name, and the complaint text without them."""

    fields: dict[str, FieldRead] = field(default_factory=dict)
    complaint: str = ""


# --------------------------------------------------------------------------- patterns

_LABEL_RE = re.compile(
    r"(?<![\w@.'’/\-])(?:"
    + "|".join(f"(?P<{kind}>{'|'.join(alts)})" for kind, alts in LABELS.items())
    + r")(?![^\W\d_])(?P<sep>[ \t]*(?:[:=/\-–.,][ \t]*)?)",
    re.IGNORECASE,
)
_FILLER_RE = re.compile(r"(?:(?:saya|sy|aku|ku|my|is)\b[ \t]*(?:[:=][ \t]*)?)*", re.IGNORECASE)
_TOKEN_RE = re.compile(r"(?:[^\s,;()\[\]|#!?/]|(?<=\w)/(?=\w))+|[,;()\[\]|#!?/]")
_EMAIL_RE = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")
_NIK_ANYWHERE = re.compile(r"(?<![\d+])(?<!\d[ .\-])\d(?:[ .\-]?\d){15}(?![ .\-]?\d)")
_WORD_RE = re.compile(r"[^\W\d_]+(?:[.'’\-][^\W\d_]+)*\.?")
_DIGITS = re.compile(r"\d+")
_DIGIT_GROUP = re.compile(r"[ .\-]?(\d+)")
_PHONE_GROUP = re.compile(r"[ \t]?[.\-]?[ \t]?(\+?\(?\d+\)?)")
_CLOSING_RE = re.compile(r"^[ \t]*(?:" + "|".join(CLOSINGS) + r")[ \t]*[,.!]*[ \t]*$", re.IGNORECASE | re.MULTILINE)
_TEXT_LABEL_START = re.compile(
    r"^[\s,;.]*(?:" + "|".join(LABELS["text"]) + r")(?![^\W\d_])[ \t]*[:=\-]?[ \t]*", re.IGNORECASE
)
_OTHER_NUMBER_BEFORE = re.compile(
    r"\b(?:rekening|rek|kartu|pelanggan|tiket|resi|invoice|pesanan|order|meter|token|account|card|akun|va)"
    r"\W*(?:[^\W\d_]+\W*)?$",
    re.IGNORECASE,
)
_SEPARATORS = " \t\r\n,;"
_EXPLICIT = frozenset(":=")


@dataclass(frozen=True, slots=True)
class _Label:
    kind: str
    start: int
    value_start: int
    explicit: bool  # followed by ":" or "=": whatever follows is the value


@dataclass(frozen=True, slots=True)
class _Token:
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


class _Reader:
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
        self.complaint_start: int | None = None

    def _label(self, match: re.Match[str]) -> _Label:
        kind = next(k for k in LABELS if match.group(k) is not None)
        explicit = bool(_EXPLICIT & set(match.group("sep")))
        value_start = match.end()
        if kind in IDENTITY_FIELDS:
            value_start = _FILLER_RE.match(self.text, value_start).end()  # type: ignore[union-attr]
        return _Label(kind, match.start(), value_start, explicit)

    # -- tokens --------------------------------------------------------------------------
    def tokens(self, pos: int) -> list[_Token]:
        """The tokens from ``pos`` to the end of its line."""
        end = self.text.find("\n", pos)
        end = len(self.text) if end < 0 else end
        return [_Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(self.text, pos, end)]

    def is_label(self, token: _Token) -> bool:
        return token.start in self.label_starts

    def taken(self, pos: int) -> bool:
        return any(start <= pos < end for start, end in self.spans)

    def take(self, name: str, start: int, end: int, label_start: int | None = None) -> None:
        value = self.text[start:end].strip(" \t,;.")
        end = start + len(self.text[start:end].rstrip(" \t,;."))
        start = end - len(value)
        if value and name not in self.fields:
            self.fields[name] = FieldRead(value, start, end)
            self.spans.append((start if label_start is None else label_start, end))

    # -- values --------------------------------------------------------------------------
    def read_nik(self, pos: int, *, labelled: bool) -> tuple[int, int] | None:
        """Digits in groups ("3271 0115 0890 0001", "3271.01-..."), 16 at most."""
        pos = self._skip_blanks(pos)
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
        pos = self._skip_blanks(pos)
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
        match = _EMAIL_RE.match(self.text, self._skip_blanks(pos))
        return (match.start(), match.end()) if match else None

    def read_name(self, pos: int, *, weak: bool, whole_line: bool = False) -> tuple[int, int] | None:
        """Words that can be a name; stops at a label, digit, punctuation or ordinary word."""
        start = end = None
        count = capitalised = 0
        tokens = self.tokens(pos)
        for token in tokens:
            core = token.core
            if self.is_label(token) or token.has_digit or not _WORD_RE.fullmatch(token.text):
                break
            if start is None and core in HONORIFICS:
                continue
            if core in STOP_WORDS or core in NOT_NAMES or core in STREET_MARKERS or core in AREA_MARKERS:
                break
            upper = token.text[0].isupper()
            if not self.uniform_case and not upper and (weak or capitalised):
                break
            start = token.start if start is None else start
            end = token.end
            count += 1
            capitalised += upper
            if token.ends_sentence and core not in NAME_TITLES:
                end -= 1
                break
            if count >= 5:
                break
        if start is None or end is None:
            return None
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
        return (start, end) if end > start else None

    def _address_start(self, token: _Token, *, kind: str, explicit: bool) -> bool:
        core = token.core
        if token.has_digit or core in STREET_MARKERS or core in AREA_MARKERS or core in PLACE_NAMES:
            return not self.is_label(token)
        if explicit:
            return True
        return kind != "warga" and token.text[0].isupper() and core not in STOP_WORDS and not self.is_label(token)

    def _address_goes_on(self, rest: list[_Token], *, explicit: bool) -> bool:
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

    def _skip_blanks(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in " \t":
            pos += 1
        return pos

    def _warga_allowed(self, label: _Label) -> bool:
        """The word "warga" names the reporter's address only after "saya", a comma, a NIK or a bracket."""
        before = self.text[: label.start].rstrip()
        if any(end == len(before) for _, end in self.spans):
            return True  # right after the name or NIK just read: "sy Reza warga Bantarjati"
        return bool(re.search(r"(?:\bsaya|\bsy|\baku|[,\d)])$", before, re.IGNORECASE))


_LAPOR_RE = re.compile(r"\s*lapor\s*#", re.IGNORECASE)
_HASH_RE = re.compile(r"\s*#\s*")
_EMAIL_ONLY = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def read_lapor(text: str) -> IdentityReading | None:
    """``LAPOR#nik#nama#alamat#[email#]isi``, spaces around ``#`` allowed; None for other text.

    The last part is always the complaint and keeps any ``#`` the citizen wrote in it. Short
    forms (``LAPOR#nik#isi``) fill the fields from the front, so the complaint is never lost.
    """
    match = _LAPOR_RE.match(text)
    if match is None:
        return None
    bounds: list[tuple[int, int]] = []
    pos = match.end()
    for separator in _HASH_RE.finditer(text, pos):
        if len(bounds) == 3:
            break
        bounds.append((pos, separator.start()))
        pos = separator.end()
    rest = (pos, len(text))
    names = ["nik", "name", "address"] if len(bounds) == 3 else ["nik", "name", "address"][: len(bounds)]
    fields: dict[str, FieldRead] = {}
    for name, (start, end) in zip(names, bounds, strict=False):
        value = text[start:end].strip()
        if value:
            lead = len(text[start:end]) - len(text[start:end].lstrip())
            fields[name] = FieldRead(value, start + lead, start + lead + len(value))
    email_end = _HASH_RE.search(text, rest[0]) if len(bounds) == 3 else None
    if email_end is not None:
        candidate = text[rest[0] : email_end.start()].strip()
        if _EMAIL_ONLY.fullmatch(candidate):
            fields["email"] = FieldRead(candidate, rest[0], email_end.start())
            rest = (email_end.end(), len(text))
    return IdentityReading(fields, text[rest[0] : rest[1]].strip())


def read_identity_text(text: str, *, is_nik: Callable[[str], bool], is_phone: Callable[[str], bool]) -> IdentityReading:
    """Read NIK, name, address, phone and e-mail from a message; return them and the complaint.

    ``is_nik`` and ``is_phone`` decide whether a number is a valid NIK / phone number. Values are
    returned as written; cleaning (digits only, E.164) is the caller's. A message in which
    nothing is found comes back unchanged as the complaint.
    """
    reader = _Reader(text, is_nik, is_phone)
    text_label: _Label | None = None
    for label in reader.labels:
        if reader.taken(label.start):
            continue
        if label.kind == "text":
            if text_label is None and (label.explicit or "-" in text[label.start : label.value_start]):
                text_label = label
                reader.spans.append((label.start, label.value_start))
            continue
        _read_labelled(reader, label)
    _read_unlabelled(reader)
    complaint = _complaint(reader, text_label)
    return IdentityReading(dict(reader.fields), complaint)


def _read_labelled(reader: _Reader, label: _Label) -> None:
    kind, pos = label.kind, label.value_start
    if kind == "identity":
        _read_identity_parts(reader, label)
        return
    if kind == "self":
        kind = "name"
    if kind in reader.fields:
        return
    span: tuple[int, int] | None = None
    if kind == "nik":
        span = reader.read_nik(pos, labelled=True)
    elif kind == "phone":
        span = reader.read_phone(pos, explicit=label.explicit)
    elif kind == "email":
        span = reader.read_email(pos)
    elif kind == "name":
        span = reader.read_name(pos, weak=label.kind == "self")
    elif kind == "address":
        word = reader.text[label.start : label.start + 5].lower()
        if word == "warga" and not reader._warga_allowed(label):
            return
        span = reader.read_address(pos, kind="warga" if word == "warga" else "address", explicit=label.explicit)
    if span is not None:
        reader.take(kind, *span, label_start=label.start)


def _read_identity_parts(reader: _Reader, label: _Label) -> None:
    """Read "Identitas: Nama / NIK / Alamat": each part is told by its shape."""
    pos, first = label.value_start, True
    for _ in range(4):
        pos = reader._skip_blanks(pos)
        tokens = reader.tokens(pos)
        if not tokens:
            return
        token = tokens[0]
        if token.has_digit:
            kind, span = "nik", reader.read_nik(pos, labelled=True)
        elif token.core in STREET_MARKERS or token.core in AREA_MARKERS:
            kind, span = "address", reader.read_address(pos, kind="address", explicit=False)
        else:
            kind, span = "name", reader.read_name(pos, weak=False)
        if span is None:
            return
        reader.take(kind, *span, label_start=label.start if first else None)
        first = False
        separator = re.match(r"[ \t]*[/,|][ \t]*", reader.text[span[1] :])
        if separator is None:
            return
        pos = span[1] + separator.end()


def _read_unlabelled(reader: _Reader) -> None:
    """A valid NIK wherever it stands (with the name and street right after it), the signature."""
    text = reader.text
    for match in _NIK_ANYWHERE.finditer(text):
        if "nik" in reader.fields:
            break
        if reader.taken(match.start()) or not reader.is_nik(match.group()):
            continue
        if _OTHER_NUMBER_BEFORE.search(text, max(0, match.start() - 30), match.start()):
            continue  # "no rekening 3271...": a number the citizen calls something else
        reader.take("nik", match.start(), match.end())
        after = match.end()
        if "name" not in reader.fields and (span := reader.read_name(after, weak=True)):
            reader.take("name", *span)
            after = span[1]
        tokens = reader.tokens(after)
        if "address" not in reader.fields and tokens and tokens[0].core in STREET_MARKERS:
            if span := reader.read_address(tokens[0].start, kind="address", explicit=False):
                reader.take("address", *span)
    _read_signature(reader)
    if "email" not in reader.fields:
        found = {m.group().lower(): m for m in _EMAIL_RE.finditer(text) if not reader.taken(m.start())}
        if len(found) == 1:
            match = next(iter(found.values()))
            reader.take("email", match.start(), match.end())


def _read_signature(reader: _Reader) -> None:
    """The lines under "Salam," / "Hormat saya," / "Regards,": name, phone, e-mail, street."""
    text = reader.text
    for closing in _CLOSING_RE.finditer(text):
        pos = closing.end() + 1
        for _ in range(4):
            if pos >= len(text):
                return
            line_end = text.find("\n", pos)
            line_end = len(text) if line_end < 0 else line_end
            line = text[pos:line_end].strip()
            start = pos + len(text[pos:line_end]) - len(text[pos:line_end].lstrip())
            if line and not reader.taken(start):
                _read_signature_line(reader, start, line)
            pos = line_end + 1


def _read_signature_line(reader: _Reader, start: int, line: str) -> None:
    if reader.is_phone(line) and re.fullmatch(r"[\d+()\-. ]+", line):
        reader.take("phone", start, start + len(line))
        return
    if _EMAIL_RE.fullmatch(line):
        reader.take("email", start, start + len(line))
        return
    tokens = reader.tokens(start)
    if tokens and tokens[0].core in STREET_MARKERS:
        if span := reader.read_address(start, kind="address", explicit=False):
            reader.take("address", *span)
        return
    if "name" not in reader.fields and (span := reader.read_name(start, weak=True, whole_line=True)):
        reader.take("name", *span)


def _complaint(reader: _Reader, text_label: _Label | None) -> str:
    """The complaint: after an "Isi:" label up to the next identity label, else what is left."""
    text = reader.text
    if not reader.fields and text_label is None:
        return text
    if text_label is not None:
        later = [start for start, _ in reader.spans if start > text_label.value_start]
        end = min(later, default=len(text))
        return text[text_label.value_start : end].strip(_SEPARATORS)
    pieces, pos = [], 0
    for start, end in sorted(reader.spans):
        if start < pos:
            pos = max(pos, end)
            continue
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    # A complaint label right after a field ("... Jl Pajajaran 10 keluhan lampu mati") is dropped.
    pieces = [pieces[0]] + [_TEXT_LABEL_START.sub("", piece, count=1) for piece in pieces[1:]]
    joined = "".join(piece if i == 0 else " " + piece for i, piece in enumerate(pieces))
    joined = re.sub(r"\(\s*\)|\[\s*\]", " ", joined)
    joined = re.sub(r"[ \t]*([,;.:])(?:[ \t]*[,;.:])+", lambda m: "." if "." in m.group() else m.group(1), joined)
    joined = re.sub(r"[ \t]{2,}", " ", joined)
    lines = joined.replace("\r\n", "\n").split("\n")
    lines = [line.strip(_SEPARATORS).lstrip(". ") for line in lines]
    return "\n".join(line for line in lines if line)
